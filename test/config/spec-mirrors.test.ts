import { readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import type { Setting } from '../../src/config/setting.ts';
import { configurationReference } from '../../src/loader/configuration-reference.ts';
import { loadStorageConfig } from '../../src/loader/load-config.ts';
import { CHART_SETTINGS_FILE, chartSettingsFile } from '../../src/loader/chart-settings-file.ts';
import { ALL_SETTINGS, KNOWN_VARIABLES, OWN_PREFIXES } from '../../src/loader/settings-spec.ts';
import { CHART_DIR, SCENARIOS, only, renderChart, scenarioFile, workerContainer } from '../support/helm-chart.ts';

/**
 * The settings spec is the source of truth; these are its mirrors. Each test fails when a mirror
 * drifts (the chart offering `sslMode: prefer`, which the worker refuses at 01:00 with exit 2).
 */

const ROOT = resolve(import.meta.dirname, '../..');
const SETTING = new Map(ALL_SETTINGS.map((s) => [s.name, s]));
const setting = (name: string): Setting => SETTING.get(name) ?? expect.fail(`${name} is not in the spec`);

describe('docs/configuration.md', () => {
  it('is the reference generated from the spec (run `npm run docs:config` after changing a setting)', () => {
    expect(readFileSync(resolve(ROOT, 'docs/configuration.md'), 'utf8')).toBe(configurationReference());
  });

  it('lists every setting of the spec, its _FILE form where it has one', () => {
    const reference = configurationReference();
    for (const name of KNOWN_VARIABLES) expect(reference).toContain(`\`${name}\``);
  });
});

describe('the chart’s copy of the worker’s variable names', () => {
  it('is the list the spec gives (run `npm run docs:config` after changing a setting)', () => {
    expect(readFileSync(resolve(ROOT, CHART_SETTINGS_FILE), 'utf8')).toBe(chartSettingsFile());
  });
});

describe('the README and docs/', () => {
  const documents = ['README.md', ...readdirSync(resolve(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

  it('name no variable of ours that the spec does not know', () => {
    const unknown: string[] = [];
    for (const document of documents) {
      const text = readFileSync(resolve(ROOT, document), 'utf8');
      for (const [, name] of text.matchAll(/`([A-Z][A-Z0-9_]{1,}[A-Z0-9])(?:=[^`]*)?`/g)) {
        if (OWN_PREFIXES.some((prefix) => name!.startsWith(prefix)) && !KNOWN_VARIABLES.includes(name!)) unknown.push(`${document}: ${name}`);
      }
    }
    expect(unknown).toEqual([]);
  });

  it('give, in any table row for a setting, the default the spec has', () => {
    const wrong: string[] = [];
    for (const document of documents) {
      for (const [, name, shown] of readFileSync(resolve(ROOT, document), 'utf8').matchAll(/^\| `([A-Z][A-Z0-9_]+)`[^|]*\| ([^|]+) \|/gm)) {
        const s = SETTING.get(name!);
        if (s === undefined) continue;
        const expected = s.defaultDoc ?? (s.required !== undefined ? '*(required)*' : s.defaultText === undefined ? '*(none)*' : `\`${s.defaultText}\``);
        if (shown!.trim() !== expected) wrong.push(`${document}: ${name} shows ${shown!.trim()}, the spec says ${expected}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});

/** values.schema.json properties that are settings, by the variable the chart renders them into. */
const CHART_SETTINGS: Record<string, string> = {
  '.timeZone': 'REPORT_TIMEZONE',
  '.database.sslMode': 'PGSSLMODE',
  '.credentials.values.alertWebhookUrl': 'ALERT_WEBHOOK_URL',
  '.report.ifExists': 'REPORT_IF_EXISTS',
  '.report.keyTemplate': 'REPORT_KEY_TEMPLATE',
  '.report.compression': 'REPORT_COMPRESSION',
  '.report.statementTimeout': 'REPORT_STATEMENT_TIMEOUT',
  '.storage.provider': 'STORAGE_PROVIDER',
  '.storage.s3.bucket': 'S3_BUCKET',
  '.storage.s3.region': 'AWS_REGION',
  '.storage.s3.endpoint': 'S3_ENDPOINT',
  '.storage.s3.sse': 'S3_SSE',
  '.storage.s3.checksumAlgorithm': 'S3_CHECKSUM_ALGORITHM',
  '.storage.azure.accountUrl': 'AZURE_STORAGE_ACCOUNT_URL',
  '.storage.azure.container': 'AZURE_STORAGE_CONTAINER',
  '.alerts.webhook.format': 'ALERT_WEBHOOK_FORMAT',
  '.telemetry.otlpEndpoint': 'OTEL_EXPORTER_OTLP_ENDPOINT',
  '.telemetry.protocol': 'OTEL_EXPORTER_OTLP_PROTOCOL',
  '.log.level': 'LOG_LEVEL',
  // Each service is one name of REPORT_SOURCES and one section of the pg_service.conf the worker reads.
  '.sources.services[].name': 'REPORT_SOURCES',
  '.sources.services[].host': 'PGHOST',
  '.sources.services[].dbname': 'PGDATABASE',
  '.sources.services[].user': 'PGUSER',
  '.sources.services[].sslMode': 'PGSSLMODE',
};
/** Constrained properties that are not worker settings (Kubernetes fields, chart-only values). */
const CHART_ONLY = [
  '.fullnameOverride', '.image.repository', '.image.tag', '.image.digest', '.image.pullPolicy', '.schedule', '.storage.s3.roleArn', '.storage.azure.workloadIdentity.clientId',
  '.alerts.prometheusRule.runbookUrl', '.resources.requests.cpu', '.resources.requests.memory', '.resources.requests.ephemeral-storage',
  '.resources.limits.cpu', '.resources.limits.memory', '.resources.limits.ephemeral-storage', '.extraEnv[].name', '.spill.sizeLimit',
  '.sources.pgpass.key', '.nameOverride', '.imagePullSecrets[].name', '.serviceAccount.name', '.alerts.grafanaDashboard.label',
  '.alerts.grafanaDashboard.labelValue',
];

/** Values the worker and the chart must judge alike, per variable (the spec's default is added to each). */
const SAMPLES: Record<string, string[]> = {
  REPORT_TIMEZONE: ['America/Sao_Paulo', 'Etc/GMT+3', 'Mars/Olympus', 'America/Argentina/Buenos_Aires', 'Sao Paulo', '/etc/localtime'],
  REPORT_KEY_TEMPLATE: ['relatorio_{YYYYMMDD}.csv', 'diarios/{YYYY}/{MM}/{DD}.csv', 'r_{YYYYMMDD}/', '/r_{YYYYMMDD}.csv', 'relatorio.csv', 'a\\{YYYYMMDD}.csv'],
  REPORT_STATEMENT_TIMEOUT: ['2h', '90s', '1h30m', '500ms', '7200000', '30d', 'forever', '2 hours', '-1s'],
  S3_BUCKET: ['my.bucket-1', 'Bad_Bucket', 'ab', '-bucket'],
  AWS_REGION: ['sa-east-1', 'us-gov-west-1', 'Sao Paulo', 'sa-east1'],
  S3_ENDPOINT: ['http://127.0.0.1:9000', 'https://s3.example.com/base', 'minio:9000', 'http://minio:Secret99@127.0.0.1:9000', 'https://s3.example.com/?X-Amz-Signature=1'],
  AZURE_STORAGE_ACCOUNT_URL: ['https://myaccount.blob.core.windows.net', 'https://a.blob.core.windows.net/?sv=2024&sig=abc', 'ftp://a.example.com'],
  AZURE_STORAGE_CONTAINER: ['reports', 'a-b-c', 'a--b', 'ab', 'Reports'],
  ALERT_WEBHOOK_URL: ['https://hooks.slack.com/services/T0/B0/x', 'not a url'],
  OTEL_EXPORTER_OTLP_ENDPOINT: ['http://otel-collector:4318', 'grpc://otel-collector:4317'],
  REPORT_SOURCES: ['eu', 'app.eu-1', '_x', '-eu', '.eu', 'eu west', '[eu]', 'x'.repeat(63), 'x'.repeat(64)],
  PGHOST: ['db-eu.internal', '10.0.0.1', '::1', '/var/run/postgresql', 'postgres://u:Pw@db/app', 'postgres://db', 'u@db', 'h1,h2', 'a b'],
  PGDATABASE: ['app', 'app_eu', 'host=db dbname=x', 'postgres://db/app', 'postgresql:///app'],
  PGUSER: ['report_reader', 'Report Reader', 'reader@corp'],
};
/**
 * What the schema leaves to the chart's templates (templates/_worker-rules.tpl), which
 * test/chart/chart-worker-agreement.test.ts holds to the worker by rendering each value and loading
 * the result: duration bounds, a region whose form depends on the endpoint, and URLs carrying
 * credentials (a schema pattern would quote them in Helm 4's message). A zone the zone database
 * lacks is refused by the API server (spec.timeZone).
 */
const KNOWN_GAPS = new Set([
  'REPORT_TIMEZONE=Mars/Olympus',
  'REPORT_STATEMENT_TIMEOUT=30d',
  'AWS_REGION=sa-east1',
  'S3_ENDPOINT=http://minio:Secret99@127.0.0.1:9000',
  'S3_ENDPOINT=https://s3.example.com/?X-Amz-Signature=1',
  'AZURE_STORAGE_ACCOUNT_URL=https://a.blob.core.windows.net/?sv=2024&sig=abc',
]);

/**
 * The worker's verdict on a value. AWS_REGION's parse takes any server's region name; the AWS form
 * is checked with the provider (no S3_ENDPOINT), which is where the chart's pattern must not be looser.
 */
async function workerAccepts(name: string, value: string): Promise<boolean> {
  if (name === 'AWS_REGION') return loadStorageConfig({ STORAGE_PROVIDER: 's3', AWS_REGION: value }).then(() => true, () => false);
  return setting(name).parse(value).ok;
}

/** values.schema.json integer properties that are settings, by the variable the chart renders them into. */
const CHART_INTEGER_SETTINGS: Record<string, string> = { '.database.port': 'PGPORT', '.parallelism': 'REPORT_PARALLELISM' };

type PropertySchema = {
  type?: string | string[];
  minimum?: number;
  maximum?: number;
  enum?: unknown[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  anyOf?: PropertySchema[];
  allOf?: PropertySchema[];
  properties?: Record<string, PropertySchema>;
  items?: PropertySchema;
};

function constrainedProperties(schema: PropertySchema, path = ''): [string, PropertySchema][] {
  const here: [string, PropertySchema][] = schema.enum !== undefined || schema.pattern !== undefined ? [[path, schema]] : [];
  const children = Object.entries(schema.properties ?? {}).flatMap(([key, child]) => constrainedProperties(child, `${path}.${key}`));
  return [...here, ...children, ...(schema.items ? constrainedProperties(schema.items, `${path}[]`) : [])];
}

/** The string keywords the chart uses (enum, pattern, lengths, anyOf, allOf), as JSON Schema reads them. */
function chartAccepts(schema: PropertySchema, value: string): boolean {
  if (schema.enum !== undefined && !schema.enum.includes(value)) return false;
  if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) return false;
  if (value.length < (schema.minLength ?? 0) || value.length > (schema.maxLength ?? Infinity)) return false;
  if (schema.anyOf !== undefined && !schema.anyOf.some((alternative) => chartAccepts(alternative, value))) return false;
  return (schema.allOf ?? []).every((part) => chartAccepts(part, value));
}

describe("the chart's values.schema.json", () => {
  const schema = JSON.parse(readFileSync(resolve(CHART_DIR, 'values.schema.json'), 'utf8')) as PropertySchema;
  const properties = constrainedProperties(schema);

  it('classifies every enum and pattern: a worker setting (mapped to its variable) or chart-only', () => {
    const unclassified = properties.map(([path]) => path).filter((path) => !(path in CHART_SETTINGS) && !CHART_ONLY.includes(path));
    expect(unclassified).toEqual([]);
    // The settings whose drift the review found must stay constrained.
    for (const path of ['.database.sslMode', '.storage.provider', '.log.level']) expect(properties.some(([p]) => p === path), path).toBe(true);
  });

  it("offers in each enum only values the worker accepts (no sslMode: prefer)", () => {
    const refused: string[] = [];
    for (const [path, property] of properties) {
      const name = CHART_SETTINGS[path];
      if (name === undefined || property.enum === undefined) continue;
      for (const value of property.enum) if (!setting(name).parse(String(value)).ok) refused.push(`${path}: ${String(value)} (${name} refuses it)`);
    }
    expect(refused).toEqual([]);
  });

  it('judges sample values as the worker does, but for what a schema cannot say', async () => {
    const disagreements: string[] = [];
    for (const [path, property] of properties) {
      const name = CHART_SETTINGS[path];
      if (name === undefined || property.pattern === undefined) continue;
      const s = setting(name);
      for (const value of [...(SAMPLES[name] ?? expect.fail(`no samples for ${name}`)), ...(s.defaultText === undefined ? [] : [s.defaultText])]) {
        const worker = await workerAccepts(name, value);
        const chart = chartAccepts(property, value);
        if (worker !== chart && !KNOWN_GAPS.has(`${name}=${value}${worker ? ' ok' : ''}`)) {
          disagreements.push(`${path} ${JSON.stringify(value)}: the worker ${worker ? 'accepts' : 'refuses'} it, the chart ${chart ? 'accepts' : 'refuses'} it`);
        }
      }
    }
    expect(disagreements).toEqual([]);
  });
});

describe("the chart's integer values", () => {
  const schema = JSON.parse(readFileSync(resolve(CHART_DIR, 'values.schema.json'), 'utf8')) as PropertySchema;
  const integers = (node: PropertySchema, path = ''): [string, PropertySchema][] => [
    ...(node.type === 'integer' ? [[path, node] as [string, PropertySchema]] : []),
    ...Object.entries(node.properties ?? {}).flatMap(([key, child]) => integers(child, `${path}.${key}`)),
  ];

  it('accept only numbers the worker accepts: both ends of each range parse, and a bounded setting has both ends', () => {
    const found = integers(schema).filter(([path]) => path in CHART_INTEGER_SETTINGS);
    expect(found.map(([path]) => path)).toEqual(Object.keys(CHART_INTEGER_SETTINGS));
    const refused: string[] = [];
    for (const [path, property] of found) {
      const name = CHART_INTEGER_SETTINGS[path]!;
      // Without a bound the chart lets any number through; the worker's ranges are all bounded.
      for (const end of [property.minimum ?? Number.MIN_SAFE_INTEGER, property.maximum ?? Number.MAX_SAFE_INTEGER]) {
        if (!setting(name).parse(String(end)).ok) refused.push(`${path}: ${end} (${name} refuses it)`);
      }
    }
    expect(refused).toEqual([]);
  });
});

describe('the environment the chart renders', () => {
  it('names only variables the spec knows, with values the worker accepts, in every CI scenario', async () => {
    const problems: string[] = [];
    for (const scenario of SCENARIOS) {
      const cronJob = only((await renderChart(inject('kubeTools').helm, ['-f', scenarioFile(scenario)])).objects, 'CronJob');
      for (const variable of workerContainer(cronJob).env as { name: string; value?: string }[]) {
        const name = variable.name.replace(/_FILE$/, '');
        const s = SETTING.get(variable.name) ?? (variable.name.endsWith('_FILE') && SETTING.get(name)?.fromFile ? SETTING.get(name) : undefined);
        if (s === undefined) problems.push(`${scenario}: ${variable.name} is not a setting`);
        else if (typeof variable.value === 'string' && variable.value !== '' && s === SETTING.get(variable.name) && s.source === 'value' && !s.parse(variable.value).ok) {
          problems.push(`${scenario}: ${variable.name}=${JSON.stringify(variable.value)} is refused by the worker`);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});
