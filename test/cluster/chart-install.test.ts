import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { PERMANENT_EXIT_CODES } from '../../src/errors.ts';
import { CHART_DIR, COMPLETE, SCENARIOS, helm, scenarioFile, type Scenario } from '../support/helm-chart.ts';
import { clusterEnv, helmInCluster, kubectl, kubectlJson } from '../support/kubectl.ts';

const cluster = inject('cluster');
const RELEASE = 'daily-report';
const namespaceOf = (scenario: Scenario) => `dr-${scenario}`;

/** What each scenario expects to exist before install: the Secrets and ConfigMaps an operator creates. */
const PREREQUISITES: Record<Scenario, string[][]> = {
  defaults: [],
  's3-irsa-kms': [
    ['create', 'secret', 'generic', 'daily-report-db', '--from-literal=db-password=not-a-real-password'],
    ['create', 'configmap', 'app-db-ca', '--from-literal=ca.crt=-----BEGIN CERTIFICATE-----'],
  ],
  'azure-workload-identity': [['create', 'secret', 'generic', 'daily-report-db', '--from-literal=password=not-a-real-password']],
  // Its Secret comes from values (development).
  's3-compatible': [],
  alerts: [
    ['create', 'secret', 'generic', 'daily-report-secrets', '--from-literal=password=p', '--from-literal=azure-storage-connection-string=UseDevelopmentStorage=true', '--from-literal=alert-webhook-url=https://hooks.example.com/T0/B0/x'],
  ],
  sources: [
    ['create', 'secret', 'generic', 'daily-report-pgpass', '--from-literal=pgpass=*:*:app:report_reader:p'],
    ['create', 'configmap', 'app-db-ca', '--from-literal=ca.crt=-----BEGIN CERTIFICATE-----'],
  ],
};

describe.skipIf(!('kubeconfig' in cluster))('the chart on a real kube-apiserver', () => {
  beforeAll(async () => {
    await kubectl(['apply', '-f', resolve(import.meta.dirname, 'fixtures/prometheusrule-crd.yaml')]);
    await kubectl(['wait', '--for=condition=Established', 'crd/prometheusrules.monitoring.coreos.com', '--timeout=30s']);
    for (const scenario of SCENARIOS) {
      const namespace = namespaceOf(scenario);
      await kubectl(['create', 'namespace', namespace]);
      // Pods in these namespaces must pass Pod Security "restricted", enforced by the API server's admission.
      await kubectl(['label', 'namespace', namespace, 'pod-security.kubernetes.io/enforce=restricted', 'pod-security.kubernetes.io/enforce-version=latest']);
      for (const command of PREREQUISITES[scenario]) await kubectl([...command, '-n', namespace]);
    }
  });

  it.each(SCENARIOS)('helm install of the %s scenario is accepted, with every object validated by the server', async (scenario) => {
    const namespace = namespaceOf(scenario);
    const result = await helmInCluster(['install', RELEASE, CHART_DIR, '-n', namespace, '-f', scenarioFile(scenario)]);
    expect(result.ok, result.stderr).toBe(true);
    const cronJob = await kubectlJson(['get', 'cronjob', RELEASE, '-n', namespace]);
    expect(cronJob.spec).toMatchObject({ schedule: '0 1 * * *', concurrencyPolicy: 'Forbid' });
    expect(cronJob.spec.timeZone).toBe(scenario === 's3-irsa-kms' ? 'America/Sao_Paulo' : 'Etc/UTC');
    // What the server stored is what the chart meant: the failure policy survived validation and defaulting.
    expect(cronJob.spec.jobTemplate.spec.podFailurePolicy.rules[0].onExitCodes.values).toEqual([...PERMANENT_EXIT_CODES]);
    if (scenario === 'alerts') {
      const rule = await kubectlJson(['get', 'prometheusrule', RELEASE, '-n', namespace]);
      expect(rule.metadata.labels.release).toBe('kube-prometheus-stack');
      expect(rule.spec.groups[0].rules).toHaveLength(4);
    }
    const notes = await helmInCluster(['get', 'notes', RELEASE, '-n', namespace]);
    expect(notes.stdout).toContain(`kubectl -n ${namespace} create job --from=cronjob/${RELEASE}`);
  });

  it('the pod a Job would start passes Pod Security "restricted" enforcement (and a weakened one is refused)', async () => {
    for (const scenario of SCENARIOS) {
      const namespace = namespaceOf(scenario);
      const cronJob = await kubectlJson(['get', 'cronjob', RELEASE, '-n', namespace]);
      const template = cronJob.spec.jobTemplate.spec.template;
      const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'pss-check', namespace, labels: template.metadata.labels }, spec: template.spec };
      await kubectl(['create', '-f', '-'], JSON.stringify(pod));
      await kubectl(['delete', 'pod', 'pss-check', '-n', namespace, '--wait=false']);
    }
    const cronJob = await kubectlJson(['get', 'cronjob', RELEASE, '-n', namespaceOf('defaults')]);
    const spec = structuredClone(cronJob.spec.jobTemplate.spec.template.spec);
    spec.containers[0].securityContext.allowPrivilegeEscalation = true;
    const weakened = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'pss-weakened', namespace: namespaceOf('defaults') }, spec };
    await expect(kubectl(['create', '-f', '-'], JSON.stringify(weakened))).rejects.toThrow(/violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false/);
  });

  it('kubectl create job --from=cronjob/... creates a Job the server accepts, with the env and mounts intact', async () => {
    const namespace = namespaceOf('s3-irsa-kms');
    await kubectl(['create', 'job', '--from=cronjob/daily-report', 'daily-report-manual-1', '-n', namespace]);
    const [job, cronJob] = await Promise.all([
      kubectlJson(['get', 'job', 'daily-report-manual-1', '-n', namespace]),
      kubectlJson(['get', 'cronjob', RELEASE, '-n', namespace]),
    ]);
    expect(job.metadata.annotations['cronjob.kubernetes.io/instantiate']).toBe('manual');
    expect(job.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'CronJob', name: RELEASE, uid: cronJob.metadata.uid })]);
    const [worker] = job.spec.template.spec.containers;
    const [templateWorker] = cronJob.spec.jobTemplate.spec.template.spec.containers;
    expect(worker.env).toEqual(templateWorker.env);
    expect(worker.volumeMounts).toEqual(templateWorker.volumeMounts);
    expect(job.spec.template.spec.volumes).toEqual(cronJob.spec.jobTemplate.spec.template.spec.volumes);
    expect(job.spec.podFailurePolicy).toEqual(cronJob.spec.jobTemplate.spec.podFailurePolicy);
  });

  it("the dated-rerun pipeline printed in NOTES.txt creates a Job whose worker has REPORT_DATE set", async () => {
    const namespace = namespaceOf('defaults');
    const notes = (await helmInCluster(['get', 'notes', RELEASE, '-n', namespace])).stdout;
    // The lines after "Rerun a given date", with their backslash continuations: run exactly what users copy.
    const block = notes.split('\n\n').find((paragraph) => paragraph.startsWith('Rerun a given date'))!;
    const command = block.split('\n').slice(1).join('\n').replace(/\\\n\s*/g, ' ').trim();
    expect(command).toMatch(/REPORT_DATE=2024-10-05/);
    await promisify(execFile)('bash', ['-o', 'pipefail', '-c', command], { env: { ...process.env, ...clusterEnv() } });
    const job = await kubectlJson(['get', 'job', 'daily-report-20241005', '-n', namespace]);
    const env = Object.fromEntries(job.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value]));
    expect(env.REPORT_DATE).toBe('2024-10-05');
    expect(env.REPORT_TIMEZONE).toBe('Etc/UTC');
    expect(job.metadata.ownerReferences[0].kind).toBe('CronJob');
  });

  it("with alerts on, the worker's ServiceAccount may get Jobs and create Events in its namespace, and nothing else", async () => {
    const namespace = namespaceOf('alerts');
    const serviceAccount = (ns: string) => `system:serviceaccount:${ns}:${RELEASE}`;
    // `kubectl auth can-i` exits 0 for yes and 1 for no: the API server's SubjectAccessReview decides.
    const canI = (ns: string, as: string, ...args: string[]) => kubectl(['auth', 'can-i', ...args, '-n', ns, `--as=${as}`]).then(() => true, () => false);
    const worker = serviceAccount(namespace);
    expect(await canI(namespace, worker, 'get', 'jobs.batch')).toBe(true);
    expect(await canI(namespace, worker, 'create', 'events')).toBe(true);
    expect(await canI(namespace, worker, 'list', 'jobs.batch')).toBe(false);
    expect(await canI(namespace, worker, 'delete', 'jobs.batch')).toBe(false);
    expect(await canI(namespace, worker, 'get', 'secrets')).toBe(false);
    expect(await canI(namespace, worker, 'create', 'pods')).toBe(false);
    expect(await canI('default', worker, 'get', 'jobs.batch')).toBe(false);
    // Without alerts there is no Role at all.
    expect(await canI(namespaceOf('defaults'), serviceAccount(namespaceOf('defaults')), 'get', 'jobs.batch')).toBe(false);
  });

  it('helm upgrade moves an installed release to new values; a changed query shows in the pod template', async () => {
    const namespace = namespaceOf('defaults');
    const before = await kubectlJson(['get', 'cronjob', RELEASE, '-n', namespace]);
    const result = await helmInCluster(['upgrade', RELEASE, CHART_DIR, ...COMPLETE, '-n', namespace, '--set', 'timeZone=America/Sao_Paulo', '--set', 'report.sql=SELECT 1', '--set', 'suspend=true']);
    expect(result.ok, result.stderr).toBe(true);
    const after = await kubectlJson(['get', 'cronjob', RELEASE, '-n', namespace]);
    expect(after.spec.timeZone).toBe('America/Sao_Paulo');
    expect(after.spec.suspend).toBe(true);
    const checksum = (c: any) => c.spec.jobTemplate.spec.template.metadata.annotations['checksum/sql'];
    expect(checksum(after)).not.toBe(checksum(before));
    const sql = await kubectlJson(['get', 'configmap', `${RELEASE}-sql`, '-n', namespace]);
    expect(sql.data['report.sql'].trim()).toBe('SELECT 1');
    const history = JSON.parse((await helmInCluster(['history', RELEASE, '-n', namespace, '-o', 'json'])).stdout);
    expect(history.map((h: any) => h.revision)).toEqual([1, 2]);
  });

  it('Helm 3 installs and upgrades a release too, with the documented ttlSecondsAfterFinished: null', async () => {
    const namespace = 'dr-helm3';
    await kubectl(['create', 'namespace', namespace]);
    const helm3 = (args: string[]) => helm(inject('kubeTools').helm3, args, clusterEnv());
    const installed = await helm3(['install', RELEASE, CHART_DIR, '-n', namespace, '-f', scenarioFile('s3-compatible'), '--set', 'job.ttlSecondsAfterFinished=null']);
    expect(installed.ok, installed.stderr).toBe(true);
    expect((await kubectlJson(['get', 'cronjob', RELEASE, '-n', namespace])).spec.jobTemplate.spec).not.toHaveProperty('ttlSecondsAfterFinished');
    const upgraded = await helm3(['upgrade', RELEASE, CHART_DIR, '-n', namespace, '-f', scenarioFile('s3-compatible'), '--set', 'job.ttlSecondsAfterFinished=604800']);
    expect(upgraded.ok, upgraded.stderr).toBe(true);
    expect((await kubectlJson(['get', 'cronjob', RELEASE, '-n', namespace])).spec.jobTemplate.spec.ttlSecondsAfterFinished).toBe(604_800);
  });

  it("the README's upgrade (--reset-then-reuse-values) keeps the release's values and applies the new ones", async () => {
    const namespace = namespaceOf('s3-irsa-kms');
    // Not --reuse-values: that keeps the installed chart's defaults too, so a value a newer chart adds
    // (and its schema requires) would be missing; this flag starts from the new chart's defaults.
    const result = await helmInCluster(['upgrade', RELEASE, CHART_DIR, '-n', namespace, '--reset-then-reuse-values', '--set', 'image.tag=0.1.1', '--set', 'image.digest=']);
    expect(result.ok, result.stderr).toBe(true);
    const cronJob = await kubectlJson(['get', 'cronjob', RELEASE, '-n', namespace]);
    const [worker] = cronJob.spec.jobTemplate.spec.template.spec.containers;
    expect(worker.image).toBe('123456789012.dkr.ecr.sa-east-1.amazonaws.com/daily-report:0.1.1');
    const env = Object.fromEntries(worker.env.map((e: any) => [e.name, e.value]));
    expect(env).toMatchObject({ AWS_REGION: 'sa-east-1', PGSSLMODE: 'verify-full', REPORT_KEY_TEMPLATE: 'relatorio_{YYYYMMDD}.csv', REPORT_TIMEZONE: 'America/Sao_Paulo' });
  });

  it('an existing Secret without the key the pod mounts is refused at install, naming the keys it has; one not created yet is a warning in NOTES', async () => {
    const namespace = 'dr-secret-keys';
    await kubectl(['create', 'namespace', namespace]);
    await kubectl(['create', 'secret', 'generic', 'daily-report-db', '--from-literal=db-password=not-a-real-password', '-n', namespace]);
    const values = [...COMPLETE, '--set', 'credentials.values.password=', '--set', 'credentials.existingSecret=daily-report-db'];
    for (const binary of [inject('kubeTools').helm, inject('kubeTools').helm3]) {
      const refused = await helm(binary, ['install', RELEASE, CHART_DIR, '-n', namespace, ...values], clusterEnv());
      expect(refused.ok).toBe(false);
      expect(refused.stderr).toContain(`  - credentials.keys.password: Secret daily-report-db in namespace ${namespace} has no key "password", so the pod could not start; its keys: db-password`);
      expect(refused.stderr).not.toContain('not-a-real-password');
    }
    expect((await kubectlJson(['get', 'cronjobs', '-n', namespace])).items).toEqual([]);
    // Not created yet (an operator may create it after the release): installed, with a warning.
    const later = await helmInCluster(['install', RELEASE, CHART_DIR, '-n', namespace, ...values, '--set', 'credentials.existingSecret=created-later']);
    expect(later.ok, later.stderr).toBe(true);
    expect(later.stdout).toContain(`WARNING: Secret created-later does not exist in namespace ${namespace} yet: create it with the key\n"password" before the first run`);
  });

  it('helm install with no values is refused with the list of values to set, and creates nothing', async () => {
    const namespace = 'dr-no-values';
    await kubectl(['create', 'namespace', namespace]);
    const result = await helmInCluster(['install', RELEASE, CHART_DIR, '-n', namespace]);
    expect(result.ok).toBe(false);
    expect(result.stderr).toContain('daily-report cannot be installed with these values');
    for (const value of ['image.repository', 'database.host', 'credentials.existingSecret', 'storage.s3.region']) expect(result.stderr).toContain(`\n  - ${value}: `);
    const releases = await helmInCluster(['list', '-n', namespace, '-q']);
    expect(releases.ok, releases.stderr).toBe(true);
    expect(releases.stdout.trim()).toBe('');
    expect((await kubectlJson(['get', 'cronjobs,secrets,configmaps', '-n', namespace, '-l', `app.kubernetes.io/instance=${RELEASE}`])).items).toEqual([]);
  });
});

/**
 * `helm test` as far as a cluster without a kubelet lets it go: the API server admits the check's pod
 * (Pod Security "restricted" enforced), and the test plays the kubelet by setting the pod's phase, the
 * only thing helm waits for — so helm's verdict on a passed and on a failed check is exercised too.
 */
describe.skipIf(!('kubeconfig' in cluster))('helm test on a real kube-apiserver', () => {
  const namespace = 'dr-helm-test';
  const pod = `${RELEASE}-validate`;

  beforeAll(async () => {
    await kubectl(['create', 'namespace', namespace]);
    await kubectl(['label', 'namespace', namespace, 'pod-security.kubernetes.io/enforce=restricted', 'pod-security.kubernetes.io/enforce-version=latest']);
    const installed = await helmInCluster(['install', RELEASE, CHART_DIR, '-n', namespace, '-f', scenarioFile('s3-compatible')]);
    expect(installed.ok, installed.stderr).toBe(true);
  });

  /** Starts `helm test`, waits for the pod it creates, and returns both. */
  async function startHelmTest() {
    const running = helmInCluster(['test', RELEASE, '-n', namespace, '--timeout', '90s']);
    for (let i = 0; i < 300; i++) {
      const found = await kubectlJson(['get', 'pods', '-n', namespace, '--field-selector', `metadata.name=${pod}`]);
      if (found.items.length === 1 && !found.items[0].metadata.deletionTimestamp) return { running, created: found.items[0] };
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`helm test created no pod ${pod}: ${JSON.stringify(await running)}`);
  }

  const setPhase = (phase: 'Succeeded' | 'Failed') =>
    kubectl(['patch', 'pod', pod, '-n', namespace, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { phase } })]);

  it('creates the validate pod, admitted under Pod Security "restricted", with the nightly pod spec; a passed check passes helm test', async () => {
    const { running, created } = await startHelmTest();
    expect(created.metadata.annotations['helm.sh/hook']).toBe('test');
    const [check] = created.spec.containers;
    expect(check.args).toEqual(['validate']);
    expect(check.image).toBe('registry.example.com/team/daily-report:0.1.0');
    const cronJob = await kubectlJson(['get', 'cronjob', RELEASE, '-n', namespace]);
    const [worker] = cronJob.spec.jobTemplate.spec.template.spec.containers;
    expect(check.env).toEqual(worker.env);
    expect(check.volumeMounts).toEqual(worker.volumeMounts);
    expect(created.spec.volumes).toEqual(cronJob.spec.jobTemplate.spec.template.spec.volumes);
    await setPhase('Succeeded');
    const result = await running;
    expect(result.ok, result.stderr).toBe(true);
    expect(result.stdout).toMatch(new RegExp(`TEST SUITE:\\s+${pod}[\\s\\S]*Phase:\\s+Succeeded`));
  });

  it('a failed check fails helm test, and its pod is kept for kubectl logs', async () => {
    const { running } = await startHelmTest();
    await setPhase('Failed');
    const result = await running;
    expect(result.ok).toBe(false);
    expect(result.stderr).toMatch(new RegExp(`${pod}.*failed|pod ${pod} failed`, 'i'));
    const kept = await kubectlJson(['get', 'pod', pod, '-n', namespace]);
    expect(kept.status.phase).toBe('Failed');
  });
});
