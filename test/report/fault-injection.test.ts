import { spawn } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../support/child-processes.ts';
import { received } from '../support/otel-collector.ts';
import { errorOf, filesIn, queryFile } from '../support/report-files.ts';
import { MAIN, runDailyReport } from '../support/run-cli.ts';
import { TcpFaultProxy } from '../support/tcp-fault-proxy.ts';
import { createTestDatabase, sql, type TestDatabase } from '../support/test-database.ts';
import { startWebhookReceiver } from '../support/webhook-receiver.ts';

/**
 * Faults the earlier suites did not inject (issue "failure semantics"): each ends in a clear error,
 * the documented exit code, and nothing under the report's final name.
 */
const REPORT_DATE = ['--date', '2024-10-05'];
const FINAL = ['relatorio_20241005.csv', 'relatorio_20241005.csv.manifest.json'];
const published = async (db: TestDatabase) => (await filesIn(db.outDir)).filter((name) => FINAL.includes(name));

describe('fault injection', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase('faults', { users: 200, transactions: 60_000, days: 2, until: "'2024-10-05 00:00:00-03'::timestamptz" });
  });

  it('a database host that does not resolve: exit 1 naming the host, nothing published', async () => {
    const result = await runDailyReport(['run', ...REPORT_DATE], { env: { ...db.env, PGHOST: 'db.does-not-exist.invalid' } });
    expect(result.code).toBe(1);
    expect(errorOf(result).msg).toMatch(/db\.does-not-exist\.invalid:\d+/);
    expect(await published(db)).toEqual([]);
  });

  it('a database that accepts the connection and never answers: exit 1 after PGCONNECT_TIMEOUT, naming host:port', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    const port = await freePort();
    await new Promise<void>((r) => silent.listen(port, '127.0.0.1', r));
    try {
      const started = Date.now();
      const result = await runDailyReport(['run', ...REPORT_DATE], { env: { ...db.env, PGHOST: '127.0.0.1', PGPORT: String(port), PGCONNECT_TIMEOUT: '1' } });
      expect(result.code).toBe(1);
      expect(errorOf(result).msg).toMatch(new RegExp(`127\\.0\\.0\\.1:${port}`));
      expect(errorOf(result).msg).toMatch(/timeout|timed out/i);
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
    }
  });

  it('the network drops mid-stream (a TCP reset between job and database): exit 1, nothing published, a retry succeeds', async () => {
    const endpoint = inject('postgres');
    const proxy = await TcpFaultProxy.start({ host: endpoint.host, port: endpoint.port }, 200_000);
    try {
      const result = await runDailyReport(['run', ...REPORT_DATE], { env: { ...db.env, PGHOST: '127.0.0.1', PGPORT: String(proxy.port) } });
      expect(result.code).toBe(1);
      expect(proxy.relayed).toBeGreaterThan(200_000);
      expect(await published(db)).toEqual([]);
      expect((await filesIn(db.outDir)).filter((name) => name.includes('relatorio'))).toEqual([]);
    } finally {
      await proxy.close();
    }
    const retry = await runDailyReport(['run', ...REPORT_DATE], { env: db.env });
    expect(retry.code, retry.stderr).toBe(0);
    expect(await published(db)).toEqual(FINAL);
  });

  it('a hot-standby recovery conflict (SQLSTATE 40001) mid-stream: exit 1, retried by Kubernetes', async () => {
    // What a standby raises when replay cancels the query; raised here by the server itself, mid-stream.
    await sql(db, `CREATE OR REPLACE FUNCTION conflict_at(n bigint) RETURNS text LANGUAGE plpgsql AS $$
      BEGIN IF n = 5000 THEN RAISE EXCEPTION 'canceling statement due to conflict with recovery' USING ERRCODE = '40001'; END IF; RETURN 'ok'; END $$;
      GRANT EXECUTE ON FUNCTION conflict_at(bigint) TO report_reader`);
    const sqlFile = await queryFile(db.outDir, 'conflict', `SELECT :extracted_at::timestamptz AS data_extracao, 'n' AS nome_usuario, g AS id_transacao,
      g * 0.01 AS valor_transacao, conflict_at(g) AS status_transacao FROM generate_series(1, 10000) AS g`);
    const result = await runDailyReport(['run', ...REPORT_DATE], { env: { ...db.env, REPORT_SQL_FILE: sqlFile, REPORT_IF_EXISTS: 'overwrite', LOCAL_STORAGE_DIR: `${db.outDir}/conflict` } });
    expect(result.code).toBe(1);
    expect(errorOf(result).msg).toMatch(/conflict with recovery \(SQLSTATE 40001\)/);
    expect(errorOf(result).err.class).toBe('TransientFailure');
  });

  it('SIGKILL mid-upload (no chance to clean up): nothing under the final name', async () => {
    const dir = `${db.outDir}/killed`;
    const sqlFile = await queryFile(db.outDir, 'slow-kill', `
      SELECT :extracted_at::timestamptz AS data_extracao, 'n' || g AS nome_usuario, g AS id_transacao, g * 0.01 AS valor_transacao,
             CASE WHEN g % 1000 = 0 THEN (SELECT 'ok' FROM pg_sleep(0.1 + g * 0)) ELSE 'ok' END AS status_transacao
      FROM generate_series(1, 50000) AS g`);
    const child = spawn(process.execPath, [MAIN, 'run', ...REPORT_DATE], {
      env: { PATH: process.env.PATH, ...db.env, LOCAL_STORAGE_DIR: dir, REPORT_SQL_FILE: sqlFile, LOG_FORMAT: 'json' },
      stdio: 'ignore',
    });
    const exited = new Promise((r) => child.once('exit', r));
    for (let i = 0; i < 200 && !(await filesIn(dir).catch(() => [])).some((f) => f.endsWith('.partial')); i++) await new Promise((r) => setTimeout(r, 50));
    child.kill('SIGKILL');
    await exited;
    const left = await filesIn(dir);
    expect(left.filter((name) => FINAL.includes(name))).toEqual([]);
    // The temporary file stays (nothing ran to remove it); a reader never mistakes it for the report.
    // So does the run's lock, until it expires (docs/publishing.md, "The lock").
    expect(left.every((name) => name.endsWith('.partial') || name === 'relatorio_20241005.csv.lock')).toBe(true);
    expect(left).toContain('relatorio_20241005.csv.lock');
  });

  it('no log line, error, span or webhook payload of a failing run contains a secret', async () => {
    const collector = inject('collector');
    const receiver = await startWebhookReceiver();
    const secrets = { password: 'pw-SECRET-3f9e1c', hookToken: 'HOOK-SECRET-77aa', otlpToken: 'OTLP-SECRET-51bd' };
    const testId = `secrets-${Date.now()}`;
    try {
      const telemetry: Record<string, string> =
        'endpoint' in collector
          ? { OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint, OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer ${secrets.otlpToken}`, OTEL_RESOURCE_ATTRIBUTES: `test.id=${testId}` }
          : {};
      const env = { ...db.env, ...telemetry, ALERT_WEBHOOK_URL: `${receiver.url}/hooks/${secrets.hookToken}` };
      const scenarios = [
        await runDailyReport(['run', ...REPORT_DATE], { env: { ...env, PGPASSWORD: secrets.password } }), // wrong password
        await runDailyReport(['run', ...REPORT_DATE], { env: { ...env, PGPASSWORD: secrets.password, PGPORT: 'not-a-port' } }), // invalid config
        await runDailyReport(['run', ...REPORT_DATE], { env: { ...env, PGPASSWORD: secrets.password, PGHOST: 'db.does-not-exist.invalid' } }), // unreachable
      ];
      expect(scenarios.map((r) => r.code)).toEqual([4, 2, 1]);
      expect(receiver.requests).toHaveLength(3);
      let spans = '';
      if ('output' in collector) {
        for (let i = 0; i < 50 && received(collector.output, testId).spans.length < 3; i++) await new Promise((r) => setTimeout(r, 100));
        spans = JSON.stringify(received(collector.output, testId));
        expect(spans).toContain('ConfigurationIsInvalid');
      }
      // The receiver saw the URL it was posted to, of course; what the job emitted is the bodies.
      const emitted = [...scenarios.flatMap((r) => [r.stdout, r.stderr]), JSON.stringify(receiver.requests.map((r) => r.body)), spans].join('\n');
      for (const secret of Object.values(secrets)) expect(emitted).not.toContain(secret);
    } finally {
      await receiver.stop();
    }
  });
});
