import { existsSync, readFileSync } from 'node:fs';
import { ApiException, BatchV1Api, CoreV1Api, AuthenticationV1Api, KubeConfig, type CoreV1Event, type V1CronJob, type V1Job, type V1Pod } from '@kubernetes/client-node';
import { AccessWasDenied, ConfigurationIsInvalid, TransientFailure, isCertificateError, messageOf } from '../errors.ts';

/**
 * The cluster side of the operations commands: the CronJob, the Jobs it owns, their pods and the
 * Events on them, through `@kubernetes/client-node`. Every API failure becomes one of the
 * product's errors naming what is needed: a missing permission says which verb on which resource.
 */

export interface ClusterOptions {
  /** A kubeconfig context; default: the current one (in a pod: the ServiceAccount). */
  readonly context?: string | undefined;
  /** Default: the context's namespace, in a pod its own, else `default`. */
  readonly namespace?: string | undefined;
}

const IN_CLUSTER_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

export class ReportJobs {
  readonly namespace: string;
  readonly server: string;
  readonly #batch: BatchV1Api;
  readonly #core: CoreV1Api;
  readonly #auth: AuthenticationV1Api;

  private constructor(config: KubeConfig, namespace: string) {
    this.namespace = namespace;
    this.server = config.getCurrentCluster()?.server ?? 'the cluster';
    this.#batch = config.makeApiClient(BatchV1Api);
    this.#core = config.makeApiClient(CoreV1Api);
    this.#auth = config.makeApiClient(AuthenticationV1Api);
  }

  /** Reads the kubeconfig (KUBECONFIG, ~/.kube/config, or in-cluster); contacts nothing. */
  static fromKubeconfig(options: ClusterOptions): ReportJobs {
    const config = new KubeConfig();
    // Without any of these, client-node silently falls back to http://localhost:8080; say what is missing instead.
    const home = process.env.HOME ?? '';
    if (!process.env.KUBECONFIG && !existsSync(`${home}/.kube/config`) && !process.env.KUBERNETES_SERVICE_HOST) {
      throw new ConfigurationIsInvalid(['no Kubernetes cluster configured: set KUBECONFIG, create ~/.kube/config, or run in a pod'], { phase: 'cli' });
    }
    config.loadFromDefault();
    if (options.context !== undefined) {
      const known = config.getContexts().map((c) => c.name);
      if (!known.includes(options.context)) {
        throw new ConfigurationIsInvalid([`--context: no context ${JSON.stringify(options.context)} in the kubeconfig; contexts: ${known.join(', ') || '(none)'}`], { phase: 'cli' });
      }
      config.setCurrentContext(options.context);
    }
    if (config.getCurrentCluster() === null) {
      throw new ConfigurationIsInvalid([`the kubeconfig's context ${JSON.stringify(config.getCurrentContext())} names no cluster`], { phase: 'cli' });
    }
    const fromContext = config.getContextObject(config.getCurrentContext())?.namespace;
    const inCluster = existsSync(IN_CLUSTER_NAMESPACE) ? readFileSync(IN_CLUSTER_NAMESPACE, 'utf8').trim() : undefined;
    return new ReportJobs(config, options.namespace ?? fromContext ?? inCluster ?? 'default');
  }

  /** The CronJob; when it does not exist, an error naming the CronJobs (or namespaces) that do. */
  async cronJob(name: string): Promise<V1CronJob> {
    try {
      return await this.#batch.readNamespacedCronJob({ name, namespace: this.namespace });
    } catch (error) {
      if (!(error instanceof ApiException) || error.code !== 404) throw this.#explain(error, 'get', 'cronjobs.batch');
    }
    const namespaceExists = await this.#core.readNamespace({ name: this.namespace }).then(
      () => true,
      (error: unknown) => (error instanceof ApiException && error.code === 404 ? false : undefined),
    );
    if (namespaceExists === false) {
      const names = await this.#core.listNamespace().then((list) => list.items.map((n) => n.metadata!.name!), () => undefined);
      throw new ConfigurationIsInvalid([`--namespace: namespace ${this.namespace} does not exist${names ? `; namespaces: ${names.join(', ')}` : ''}`], { phase: 'cluster' });
    }
    const cronJobs = await this.#batch.listNamespacedCronJob({ namespace: this.namespace }).then((list) => list.items.map((c) => c.metadata!.name!), () => undefined);
    const there = cronJobs === undefined ? '' : cronJobs.length === 0 ? ' (there are no CronJobs there: is the chart installed in this namespace?)' : `; CronJobs there: ${cronJobs.join(', ')}`;
    throw new ConfigurationIsInvalid([`--cronjob: no CronJob ${name} in namespace ${this.namespace}${there}`], { phase: 'cluster' });
  }

  async createJob(job: V1Job): Promise<V1Job> {
    return this.#batch.createNamespacedJob({ namespace: this.namespace, body: job }).catch((error: unknown) => {
      throw this.#explain(error, 'create', 'jobs.batch');
    });
  }

  async job(name: string): Promise<V1Job> {
    return this.#batch.readNamespacedJob({ name, namespace: this.namespace }).catch((error: unknown) => {
      throw this.#explain(error, 'get', 'jobs.batch');
    });
  }

  /** The Jobs the CronJob owns (scheduled, kubectl-created and ours alike), newest first. */
  async jobsOf(cronJob: V1CronJob): Promise<V1Job[]> {
    const list = await this.#batch.listNamespacedJob({ namespace: this.namespace }).catch((error: unknown) => {
      throw this.#explain(error, 'list', 'jobs.batch');
    });
    return list.items
      .filter((job) => job.metadata?.ownerReferences?.some((o) => o.kind === 'CronJob' && o.uid === cronJob.metadata?.uid))
      .sort((a, b) => new Date(b.metadata!.creationTimestamp!).getTime() - new Date(a.metadata!.creationTimestamp!).getTime());
  }

  async podsOf(jobName: string): Promise<V1Pod[]> {
    const list = await this.#core.listNamespacedPod({ namespace: this.namespace, labelSelector: `batch.kubernetes.io/job-name=${jobName}` }).catch((error: unknown) => {
      throw this.#explain(error, 'list', 'pods');
    });
    return list.items;
  }

  /** Events about Jobs in the namespace (the worker's ReportPublished / ReportFailed among them). */
  async jobEvents(): Promise<CoreV1Event[]> {
    const list = await this.#core.listNamespacedEvent({ namespace: this.namespace, fieldSelector: 'involvedObject.kind=Job' }).catch((error: unknown) => {
      throw this.#explain(error, 'list', 'events');
    });
    return list.items;
  }

  /** Who the cluster says we are (SelfSubjectReview needs no permission); for the Job's annotation. */
  async whoAmI(): Promise<string> {
    try {
      const review = await this.#auth.createSelfSubjectReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } });
      return review.status?.userInfo?.username ?? 'unknown';
    } catch {
      return process.env.USER ?? 'unknown';
    }
  }

  #explain(error: unknown, verb: string, resource: string): Error {
    if (error instanceof ApiException) {
      if (error.code === 401) return new AccessWasDenied(`${this.server} rejected the kubeconfig's credentials (401): log in again or pick another --context`, { phase: 'cluster', cause: error });
      if (error.code === 403) {
        return new AccessWasDenied(
          `forbidden: this needs "${verb}" on ${resource} in namespace ${this.namespace} (check with: kubectl auth can-i ${verb} ${resource} -n ${this.namespace})`,
          { phase: 'cluster', cause: error, context: { verb, resource, namespace: this.namespace } },
        );
      }
      if (error.code === 404) return new ConfigurationIsInvalid([`${resource}: not found in namespace ${this.namespace} (${apiMessage(error)})`], { phase: 'cluster', cause: error });
      if (error.code === 422 || error.code === 400) return new ConfigurationIsInvalid([`the API server refused the ${resource}: ${apiMessage(error)}`], { phase: 'cluster', cause: error });
      return new TransientFailure(`${verb} ${resource} failed with HTTP ${error.code}: ${apiMessage(error)}`, { phase: 'cluster', cause: error });
    }
    if (isCertificateError(error)) return new AccessWasDenied(`the certificate of ${this.server} cannot be verified: ${messageOf(error)}`, { phase: 'cluster', cause: error });
    return new TransientFailure(`cannot reach ${this.server}: ${messageOf(error)}`, { phase: 'cluster', cause: error });
  }
}

function apiMessage(error: ApiException<unknown>): string {
  try {
    return (JSON.parse(String(error.body)) as { message?: string }).message ?? String(error.body);
  } catch {
    return String(error.body);
  }
}
