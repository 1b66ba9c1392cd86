import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CHART_DIR, COMPLETE } from '../support/helm-chart.ts';
import { clusterEnv, helmInCluster, kubectl, kubectlJson } from '../support/kubectl.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';
import { startWebhookReceiver } from '../support/webhook-receiver.ts';

const cluster = inject('cluster');
const NS = 'alerts';

/**
 * The worker inside Kubernetes: it authenticates as the chart's ServiceAccount (a token from the
 * TokenRequest API), reads its own Job and records Events on it — proving the Role sufficient —
 * and alerts once per failed report: on the attempt no retry will follow.
 */
describe.skipIf(!('kubeconfig' in cluster))('alerts from inside the cluster, as the chart ServiceAccount', () => {
  let db: TestDatabase;
  let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let saKubeconfig: string;
  let jobCount = 0;

  beforeAll(async () => {
    await kubectl(['create', 'namespace', NS]);
    const installed = await helmInCluster(['install', 'daily-report', CHART_DIR, ...COMPLETE, '-n', NS, '--set', 'alerts.kubernetes.enabled=true']);
    expect(installed.ok, installed.stderr).toBe(true);
    const token = (await kubectl(['create', 'token', 'daily-report', '-n', NS])).trim();
    const admin = JSON.parse(readFileSync(clusterEnv().KUBECONFIG!, 'utf8'));
    admin.users = [{ name: 'worker', user: { token } }];
    admin.contexts = [{ name: 'worker', context: { cluster: 'test', user: 'worker', namespace: NS } }];
    admin['current-context'] = 'worker';
    db = await createTestDatabase('incluster', { users: 20, transactions: 500, days: 3, until: "'2024-10-06 00:00:00-03'::timestamptz" });
    saKubeconfig = join(db.outDir, '..', `sa-kubeconfig-${Date.now()}`);
    writeFileSync(saKubeconfig, JSON.stringify(admin));
    receiver = await startWebhookReceiver();
  });
  afterAll(() => receiver?.stop());

  /** A Job as the CronJob would create it, whose earlier attempts failed `failed` times. */
  async function jobWithFailures(failed: number): Promise<string> {
    const name = `daily-report-attempts-${++jobCount}`;
    await kubectl(['create', 'job', `--from=cronjob/daily-report`, name, '-n', NS]);
    if (failed > 0) {
      await kubectl(['patch', 'job', name, '-n', NS, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { startTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), failed, active: 0 } })]);
    }
    return name;
  }

  const worker = (job: string, env: Record<string, string>) =>
    runDailyReport(['run', '--date', '2024-10-05'], {
      env: {
        ...db.env,
        KUBECONFIG: saKubeconfig,
        HOME: process.env.HOME ?? '/tmp',
        JOB_NAME: job,
        POD_NAMESPACE: NS,
        CRONJOB_NAME: 'daily-report',
        ALERT_KUBERNETES_EVENTS: 'true',
        ALERT_WEBHOOK_URL: `${receiver.url}/hook`,
        ...env,
      },
    });

  const eventsOn = async (job: string) =>
    (await kubectlJson(['get', 'events', '-n', NS, '--field-selector', `involvedObject.name=${job}`])).items as { reason: string; message: string; metadata: { annotations?: Record<string, string> } }[];

  it('a transient failure with retries left: no webhook and no Event (Kubernetes will retry)', async () => {
    receiver.requests.length = 0;
    const job = await jobWithFailures(1); // backoffLimit 3: this is attempt 2 of 4
    const result = await worker(job, { PGPORT: '1' });
    expect(result.code).toBe(1);
    expect(receiver.requests).toHaveLength(0);
    expect(await eventsOn(job)).toEqual([]);
    expect(result.logs.find((l) => l.msg === 'not alerting: Kubernetes will retry this Job')).toMatchObject({ attempt: 2 });
  });

  it('the last attempt the backoffLimit allows: one webhook and one ReportFailed Event', async () => {
    receiver.requests.length = 0;
    const job = await jobWithFailures(3);
    const result = await worker(job, { PGPORT: '1' });
    expect(result.code).toBe(1);
    expect(receiver.requests.map((r) => r.body)).toEqual([
      expect.objectContaining({ event: 'report.failed', attempt: 4, final: true, exit_code: 1, error_class: 'TransientFailure', rerun_command: `daily-report rerun --date 2024-10-05 --wait -n ${NS} --cronjob daily-report` }),
    ]);
    const events = await eventsOn(job);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ reason: 'ReportFailed', metadata: { annotations: { 'daily-report/error-class': 'TransientFailure', 'daily-report/phase': 'connect' } } });
  });

  it('a permanent failure (exit 2) alerts on the first attempt', async () => {
    receiver.requests.length = 0;
    const job = await jobWithFailures(0);
    const result = await worker(job, { PGDATABASE: '' });
    expect(result.code).toBe(2);
    expect(receiver.requests.map((r) => r.body)).toEqual([expect.objectContaining({ attempt: 1, final: true, exit_code: 2 })]);
    expect((await eventsOn(job)).map((e) => e.reason)).toEqual(['ReportFailed']);
  });

  it('a published report records ReportPublished with key and rows, which `daily-report status` shows', async () => {
    receiver.requests.length = 0;
    const job = await jobWithFailures(0);
    const result = await worker(job, {});
    expect(result.code, result.stderr).toBe(0);
    const rows = result.logs.find((l) => l.phase === 'summary')!.rows as number;
    expect(receiver.requests).toHaveLength(0);
    const [event] = await eventsOn(job);
    expect(event).toMatchObject({ reason: 'ReportPublished', metadata: { annotations: { 'daily-report/key': 'relatorio_20241005.csv', 'daily-report/rows': String(rows) } } });
    const status = await runDailyReport(['status', '-n', NS, '-o', 'json'], { env: { KUBECONFIG: clusterEnv().KUBECONFIG, HOME: process.env.HOME ?? '/tmp' } });
    expect((JSON.parse(status.stdout) as Record<string, unknown>[]).find((r) => r.job === job)).toMatchObject({ rows, key: 'relatorio_20241005.csv' });
  });

  it('a compressed report records its .csv.gz key, which `daily-report status` shows', async () => {
    const job = await jobWithFailures(0);
    const result = await worker(job, { REPORT_COMPRESSION: 'gzip', REPORT_IF_EXISTS: 'overwrite' });
    expect(result.code, result.stderr).toBe(0);
    const [event] = await eventsOn(job);
    expect(event).toMatchObject({ reason: 'ReportPublished', metadata: { annotations: { 'daily-report/key': 'relatorio_20241005.csv.gz' } } });
    const status = await runDailyReport(['status', '-n', NS, '-o', 'json'], { env: { KUBECONFIG: clusterEnv().KUBECONFIG, HOME: process.env.HOME ?? '/tmp' } });
    expect((JSON.parse(status.stdout) as Record<string, unknown>[]).find((r) => r.job === job)).toMatchObject({ state: expect.any(String), key: 'relatorio_20241005.csv.gz' });
  });

  it('an API server that refuses (no Role) never changes the exit code', async () => {
    const job = await jobWithFailures(0);
    await kubectl(['delete', 'rolebinding', 'daily-report', '-n', NS]);
    try {
      const result = await worker(job, {});
      expect(result.code).toBe(0);
      expect(result.logs.some((l) => l.level === 'warn' && /cannot read our own Job/.test(l.msg))).toBe(true);
    } finally {
      await helmInCluster(['upgrade', 'daily-report', CHART_DIR, ...COMPLETE, '-n', NS, '--set', 'alerts.kubernetes.enabled=true']);
    }
  });
});
