import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/loader/load-config.ts';
import { ALL_SETTINGS } from '../../src/loader/settings-spec.ts';
import { CHART_DIR, COMPLETE, helm, type K8sObject, workerContainer } from '../support/helm-chart.ts';

/**
 * The chart and the worker judge every value alike: a value the chart renders is one the worker
 * accepts when the Job runs at 01:00, and a value the worker accepts is one the chart renders. Each
 * case is rendered by the real helm (3 and 4), and the CronJob's environment is handed to the
 * worker's own loader, with the files the pod would mount (the SQL, the Secret's keys) in their
 * place. A secret in a value never reaches helm's message or the rendered manifest.
 */

const HELMS = () => [['Helm 4', inject('kubeTools').helm], ['Helm 3', inject('kubeTools').helm3]] as const;
const SECRET = 'Sup3rSecretMarker';
const scratch = mkdtempSync(join(tmpdir(), 'chart-worker-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Case {
  readonly name: string;
  /** How the value is given to helm. */
  readonly args: readonly string[];
  /** What it is for the worker: the variables it becomes (an `X` replaces the chart's `X_FILE`, but from extraEnv, which adds to the chart's). */
  readonly env: Readonly<Record<string, string>>;
  readonly extraEnv?: true;
}

const CHART_VARIABLE: Record<string, string> = {
  'report.statementTimeout': 'REPORT_STATEMENT_TIMEOUT',
  'report.keyTemplate': 'REPORT_KEY_TEMPLATE',
  'storage.s3.prefix': 'S3_PREFIX',
  'storage.s3.bucket': 'S3_BUCKET',
  'storage.s3.region': 'AWS_REGION',
  'database.host': 'PGHOST',
  'database.name': 'PGDATABASE',
  'telemetry.otlpEndpoint': 'OTEL_EXPORTER_OTLP_ENDPOINT',
  timeZone: 'REPORT_TIMEZONE',
};
// --set-json for every string: --set and --set-string read {…} as a list and a comma as a separator.
const json = (path: string, value: unknown) => ['--set-json', `${path}=${JSON.stringify(value)}`];
const set = (path: string, value: string): Case => ({ name: `${path}=${JSON.stringify(value)}`, args: json(path, value), env: { [CHART_VARIABLE[path]!]: value } });
const endpoint = (value: string): Case => ({
  name: `storage.s3.endpoint=${JSON.stringify(value)}`,
  args: [...json('storage.s3.endpoint', value), '--set', 'storage.s3.sse=none'],
  env: { S3_ENDPOINT: value, S3_SSE: 'none' },
});
const withEndpoint = (region: string): Case => ({
  name: `storage.s3.region=${JSON.stringify(region)} with an endpoint`,
  args: [...json('storage.s3.region', region), '--set', 'storage.s3.endpoint=http://minio.storage:9000', '--set', 'storage.s3.sse=none'],
  env: { AWS_REGION: region, S3_ENDPOINT: 'http://minio.storage:9000', S3_SSE: 'none' },
});
/** Azure with workload identity (an account URL, no connection string): the Azure values alone decide. */
const AZURE = ['--set', 'storage.provider=azure', '--set', 'storage.azure.workloadIdentity.enabled=true', '--set', 'storage.azure.workloadIdentity.clientId=00000000-0000-0000-0000-000000000000'];
const AZURE_ENV = { STORAGE_PROVIDER: 'azure', AZURE_STORAGE_ACCOUNT_URL: 'https://acct.blob.core.windows.net' };
const azure = (path: 'storage.azure.prefix' | 'storage.azure.accountUrl', value: string): Case => ({
  name: `${path}=${JSON.stringify(value)}`,
  args: [...AZURE, ...(path === 'storage.azure.prefix' ? json('storage.azure.accountUrl', AZURE_ENV.AZURE_STORAGE_ACCOUNT_URL) : []), ...json(path, value)],
  env: { ...AZURE_ENV, [path === 'storage.azure.prefix' ? 'AZURE_STORAGE_PREFIX' : 'AZURE_STORAGE_ACCOUNT_URL']: value },
});
const webhook = (value: string): Case => ({
  name: `credentials.values.alertWebhookUrl=${JSON.stringify(value)}`,
  args: ['--set', 'credentials.keys.alertWebhookUrl=alert-webhook-url', ...json('credentials.values.alertWebhookUrl', value)],
  env: { ALERT_WEBHOOK_URL: value },
});
const extraEnv = (name: string, value: string): Case => ({
  name: `extraEnv ${name}=${JSON.stringify(value)}`,
  args: json('extraEnv', [{ name, value }]),
  env: { [name]: value },
  extraEnv: true,
});

const CASES: readonly Case[] = [
  set('report.statementTimeout', '2h'),
  set('report.statementTimeout', '1h30m'),
  set('report.statementTimeout', '24h'),
  set('report.statementTimeout', '100ms'),
  set('report.statementTimeout', '7200000'),
  set('report.statementTimeout', '30d'),
  set('report.statementTimeout', '1d1ms'),
  set('report.statementTimeout', '0.1ms'),
  set('report.statementTimeout', '99'),
  { name: 'report.statementTimeout=7200000 (a YAML number)', args: ['--set-json', 'report.statementTimeout=7200000'], env: { REPORT_STATEMENT_TIMEOUT: '7200000' } },
  set('report.keyTemplate', '{YYYY}/{MM}/relatorio_{YYYYMMDD}.csv'),
  set('report.keyTemplate', 'a/../{YYYYMMDD}.csv'),
  set('report.keyTemplate', './{YYYYMMDD}.csv'),
  set('report.keyTemplate', 'a/./{YYYYMMDD}.csv'),
  set('report.keyTemplate', 'a//{YYYYMMDD}.csv'),
  set('report.keyTemplate', '...{YYYYMMDD}.csv'),
  set('storage.s3.prefix', 'diarios/'),
  set('storage.s3.prefix', 'a/b'),
  set('storage.s3.prefix', '../x/'),
  set('storage.s3.prefix', '/x'),
  set('storage.s3.prefix', 'a//b'),
  set('storage.s3.prefix', 'a/./b/'),
  set('storage.s3.bucket', 'my.bucket-1'),
  set('storage.s3.bucket', 'a..b'),
  set('storage.s3.bucket', 'xn--abc'),
  set('storage.s3.region', 'eu-central-1'),
  set('storage.s3.region', 'eu-central-123'),
  set('storage.s3.region', 'auto'),
  withEndpoint('auto'),
  withEndpoint('garage'),
  withEndpoint('us-east-1'),
  withEndpoint('Bad Region'),
  endpoint('http://minio.storage:9000'),
  endpoint('http://minio.storage:99999'),
  endpoint(`https://user:${SECRET}@minio.storage:9000`),
  endpoint(`https://minio.storage:9000/?X-Amz-Signature=${SECRET}`),
  azure('storage.azure.prefix', 'diarios/'),
  azure('storage.azure.prefix', '../other/'),
  azure('storage.azure.prefix', 'a//b/'),
  azure('storage.azure.accountUrl', 'https://acct.blob.core.windows.net'),
  azure('storage.azure.accountUrl', `https://acct.blob.core.windows.net/?sv=2024-11-04&sig=${SECRET}`),
  azure('storage.azure.accountUrl', `https://acct:${SECRET}@acct.blob.core.windows.net`),
  azure('storage.azure.accountUrl', 'https://acct.blob.core.windows.net:70000'),
  set('database.host', 'app-db.prod.svc.cluster.local'),
  set('database.host', '/var/run/postgresql'),
  set('database.host', `postgres://report_reader:${SECRET}@db/app`),
  set('database.host', `report_reader:${SECRET}@db`),
  set('database.host', 'h1,h2'),
  set('database.host', 'db host'),
  set('database.name', 'app'),
  set('database.name', `postgresql://report_reader:${SECRET}@db/app`),
  set('database.name', 'dbname=app host=other'),
  set('telemetry.otlpEndpoint', 'http://otel-collector.monitoring:4318'),
  set('telemetry.otlpEndpoint', `https://user:${SECRET}@otel:4318`),
  set('telemetry.otlpEndpoint', `https://otel:4318/v1?token=${SECRET}`),
  set('telemetry.otlpEndpoint', 'http://otel:99999'),
  set('telemetry.otlpEndpoint', 'http://otel collector:4318'),
  webhook(`https://hooks.slack.com/services/T0/B0/${SECRET}`),
  webhook(`ftp://hooks.example.com/${SECRET}`),
  webhook(`http://hooks.example.com:99999/${SECRET}`),
  webhook(`https://hooks example.com/${SECRET}`),
  set('timeZone', 'America/Sao_Paulo'),
  set('timeZone', 'Etc/GMT+3'),
  set('timeZone', 'Factory'),
  set('timeZone', 'localtime'),
  set('timeZone', 'posixrules'),
  set('timeZone', 'posix/America/Sao_Paulo'),
  set('timeZone', 'right/UTC'),
  extraEnv('S3_PART_SIZE_MB', '16'),
  extraEnv('PGPASSWORD', 'a-password-of-some-length'),
  extraEnv('PGHOST_FILE', '/etc/other/host'),
];

type Verdict = { accepts: true } | { accepts: false; message: string };

async function chartVerdict(binary: string, args: readonly string[]): Promise<{ verdict: Verdict; objects: K8sObject[]; text: string }> {
  const result = await helm(binary, ['template', 'r', CHART_DIR, ...COMPLETE, ...args]);
  if (!result.ok) return { verdict: { accepts: false, message: result.stderr }, objects: [], text: '' };
  const objects = parseAllDocuments(result.stdout).map((d) => d.toJS() as K8sObject | null).filter((o): o is K8sObject => o !== null);
  return { verdict: { accepts: true }, objects, text: result.stdout };
}

let run = 0;
/** The worker's loader on the CronJob's environment, with the pod's mounted files in place. */
async function workerVerdict(objects: readonly K8sObject[], overrides: Readonly<Record<string, string>> = {}, extraEnv = false): Promise<Verdict> {
  const cronJob = objects.find((o) => o.kind === 'CronJob')!;
  const secretData: Record<string, string> = objects.find((o) => o.kind === 'Secret')?.data ?? {};
  const dir = join(scratch, String(run++));
  const env: Record<string, string> = {};
  for (const variable of workerContainer(cronJob).env as { name: string; value?: string }[]) {
    if (variable.value === undefined) {
      env[variable.name] = 'from-the-downward-api';
      continue;
    }
    let value = variable.value;
    if (value.startsWith('/etc/daily-report/') || variable.name === 'REPORT_SPILL_DIR') {
      const local = join(dir, value);
      mkdirSync(resolve(local, '..'), { recursive: true });
      if (variable.name === 'REPORT_SPILL_DIR') mkdirSync(local, { recursive: true });
      else if (variable.name === 'REPORT_SQL_FILE') copyFileSync(join(CHART_DIR, 'files/report.sql'), local);
      else {
        const key = value.split('/').pop()!;
        writeFileSync(local, key in secretData ? Buffer.from(secretData[key]!, 'base64') : 'a-mounted-secret-value');
        chmodSync(local, 0o400);
      }
      value = local;
    }
    env[variable.name] = value;
  }
  for (const [name, value] of Object.entries(overrides)) {
    if (!extraEnv) delete env[`${name}_FILE`];
    env[name] = value;
  }
  try {
    await loadConfig(env, { now: new Date('2026-06-15T12:00:00Z') });
    return { accepts: true };
  } catch (error) {
    return { accepts: false, message: (error as Error).message };
  }
}

const judge = (v: Verdict) => (v.accepts ? 'accepts' : 'refuses');
const problemsOf = (message: string) => message.split('\n').slice(1).join(' ').replace(/\s+/g, ' ').trim();

describe("extraEnv and the worker's secret settings", () => {
  it('refuses a literal value for every setting the spec marks secret (it would sit in the manifest), naming it without its value', async () => {
    const secrets = ALL_SETTINGS.filter((s) => s.secret).map((s) => s.name);
    expect(secrets.length).toBeGreaterThan(0);
    for (const name of secrets) {
      const result = await helm(inject('kubeTools').helm, ['template', 'r', CHART_DIR, ...COMPLETE, ...json('extraEnv', [{ name, value: `x-${SECRET}` }])]);
      expect(result.ok, name).toBe(false);
      expect(result.stderr, name).toContain(`extraEnv gives ${name} a literal value`);
      expect(result.stderr, name).not.toContain(SECRET);
      // From a Secret it is the operator's choice (e.g. OTEL_EXPORTER_OTLP_HEADERS, which has no _FILE form).
      const fromSecret = await helm(inject('kubeTools').helm, ['template', 'r', CHART_DIR, ...COMPLETE, ...json('extraEnv', [{ name, valueFrom: { secretKeyRef: { name: 'otel', key: 'headers' } } }])]);
      expect(fromSecret.stderr, name).not.toContain('a literal value');
    }
  });
});

describe('the chart and the worker', () => {
  const disagreements: string[] = [];
  const leaks: string[] = [];

  beforeAll(async () => {
    const baseline = (await chartVerdict(inject('kubeTools').helm, [])).objects;
    for (const [label, binary] of HELMS()) {
      for (const c of CASES) {
        const chart = await chartVerdict(binary, c.args);
        // The worker's verdict on the value itself, and (when the chart renders) on what the chart rendered.
        const worker = await workerVerdict(baseline, c.env, c.extraEnv);
        const rendered = chart.verdict.accepts ? await workerVerdict(chart.objects) : undefined;
        if (worker.accepts !== chart.verdict.accepts) {
          disagreements.push(`${label} ${c.name}: the worker ${judge(worker)} it, the chart ${judge(chart.verdict)} it${worker.accepts ? '' : ` (worker: ${problemsOf(worker.message)})`}`);
        } else if (rendered !== undefined && !rendered.accepts) {
          disagreements.push(`${label} ${c.name}: the chart renders an environment the worker refuses: ${problemsOf(rendered.message)}`);
        }
        if (c.args.some((a) => a.includes(SECRET))) {
          if (!chart.verdict.accepts && chart.verdict.message.includes(SECRET)) leaks.push(`${label} ${c.name}: helm's message`);
          // The chart-created Secret holds credentials.values (development only); nothing else may.
          if (JSON.stringify(chart.objects.filter((o) => o.kind !== 'Secret')).includes(SECRET)) leaks.push(`${label} ${c.name}: the rendered manifest`);
        }
      }
    }
  }, 300_000);

  it('refuse and accept the same values: nothing the chart renders is refused by the worker at 01:00, nothing the worker takes is refused by the chart', () => {
    expect(disagreements).toEqual([]);
  });

  it("never put a secret given in a value into helm's message or into a manifest other than the Secret", () => {
    expect(leaks).toEqual([]);
  });
});
