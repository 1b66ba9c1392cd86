import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { CHART_DIR, COMPLETE } from '../support/helm-chart.ts';
import { completeJob, failJob, listJobs, startJob } from '../support/job-controller.ts';
import { clusterEnv, helmInCluster, kubectl, kubectlJson } from '../support/kubectl.ts';
import { runDailyReport, type CliOptions, type CliResult } from '../support/run-cli.ts';

const cluster = inject('cluster');
const NS = 'ops';
const POLL = ['--poll-interval', '100ms'];

const cli = (args: string[], env: Record<string, string> = {}, onSpawn?: CliOptions['onSpawn']) =>
  runDailyReport(args, { env: { KUBECONFIG: clusterEnv().KUBECONFIG, HOME: process.env.HOME ?? '/tmp', ...env }, onSpawn });

/** Resolves once the child has written `text` to stderr: the test waits for what the CLI saw, not for a guessed delay. */
function stderrShows(child: ChildProcess, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`the CLI never printed ${JSON.stringify(text)}; it printed:\n${seen}`)), 20_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      seen += chunk.toString('utf8');
      if (seen.includes(text)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

/** Resolves with the first Job for `date` once the CLI created it. */
async function jobFor(date: string, namespace = NS): Promise<string> {
  for (let i = 0; i < 300; i++) {
    const job = (await listJobs(namespace)).find((j) => j.reportDate === date);
    if (job) return job.name;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no Job for ${date} appeared`);
}

const errorOf = (result: CliResult) => result.logs.find((l) => l.level === 'error')?.msg ?? result.stderr;

describe.skipIf(!('kubeconfig' in cluster))('rerun, backfill and status against a real kube-apiserver with the chart installed', () => {
  beforeAll(async () => {
    await kubectl(['create', 'namespace', NS]);
    const result = await helmInCluster(['install', 'daily-report', CHART_DIR, ...COMPLETE, '-n', NS, '--set', 'timeZone=America/Sao_Paulo']);
    expect(result.ok, result.stderr).toBe(true);
  });

  // First, while the CronJob has no Jobs yet.
  it('status says how many days it looked at when there are no runs', async () => {
    const result = await cli(['status', '-n', NS, '--days', '3']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`no runs of CronJob daily-report in ${NS} in the last 3 days\n`);
  });

  it('rerun creates a Job from the CronJob as kubectl does, with REPORT_DATE on the worker and who asked', async () => {
    const result = await cli(['rerun', '--date', '2024-10-05', '-n', NS]);
    expect(result.code, result.stderr).toBe(0);
    const name = await jobFor('2024-10-05');
    expect(name).toMatch(/^daily-report-20241005-[a-z0-9]{5}$/);
    expect(result.stdout).toContain(`job.batch/${name} created in ${NS} for report date 2024-10-05`);
    const [job, cronJob] = await Promise.all([kubectlJson(['get', 'job', name, '-n', NS]), kubectlJson(['get', 'cronjob', 'daily-report', '-n', NS])]);
    expect(job.metadata.ownerReferences).toEqual([{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'daily-report', uid: cronJob.metadata.uid }]);
    expect(job.metadata.annotations).toMatchObject({
      'cronjob.kubernetes.io/instantiate': 'manual',
      'daily-report/report-date': '2024-10-05',
      // From a SelfSubjectReview: the identity the API server authenticated.
      'daily-report/requested-by': 'admin',
    });
    expect(job.metadata.labels).toMatchObject(cronJob.spec.jobTemplate.metadata.labels);
    const templateEnv = cronJob.spec.jobTemplate.spec.template.spec.containers[0].env;
    expect(job.spec.template.spec.containers[0].env).toEqual([...templateEnv, { name: 'REPORT_DATE', value: '2024-10-05' }]);
    expect(job.spec.podFailurePolicy).toEqual(cronJob.spec.jobTemplate.spec.podFailurePolicy);
    expect(job.spec.template.spec.volumes).toEqual(cronJob.spec.jobTemplate.spec.template.spec.volumes);
  });

  it('a long CronJob name still gives a Job name within 63 characters', async () => {
    const long = 'a-cronjob-name-of-fifty-two-characters-for-the-tests';
    await kubectl(['create', 'namespace', 'ops-long']);
    const result = await helmInCluster(['install', 'r', CHART_DIR, ...COMPLETE, '-n', 'ops-long', '--set', `fullnameOverride=${long}`]);
    expect(result.ok, result.stderr).toBe(true);
    const run = await cli(['rerun', '--date', '2024-10-05', '-n', 'ops-long', '--cronjob', long]);
    expect(run.code, run.stderr).toBe(0);
    const name = await jobFor('2024-10-05', 'ops-long');
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toMatch(new RegExp(`^${long.slice(0, 63 - '-20241005-xxxxx'.length)}-20241005-[a-z0-9]{5}$`));
  });

  it('rerun --wait follows the Job to completion and prints the key and rows from its Event', async () => {
    let sawRunning: Promise<void> = Promise.resolve();
    const running = cli(['rerun', '--date', '2024-10-03', '--wait', '-n', NS, ...POLL], {}, (child) => (sawRunning = stderrShows(child, ': running, pod not created yet')));
    const name = await jobFor('2024-10-03');
    await startJob(NS, name);
    await sawRunning;
    await completeJob(NS, name, { key: 'relatorio_20241003.csv', rows: 17_104 });
    const result = await running;
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`${name}: published relatorio_20241003.csv, 17104 rows`);
    // Not a terminal: plain progress lines, one per change.
    expect(result.stderr).toContain(`${name}: pending, pod not created yet`);
    expect(result.stderr).toContain(`${name}: running, pod not created yet`);
  });

  it("rerun --wait exits with the worker's exit code when the Job failed, with the reason", async () => {
    const running = cli(['rerun', '--date', '2024-10-02', '--wait', '-n', NS, ...POLL]);
    const name = await jobFor('2024-10-02');
    await failJob(NS, name, 3);
    const result = await running;
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(new RegExp(`${name}: FAILED — PodFailurePolicy: Container daily-report .* exit code 3`));
  });

  it('backfill --parallel 2 runs one Job per date in date order, never more than two active', async () => {
    const namespace = 'ops-backfill';
    await kubectl(['create', 'namespace', namespace]);
    expect((await helmInCluster(['install', 'daily-report', CHART_DIR, ...COMPLETE, '-n', namespace])).ok).toBe(true);
    const running = cli(['backfill', '--from', '2024-09-01', '--to', '2024-09-05', '--parallel', '2', '-n', namespace, ...POLL]);
    // Play the Job controller and watch how many Jobs are active. The oldest unfinished Job is finished only once the CLI
    // has had its chance to fill both slots (two active, or as many as dates remain), so the test waits for what the CLI
    // does rather than for a guessed delay; after 10 s without a second Job it moves on and the assertion below fails.
    const dates = 5;
    let maxActive = 0;
    let settled = false;
    let waitingSince = Date.now();
    void running.finally(() => (settled = true));
    while (!settled) {
      const jobs = await listJobs(namespace);
      const active = jobs.filter((j) => !j.finished);
      const finished = jobs.length - active.length;
      maxActive = Math.max(maxActive, active.length);
      expect(active.length, 'more Jobs active than --parallel allows').toBeLessThanOrEqual(2);
      const slotsFilled = active.length >= Math.min(2, dates - finished);
      if (active.length > 0 && (slotsFilled || Date.now() - waitingSince > 10_000)) {
        waitingSince = Date.now();
        const oldest = active[0]!;
        if (oldest.reportDate === '2024-09-04') await failJob(namespace, oldest.name, 1);
        else await completeJob(namespace, oldest.name, { key: `relatorio_${oldest.reportDate!.replaceAll('-', '')}.csv`, rows: 10 });
      } else {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const result = await running;
    expect(maxActive).toBe(2);
    const jobs = await listJobs(namespace);
    expect(jobs.map((j) => j.reportDate)).toEqual(['2024-09-01', '2024-09-02', '2024-09-03', '2024-09-04', '2024-09-05']);
    // One day failed (exit 1 after its retries): the summary says which, and backfill exits 1.
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/DATE\s+JOB\s+OUTCOME\s+EXIT/);
    expect(result.stdout).toMatch(/2024-09-04\s+daily-report-20240904-\w{5}\s+failed\s+1/);
    expect(result.stdout.match(/succeeded\s+0/g)).toHaveLength(4);
  });

  it('backfill --missing-only asks the storage which reports are published and skips them', async () => {
    const namespace = 'ops-missing';
    await kubectl(['create', 'namespace', namespace]);
    expect((await helmInCluster(['install', 'daily-report', CHART_DIR, ...COMPLETE, '-n', namespace])).ok).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'daily-report-published-'));
    // Published = the manifest exists (it is written last). A CSV without its manifest is an unfinished night.
    writeFileSync(join(dir, 'relatorio_20240801.csv'), 'x');
    writeFileSync(join(dir, 'relatorio_20240801.csv.manifest.json'), '{}');
    writeFileSync(join(dir, 'relatorio_20240802.csv'), 'x');
    const running = cli(['backfill', '--from', '2024-08-01', '--to', '2024-08-03', '--missing-only', '-n', namespace, ...POLL], { STORAGE_PROVIDER: 'local', LOCAL_STORAGE_DIR: dir });
    for (const date of ['2024-08-02', '2024-08-03']) await completeJob(namespace, await jobFor(date, namespace), { key: `relatorio_${date}.csv`, rows: 1 });
    const result = await running;
    expect(result.code, result.stderr).toBe(0);
    expect((await listJobs(namespace)).map((j) => j.reportDate)).toEqual(['2024-08-02', '2024-08-03']);
    expect(result.stdout).toMatch(/2024-08-01\s+-\s+already published/);
  });

  it('backfill --missing-only finds reports in any compression: switching REPORT_COMPRESSION does not make past days missing', async () => {
    const namespace = 'ops-missing-gz';
    await kubectl(['create', 'namespace', namespace]);
    expect((await helmInCluster(['install', 'daily-report', CHART_DIR, ...COMPLETE, '-n', namespace])).ok).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'daily-report-published-'));
    // Uncompressed before the switch, gzip after it; a .gz without its manifest is an unfinished night.
    writeFileSync(join(dir, 'relatorio_20240801.csv'), 'x');
    writeFileSync(join(dir, 'relatorio_20240801.csv.manifest.json'), '{}');
    writeFileSync(join(dir, 'relatorio_20240802.csv.gz'), 'x');
    writeFileSync(join(dir, 'relatorio_20240802.csv.gz.manifest.json'), '{}');
    writeFileSync(join(dir, 'relatorio_20240803.csv.gz'), 'x');
    const running = cli(['backfill', '--from', '2024-08-01', '--to', '2024-08-03', '--missing-only', '-n', namespace, ...POLL], { STORAGE_PROVIDER: 'local', LOCAL_STORAGE_DIR: dir, REPORT_COMPRESSION: 'gzip' });
    await completeJob(namespace, await jobFor('2024-08-03', namespace), { key: 'relatorio_20240803.csv.gz', rows: 1 });
    const result = await running;
    expect(result.code, result.stderr).toBe(0);
    expect((await listJobs(namespace)).map((j) => j.reportDate)).toEqual(['2024-08-03']);
    expect(result.stdout).toMatch(/2024-08-01\s+-\s+already published/);
    expect(result.stdout).toMatch(/2024-08-02\s+-\s+already published/);
    expect(result.logs.find((l) => l.report_date === '2024-08-01' && l.key)).toMatchObject({ key: 'relatorio_20240801.csv', configured_key: 'relatorio_20240801.csv.gz' });
  });

  it('status lists the runs with trigger, state, rows, key and reason; --output json for scripts', async () => {
    const table = await cli(['status', '-n', NS]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/REPORT DATE\s+JOB\s+TRIGGER\s+STATE\s+STARTED\s+DURATION\s+ROWS\s+KEY\s+REASON/);
    expect(table.stdout).toMatch(/2024-10-03\s+daily-report-20241003-\w{5}\s+manual\s+succeeded\s+\S+\s+\S+\s+17104\s+relatorio_20241003\.csv/);
    const json = await cli(['status', '-n', NS, '--output', 'json']);
    const runs = JSON.parse(json.stdout) as Record<string, unknown>[];
    for (const run of runs) expect(Object.keys(run).sort()).toEqual(['finished_at', 'job', 'key', 'reason', 'report_date', 'rows', 'started_at', 'state', 'trigger']);
    expect(runs.find((r) => r.report_date === '2024-10-03')).toMatchObject({ trigger: 'manual', state: 'succeeded', rows: 17_104, key: 'relatorio_20241003.csv', reason: null });
    expect(runs.find((r) => r.report_date === '2024-10-02')).toMatchObject({ state: 'failed', reason: expect.stringMatching(/^PodFailurePolicy: .*exit code 3/) });
    expect(runs.find((r) => r.report_date === '2024-10-05')).toMatchObject({ state: 'pending', started_at: null, rows: null });
  });

  it('status reads a scheduled Job (created by the CronJob controller) with the report date of its schedule', async () => {
    const cronJob = await kubectlJson(['get', 'cronjob', 'daily-report', '-n', NS]);
    // What the controller creates at 01:00 in America/Sao_Paulo on 2024-10-07: no REPORT_DATE, a scheduled-timestamp annotation.
    await kubectl(['create', '-n', NS, '-f', '-'], JSON.stringify({
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: {
        name: 'daily-report-28806720',
        labels: cronJob.spec.jobTemplate.metadata.labels,
        annotations: { 'batch.kubernetes.io/cronjob-scheduled-timestamp': '2024-10-07T01:00:00-03:00' },
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'daily-report', uid: cronJob.metadata.uid, controller: true }],
      },
      spec: cronJob.spec.jobTemplate.spec,
    }));
    const runs = JSON.parse((await cli(['status', '-n', NS, '-o', 'json'])).stdout) as Record<string, unknown>[];
    expect(runs.find((r) => r.job === 'daily-report-28806720')).toMatchObject({ report_date: '2024-10-07', trigger: 'scheduled' });
  });

  describe('bad input exits 2 naming what is wrong, and creates nothing', () => {
    const jobCount = async () => (await listJobs(NS)).length;

    it.each([
      [['rerun', '--date', '2024-02-30'], /--date: must be a calendar date YYYY-MM-DD .*"2024-02-30"/],
      [['rerun', '--date', '2999-01-01'], /2999-01-01 is in the future/],
      [['backfill', '--from', '2024-10-09', '--to', '2024-10-01'], /--from 2024-10-09 is after --to 2024-10-01/],
      [['backfill', '--from', '2024-01-01', '--to', '2024-03-01'], /the range has 61 days, more than --max-days 31: .*pass --yes/],
      [['rerun', '--date', '2024-10-05', '--cronjob', 'nightly'], /no CronJob nightly in namespace ops; CronJobs there: daily-report/],
      [['rerun', '--date', '2024-10-05', '-n', 'nope'], /namespace nope does not exist; namespaces: .*\bops\b/],
      [['status', '--context', 'staging'], /--context: no context "staging" in the kubeconfig; contexts: test, viewer/],
    ])('%j', async (args, message) => {
      const before = await jobCount();
      const result = await cli([...args, ...(args.includes('-n') ? [] : ['-n', NS])]);
      expect(result.code).toBe(2);
      expect(errorOf(result)).toMatch(message);
      expect(await jobCount()).toBe(before);
    });

    it('without any kubeconfig, says so instead of trying localhost:8080', async () => {
      const result = await runDailyReport(['status'], { env: { HOME: mkdtempSync(join(tmpdir(), 'home-')) } });
      expect(result.code).toBe(2);
      expect(errorOf(result)).toMatch(/no Kubernetes cluster configured: set KUBECONFIG/);
    });
  });

  it('a user without RBAC to create Jobs gets exit 4 naming the verb, resource and namespace', async () => {
    await kubectl(['create', 'role', 'cronjob-reader', '-n', NS, '--verb=get', '--resource=cronjobs.batch']);
    await kubectl(['create', 'rolebinding', 'viewer-reads-cronjobs', '-n', NS, '--role=cronjob-reader', '--user=viewer']);
    const result = await cli(['rerun', '--date', '2024-10-01', '-n', NS, '--context', 'viewer']);
    expect(result.code).toBe(4);
    expect(errorOf(result)).toBe('forbidden: this needs "create" on jobs.batch in namespace ops (check with: kubectl auth can-i create jobs.batch -n ops)');
    const status = await cli(['status', '-n', NS, '--context', 'viewer']);
    expect(status.code).toBe(4);
    expect(errorOf(status)).toMatch(/needs "list" on jobs\.batch in namespace ops/);
  });
});
