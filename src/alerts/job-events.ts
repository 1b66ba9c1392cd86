import { BatchV1Api, CoreV1Api, KubeConfig, type V1Job } from '@kubernetes/client-node';
import { REPORT_EVENTS } from '../ops/report-run.ts';

/**
 * The worker's own Job, through the ServiceAccount the chart gives it (Role: get jobs, create
 * events): which attempt this is, and Events that record the report's outcome on the Job.
 */
export class OwnJob {
  readonly namespace: string;
  readonly name: string;
  readonly #batch: BatchV1Api;
  readonly #core: CoreV1Api;

  constructor(namespace: string, name: string) {
    this.namespace = namespace;
    this.name = name;
    const config = new KubeConfig();
    // In a pod: the ServiceAccount; elsewhere (tests, a laptop): KUBECONFIG.
    config.loadFromDefault();
    this.#batch = config.makeApiClient(BatchV1Api);
    this.#core = config.makeApiClient(CoreV1Api);
  }

  async read(): Promise<V1Job> {
    return this.#batch.readNamespacedJob({ name: this.name, namespace: this.namespace });
  }

  async recordEvent(job: V1Job, reason: typeof REPORT_EVENTS.published | typeof REPORT_EVENTS.failed, message: string, annotations: Record<string, string>): Promise<void> {
    const now = new Date();
    await this.#core.createNamespacedEvent({
      namespace: this.namespace,
      body: {
        metadata: { generateName: `${this.name}.`, namespace: this.namespace, annotations },
        involvedObject: { apiVersion: 'batch/v1', kind: 'Job', name: this.name, namespace: this.namespace, uid: job.metadata?.uid },
        reason,
        // Event messages are capped at 1 KiB by the API server.
        message: message.slice(0, 1000),
        type: reason === REPORT_EVENTS.failed ? 'Warning' : 'Normal',
        source: { component: 'daily-report' },
        reportingComponent: 'daily-report',
        reportingInstance: process.env.POD_NAME ?? 'daily-report',
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      },
    });
  }
}

/**
 * Whether no retry will follow this attempt: a permanent exit code (the podFailurePolicy fails the
 * Job at once), or the failures so far plus this one exhaust backoffLimit.
 */
export function isFinalAttempt(job: V1Job, exitCode: number, permanent: readonly number[]): { attempt: number; final: boolean } {
  const attempt = (job.status?.failed ?? 0) + 1;
  const backoffLimit = job.spec?.backoffLimit ?? 6;
  return { attempt, final: permanent.includes(exitCode) || attempt > backoffLimit };
}
