import { rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { errorOf, expectNoSecrets, filesIn, queryFile } from '../support/report-files.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { freePort } from '../support/child-processes.ts';
import { createTestDatabase, sql, READER_PASSWORD, type TestDatabase } from '../support/test-database.ts';

const REPORT_DATE = ['--date', '2024-10-05'];

/**
 * A slow report: 20,000 rows with a 0.1 s pause every 1,000 (about 2 s in all), so a test can act while rows stream.
 * The pause runs inside the query, so the server is busy (not idle) when the test strikes.
 */
const SLOW_QUERY = `
SELECT :extracted_at::timestamptz AS data_extracao, 'nome ' || g AS nome_usuario, g AS id_transacao,
       g * 0.01 AS valor_transacao,
       -- pg_sleep's argument depends on g, so it really runs per row (a constant one runs once)
       CASE WHEN g % 1000 = 0 THEN (SELECT 'ok' FROM pg_sleep(0.1 + g * 0)) ELSE 'ok' END AS status_transacao
FROM generate_series(1, 20000) AS g`;

/** Waits until the job streams rows: its session is active and a temporary file is being written. */
async function whenStreaming(db: TestDatabase): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const { rows } = await sql(db, `SELECT pid FROM pg_stat_activity WHERE application_name = 'daily-report' AND datname = $1 AND state = 'active'`, [db.name]);
    const partial = (await filesIn(db.outDir)).some((name) => name.endsWith('.partial'));
    if (rows.length > 0 && partial) return rows[0].pid as number;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('the job never started streaming');
}

async function jobSessions(db: TestDatabase): Promise<number> {
  const { rows } = await sql(db, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'daily-report' AND datname = $1`, [db.name]);
  return rows[0].n;
}

describe('daily-report run, when things go wrong', () => {
  let db: TestDatabase;
  let slowSql: string;

  beforeAll(async () => {
    db = await createTestDatabase('fail');
    slowSql = await queryFile(db.outDir, 'slow', SLOW_QUERY);
  });

  it('when the query misses a contract column, exits 3 naming expected and actual columns, and writes nothing', async () => {
    const sqlFile = await queryFile(db.outDir, 'missing', `SELECT now() AS data_extracao, 'x' AS nome_usuario, 1 AS id_transacao, 2 AS valor_transacao`);
    const result = await runDailyReport(['run', ...REPORT_DATE], { env: { ...db.env, REPORT_SQL_FILE: sqlFile } });
    expect(result.code).toBe(3);
    expect(errorOf(result).msg).toMatch(/missing status_transacao.*expected data_extracao, nome_usuario, id_transacao, valor_transacao, status_transacao; got data_extracao, nome_usuario, id_transacao, valor_transacao$/);
    expect(await filesIn(db.outDir)).toEqual([]);
  });

  it('when the query has an extra column, exits 3 and writes nothing', async () => {
    const sqlFile = await queryFile(db.outDir, 'extra', `SELECT now() AS data_extracao, 'x' AS nome_usuario, 1 AS id_transacao, 2 AS valor_transacao, 'ok' AS status_transacao, 'a@b' AS email`);
    const result = await runDailyReport(['run', ...REPORT_DATE], { env: { ...db.env, REPORT_SQL_FILE: sqlFile } });
    expect(result.code).toBe(3);
    expect(errorOf(result).msg).toMatch(/unexpected email/);
    expect(await filesIn(db.outDir)).toEqual([]);
  });

  it('when the connection is killed mid-stream, exits 1 and leaves nothing under the final or a temporary name', async () => {
    const running = runDailyReport(['run', ...REPORT_DATE], { env: { ...db.env, REPORT_SQL_FILE: slowSql, REPORT_FETCH_ROWS: '100' } });
    const pid = await whenStreaming(db);
    await sql(db, 'SELECT pg_terminate_backend($1)', [pid]);
    const result = await running;
    expect(result.code, result.stderr).toBe(1);
    expect(errorOf(result).err).toMatchObject({ class: 'TransientFailure', exit_code: 1 });
    expect(await filesIn(db.outDir)).toEqual([]);
    expectNoSecrets(result);

    // A retry (what Kubernetes does on exit 1) succeeds.
    const retry = await runDailyReport(['run', ...REPORT_DATE], { env: { ...db.env, REPORT_SQL_FILE: slowSql, REPORT_FETCH_ROWS: '5000' } });
    expect(retry.code, retry.stderr).toBe(0);
    expect(await filesIn(db.outDir)).toEqual(['relatorio_20241005.csv', 'relatorio_20241005.csv.manifest.json']);
    for (const file of await filesIn(db.outDir)) await rm(join(db.outDir, file)); // the other tests expect an empty folder
  });

  it('logs progress (rows so far, rows/s) while a long extraction runs', async () => {
    const result = await runDailyReport(['run', '--dry-run', '--out', join(db.outDir, '..', `progress-${Date.now()}.csv`), ...REPORT_DATE], {
      env: { ...db.env, REPORT_SQL_FILE: slowSql, REPORT_FETCH_ROWS: '500', REPORT_PROGRESS_INTERVAL: '300ms' },
    });
    expect(result.code, result.stderr).toBe(0);
    const progress = result.logs.filter((line) => line.msg === 'extracting');
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress.at(-1)).toMatchObject({ phase: 'extract', rows: expect.any(Number), rows_per_second: expect.any(Number) });
    expect(progress.map((line) => line.rows)).toEqual([...progress.map((line) => line.rows)].sort((a, b) => a - b));
  });

  it('on SIGTERM mid-stream, cancels the query, publishes nothing and exits 143 within 10 s', async () => {
    let child: { kill(signal: NodeJS.Signals): boolean } | undefined;
    const running = runDailyReport(['run', ...REPORT_DATE], {
      env: { ...db.env, REPORT_SQL_FILE: slowSql, REPORT_FETCH_ROWS: '100' },
      onSpawn: (spawned) => (child = spawned),
    });
    await whenStreaming(db);
    const signalled = Date.now();
    child!.kill('SIGTERM');
    const result = await running;
    expect(result.code, result.stderr).toBe(143);
    expect(Date.now() - signalled).toBeLessThan(10_000);
    expect(errorOf(result).err).toMatchObject({ class: 'RunWasTerminated' });
    expect(await filesIn(db.outDir)).toEqual([]);
    expect(await jobSessions(db)).toBe(0);
  });

  it('when the database raises a data error while streaming, exits 3 and writes nothing', async () => {
    const sqlFile = await queryFile(db.outDir, 'divzero', `SELECT now() AS data_extracao, 'x' AS nome_usuario, g AS id_transacao,
      (1 / (g - 15000))::numeric AS valor_transacao, 'ok' AS status_transacao FROM generate_series(1, 20000) g`);
    const result = await runDailyReport(['run', ...REPORT_DATE], { env: { ...db.env, REPORT_SQL_FILE: sqlFile, REPORT_FETCH_ROWS: '1000' } });
    expect(result.code).toBe(3);
    expect(errorOf(result).msg).toMatch(/division by zero \(SQLSTATE 22012\)/);
    expect(await filesIn(db.outDir)).toEqual([]);
  });

  it('when statement_timeout is exceeded, exits 1 and names the timeout', async () => {
    const sqlFile = await queryFile(db.outDir, 'sleepy', `SELECT now() AS data_extracao, 'x' AS nome_usuario, 1 AS id_transacao, 1 AS valor_transacao, (SELECT 'ok' FROM pg_sleep(3)) AS status_transacao`);
    const result = await runDailyReport(['run', ...REPORT_DATE], { env: { ...db.env, REPORT_SQL_FILE: sqlFile, REPORT_STATEMENT_TIMEOUT: '300ms' } });
    expect(result.code).toBe(1);
    expect(errorOf(result).msg).toMatch(/statement_timeout \(REPORT_STATEMENT_TIMEOUT\).*57014/);
  });

  it('when the SQL has a syntax error or an undefined table, exits 2 pointing at the query', async () => {
    for (const [name, text, pattern] of [
      ['syntax', 'SELEC 1', /syntax error.*42601.*fix REPORT_SQL_FILE/],
      ['undefined', `SELECT now() AS data_extracao, 'x' AS nome_usuario, 1 AS id_transacao, 1 AS valor_transacao, 'ok' AS status_transacao FROM nao_existe`, /relation "nao_existe" does not exist.*42P01/],
    ] as const) {
      const result = await runDailyReport(['run', ...REPORT_DATE], { env: { ...db.env, REPORT_SQL_FILE: await queryFile(db.outDir, name, text) } });
      expect(result.code, result.stderr).toBe(2);
      expect(errorOf(result).msg).toMatch(pattern);
    }
  });

  it('when the role lacks SELECT on a table, exits 4 naming the user and the table', async () => {
    await sql(db, `CREATE TABLE IF NOT EXISTS salarios (id int)`);
    const sqlFile = await queryFile(db.outDir, 'denied', `SELECT now() AS data_extracao, 'x' AS nome_usuario, id AS id_transacao, 1 AS valor_transacao, 'ok' AS status_transacao FROM salarios`);
    const result = await runDailyReport(['run', ...REPORT_DATE], { env: { ...db.env, REPORT_SQL_FILE: sqlFile } });
    expect(result.code).toBe(4);
    expect(errorOf(result).msg).toMatch(/user "report_reader".*permission denied for table salarios/);
  });

  it('when the password is wrong, exits 4 without printing either password', async () => {
    const result = await runDailyReport(['run', ...REPORT_DATE], { env: { ...db.env, PGPASSWORD: 'not-the-Password-9' } });
    expect(result.code).toBe(4);
    expect(errorOf(result).msg).toMatch(/refused user "report_reader".*28P01/);
    expect(result.stderr).not.toContain('not-the-Password-9');
    expectNoSecrets(result);
  });

  it('when the database is unreachable, exits 1 naming host:port', async () => {
    const port = await freePort();
    const result = await runDailyReport(['run', ...REPORT_DATE], { env: { ...db.env, PGHOST: '127.0.0.1', PGPORT: String(port) } });
    expect(result.code).toBe(1);
    expect(errorOf(result).msg).toContain(`127.0.0.1:${port}`);
    expect(await filesIn(db.outDir)).toEqual([]);
  });

  it('when the database does not exist, exits 2 naming PGDATABASE', async () => {
    const result = await runDailyReport(['run', ...REPORT_DATE], { env: { ...db.env, PGDATABASE: 'nao_existe' } });
    expect(result.code).toBe(2);
    expect(errorOf(result).msg).toMatch(/PGDATABASE: database "nao_existe" does not exist/);
  });

  describe('with invalid configuration', () => {
    let listener: Server;
    let connections = 0;
    let port = 0;

    beforeAll(async () => {
      // Stands where the database would be: it counts anyone who knocks.
      listener = createServer((socket) => {
        connections++;
        socket.destroy();
      });
      await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
      port = (listener.address() as { port: number }).port;
      return () => new Promise<void>((resolve) => listener.close(() => resolve()));
    });

    it('lists every problem at once, exits 2 and contacts nothing', async () => {
      const result = await runDailyReport(['run'], {
        env: {
          PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: 'report_reader', PGDATABASE: 'app',
          PGPASSWORD: READER_PASSWORD, PGPASSWORD_FILE: '/run/secrets/pgpassword',
          STORAGE_PROVIDER: 'dropbox', REPORT_DATE: '2024-13-01', REPORT_IF_EXISTS: 'sometimes', LOCAL_STORAGE_DIR: db.outDir,
        },
      });
      expect(result.code).toBe(2);
      const message = errorOf(result).msg as string;
      expect(message).toMatch(/invalid configuration \(4 problems\)/);
      expect(message).toMatch(/PGPASSWORD and PGPASSWORD_FILE are both set/);
      expect(message).toMatch(/STORAGE_PROVIDER: must be one of local | s3 | azure/);
      expect(message).toMatch(/REPORT_DATE: must be a calendar date/);
      expect(message).toMatch(/REPORT_IF_EXISTS: must be one of overwrite \| skip \| fail/);
      expect(connections).toBe(0);
      expect(await filesIn(db.outDir)).toEqual([]);
      expectNoSecrets(result);
    });

    it('rejects an invalid --date with exit 2 and contacts nothing', async () => {
      const result = await runDailyReport(['run', '--date', '2024-02-30'], { env: { ...db.env, PGPORT: String(port) } });
      expect(result.code).toBe(2);
      expect(errorOf(result).msg).toMatch(/--date: must be a calendar date/);
      expect(connections).toBe(0);
    });

    it('rejects a query with an unknown :name before connecting', async () => {
      const sqlFile = await queryFile(db.outDir, 'unknown', 'SELECT :report_date, :tenant');
      const result = await runDailyReport(['run'], { env: { ...db.env, PGPORT: String(port), REPORT_SQL_FILE: sqlFile } });
      expect(result.code).toBe(2);
      expect(errorOf(result).msg).toMatch(/unknown parameter\(s\) :tenant/);
      expect(connections).toBe(0);
    });
  });
});
