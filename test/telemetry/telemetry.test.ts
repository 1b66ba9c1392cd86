import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type Server, type Socket } from 'node:net';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../support/child-processes.ts';
import { received, type ReceivedSpan } from '../support/otel-collector.ts';
import { queryFile, filesIn } from '../support/report-files.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { sourcesEnvironment } from '../support/source-files.ts';
import { createTestDatabase, READER_PASSWORD, type TestDatabase } from '../support/test-database.ts';
import { METRIC, SPAN } from '../../src/telemetry/names.ts';

const collector = inject('collector');
const REPORT_DATE = ['--date', '2024-10-05'];
const PHASES = [SPAN.config, SPAN.lock, SPAN.connect, SPAN.extract, SPAN.upload, SPAN.manifest];
const ERROR = 2; // OTLP status code

/** Waits for the collector's file exporter to write what the run exported: its root span and its runs metric. */
async function receivedFor(testId: string, until: (spans: ReceivedSpan[]) => boolean) {
  const output = (collector as { output: string }).output;
  for (let i = 0; i < 100; i++) {
    const got = received(output, testId);
    if (until(got.spans) && got.metrics.some((m) => m.name === METRIC.runs)) return got;
    await new Promise((r) => setTimeout(r, 100));
  }
  return received(output, testId);
}

describe.skipIf(!('endpoint' in collector))('traces and metrics, received by a real OpenTelemetry Collector', () => {
  let db: TestDatabase;
  const otel = (testId: string, extra: Record<string, string> = {}) => ({
    OTEL_EXPORTER_OTLP_ENDPOINT: (collector as { endpoint: string }).endpoint,
    OTEL_RESOURCE_ATTRIBUTES: `test.id=${testId},k8s.namespace.name=reports,k8s.job.name=daily-report-28806720,k8s.cronjob.name=daily-report`,
    ...extra,
  });

  beforeAll(async () => {
    db = await createTestDatabase('telemetry', { users: 50, transactions: 3_000, days: 3, until: "'2024-10-06 00:00:00-03'::timestamptz" });
  });

  it('a published run is one trace: the root span with the run facts and a child span per phase', async () => {
    const testId = randomUUID();
    const result = await runDailyReport(['run', ...REPORT_DATE], { env: { ...db.env, ...otel(testId) } });
    expect(result.code, result.stderr).toBe(0);
    const { spans, metrics } = await receivedFor(testId, (s) => s.some((x) => x.name === SPAN.run));

    const root = spans.find((s) => s.name === SPAN.run)!;
    expect(root.parentSpanId).toBe('');
    expect(root.status.code ?? 0).not.toBe(ERROR);
    const summary = result.logs.find((l) => l.phase === 'summary')!;
    expect(root.attributes).toMatchObject({
      'daily_report.report_date': '2024-10-05',
      'daily_report.window.start': summary.window_start,
      'daily_report.window.end': summary.window_end,
      'daily_report.storage.provider': 'local',
      'daily_report.storage.key': 'relatorio_20241005.csv',
      'daily_report.rows': summary.rows,
      'daily_report.bytes': summary.bytes,
      'daily_report.sha256': summary.sha256,
      'daily_report.outcome': 'published',
      'daily_report.if_exists': 'overwrite',
      'daily_report.exit_code': 0,
    });
    expect(summary.rows).toBeGreaterThan(0);
    for (const phase of PHASES) {
      const span = spans.find((s) => s.name === phase);
      expect(span, phase).toBeDefined();
      expect(span!.traceId).toBe(root.traceId);
      expect(span!.parentSpanId, `${phase} is a child of the run`).toBe(root.spanId);
    }
    // The manifest names the run's trace (it was always null: issue 13, failure 5).
    const manifest = JSON.parse(readFileSync(join(db.outDir, 'relatorio_20241005.csv.manifest.json'), 'utf8'));
    expect(manifest.trace_id).toBe(root.traceId);
    expect(manifest.run_id).toBe(summary.run_id);
    const extract = spans.find((s) => s.name === SPAN.extract)!;
    expect(extract.attributes).toMatchObject({ 'db.system.name': 'postgresql', 'db.namespace': db.name, 'daily_report.rows': summary.rows });
    // The SQL file's text, with its :named parameters — never their values.
    expect(extract.attributes['db.query.text']).toBe(readFileSync(new URL('../../sql/report.sql', import.meta.url), 'utf8'));
    expect(JSON.stringify(spans)).not.toContain(READER_PASSWORD);
    expect(root.resource).toMatchObject({
      'service.name': 'daily-report',
      'service.version': expect.stringMatching(/^\d+\.\d+\.\d+/),
      'k8s.namespace.name': 'reports',
      'k8s.job.name': 'daily-report-28806720',
      'k8s.cronjob.name': 'daily-report',
    });

    // Every log line written during the run carries the trace, for the jump from logs to Tempo.
    const during = result.logs.filter((l) => l.run_id !== undefined);
    expect(during.length).toBeGreaterThan(2);
    for (const line of during) expect(line.trace_id, line.msg).toBe(root.traceId);

    const metric = (name: string) => metrics.find((m) => m.name === name);
    expect(metric(METRIC.runs)?.points).toEqual([expect.objectContaining({ attributes: { 'daily_report.outcome': 'published' }, value: 1 })]);
    expect(metric(METRIC.rows)?.points[0]?.value).toBe(summary.rows);
    expect(metric(METRIC.bytes)?.points[0]?.value).toBe(summary.bytes);
    expect(metric(METRIC.lastSuccess)?.points[0]?.attributes).toEqual({ 'daily_report.report_date': '2024-10-05' });
    const phases = metric(METRIC.phaseDuration)?.points.map((p) => p.attributes['daily_report.phase']);
    expect(phases).toEqual(expect.arrayContaining(PHASES));
  });

  it('a report from two databases names both, in order, on the connect span, and no single db.namespace', async () => {
    const testId = randomUUID();
    const other = await createTestDatabase('telemetry_us', { users: 10, transactions: 200, days: 1, until: "'2024-10-05 00:00:00-03'::timestamptz" });
    const { host, port } = db.endpoint;
    const services = [{ name: 'eu', host, port, dbname: db.name }, { name: 'us', host, port, dbname: other.name }];
    const env = await sourcesEnvironment(db.env, db.outDir, services, { user: 'report_reader', password: READER_PASSWORD });
    const result = await runDailyReport(['run', ...REPORT_DATE], { env: { ...env, ...otel(testId) } });
    expect(result.code, result.stderr).toBe(0);
    const { spans } = await receivedFor(testId, (s) => s.some((x) => x.name === SPAN.run));
    const connect = spans.find((s) => s.name === SPAN.connect)!;
    expect(connect.attributes['daily_report.sources']).toEqual([`eu ${host}:${port}/${db.name}`, `us ${host}:${port}/${other.name}`]);
    expect(connect.attributes).toMatchObject({ 'db.system.name': 'postgresql' });
    expect(connect.attributes).not.toHaveProperty('db.namespace');
    expect(connect.attributes).not.toHaveProperty('server.address');
    expect(JSON.stringify(spans)).not.toContain(READER_PASSWORD);
  });

  it('a failed run marks the failing span and the root ERROR with the exception, error class and exit code', async () => {
    const testId = randomUUID();
    const sqlFile = await queryFile(db.outDir, 'missing', `SELECT now() AS data_extracao, 'x' AS nome_usuario, 1 AS id_transacao, 2 AS valor_transacao`);
    const result = await runDailyReport(['run', ...REPORT_DATE], { env: { ...db.env, REPORT_SQL_FILE: sqlFile, ...otel(testId) } });
    expect(result.code).toBe(3);
    const { spans, metrics } = await receivedFor(testId, (s) => s.some((x) => x.name === SPAN.run));
    const root = spans.find((s) => s.name === SPAN.run)!;
    expect(root.status.code).toBe(ERROR);
    expect(root.attributes).toMatchObject({ 'daily_report.error.class': 'ReportContractViolated', 'daily_report.exit_code': 3 });
    expect(root.events.find((e) => e.name === 'exception')?.attributes['exception.message']).toMatch(/status_transacao/);
    const failing = spans.filter((s) => s.name !== SPAN.run && s.status.code === ERROR);
    expect(failing.map((s) => s.name)).toContain(SPAN.extract);
    expect(metrics.find((m) => m.name === METRIC.runs)?.points[0]?.attributes).toEqual({ 'daily_report.outcome': 'failed', 'daily_report.error.class': 'ReportContractViolated' });
    expect(metrics.find((m) => m.name === METRIC.lastSuccess)).toBeUndefined();
  });

  it('a run killed with SIGTERM still exports its spans before exiting 143', async () => {
    const testId = randomUUID();
    const sqlFile = await queryFile(db.outDir, 'slow', `
      SELECT :extracted_at::timestamptz AS data_extracao, 'n' || g AS nome_usuario, g AS id_transacao, g * 0.01 AS valor_transacao,
             CASE WHEN g % 1000 = 0 THEN (SELECT 'ok' FROM pg_sleep(0.1 + g * 0)) ELSE 'ok' END AS status_transacao
      FROM generate_series(1, 50000) AS g`);
    let child: { kill(signal: NodeJS.Signals): boolean } | undefined;
    const running = runDailyReport(['run', ...REPORT_DATE], { env: { ...db.env, REPORT_SQL_FILE: sqlFile, ...otel(testId) }, onSpawn: (c) => (child = c) });
    for (let i = 0; i < 200 && !(await filesIn(db.outDir)).some((f) => f.endsWith('.partial')); i++) await new Promise((r) => setTimeout(r, 50));
    child!.kill('SIGTERM');
    const result = await running;
    expect(result.code).toBe(143);
    const { spans } = await receivedFor(testId, (s) => s.some((x) => x.name === SPAN.run));
    const root = spans.find((s) => s.name === SPAN.run)!;
    expect(root.status.code).toBe(ERROR);
    expect(root.attributes['daily_report.error.class']).toBe('RunWasTerminated');
  });

  it('OTEL_TRACES_SAMPLER=always_off keeps spans home while the run metrics still arrive', async () => {
    const testId = randomUUID();
    const result = await runDailyReport(['run', ...REPORT_DATE], { env: { ...db.env, ...otel(testId, { OTEL_TRACES_SAMPLER: 'always_off' }) } });
    expect(result.code, result.stderr).toBe(0);
    const { spans, metrics } = await receivedFor(testId, () => true);
    expect(metrics.find((m) => m.name === METRIC.runs)?.points[0]?.attributes).toEqual({ 'daily_report.outcome': 'published' });
    expect(spans).toEqual([]);
  });

  it('http/json is honoured as OTEL_EXPORTER_OTLP_PROTOCOL', async () => {
    const testId = randomUUID();
    const result = await runDailyReport(['run', ...REPORT_DATE], { env: { ...db.env, ...otel(testId, { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }) } });
    expect(result.code, result.stderr).toBe(0);
    const { spans } = await receivedFor(testId, (s) => s.some((x) => x.name === SPAN.run));
    expect(spans.map((s) => s.name)).toEqual(expect.arrayContaining([SPAN.run, ...PHASES]));
  });

  describe('a tracing backend that is down never changes the outcome nor delays exit beyond TELEMETRY_FLUSH_TIMEOUT', () => {
    const bound = { TELEMETRY_FLUSH_TIMEOUT: '1s', OTEL_EXPORTER_OTLP_TIMEOUT: '60000' };

    it('nothing listening on the endpoint', async () => {
      const endpoint = `http://127.0.0.1:${await freePort()}`;
      const started = Date.now();
      const result = await runDailyReport(['run', ...REPORT_DATE], { env: { ...db.env, ...bound, OTEL_EXPORTER_OTLP_ENDPOINT: endpoint } });
      expect(result.code, result.stderr).toBe(0);
      expect(Date.now() - started).toBeLessThan(10_000);
    });

    it('an endpoint that accepts connections and never answers (without the bound the exporter would wait 60 s)', async () => {
      const sockets: Socket[] = [];
      const blackHole: Server = createServer((socket) => sockets.push(socket));
      const port = await freePort();
      await new Promise<void>((r) => blackHole.listen(port, '127.0.0.1', r));
      try {
        const started = Date.now();
        const result = await runDailyReport(['run', ...REPORT_DATE], { env: { ...db.env, ...bound, OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` } });
        expect(result.code, result.stderr).toBe(0);
        expect(sockets.length, 'the exporter did try to send').toBeGreaterThan(0);
        expect(Date.now() - started).toBeLessThan(10_000);
      } finally {
        for (const socket of sockets) socket.destroy();
        blackHole.close();
      }
    });
  });

  it('without an endpoint nothing is exported and nothing is said about it', async () => {
    const result = await runDailyReport(['run', ...REPORT_DATE], { env: { ...db.env } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).not.toMatch(/otel|otlp|opentelemetry|export/i);
    expect(result.logs.every((l) => l.trace_id === undefined)).toBe(true);
  });
});
