import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { errorOf, filesIn, queryFile } from '../support/report-files.ts';
import { MAIN, parseLogLines, runDailyReport } from '../support/run-cli.ts';
import { createTestDatabase, sql, type TestDatabase } from '../support/test-database.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const REPORT_DATE = ['--date', '2024-10-05'];
/** 20,000 rows, pausing 0.1 s every 1,000: long enough to interrupt, and more than a pipe buffer holds. */
const SLOW_QUERY = `
SELECT :extracted_at::timestamptz AS data_extracao, 'nome ' || g AS nome_usuario, g AS id_transacao, g * 0.01 AS valor_transacao,
       CASE WHEN g % 1000 = 0 THEN (SELECT 'ok' FROM pg_sleep(0.1 + g * 0)) ELSE 'ok' END AS status_transacao
FROM generate_series(1, 20000) AS g`;

async function whenStreaming(db: TestDatabase): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const { rows } = await sql(db, `SELECT 1 FROM pg_stat_activity WHERE application_name = 'daily-report' AND datname = $1 AND state = 'active'`, [db.name]);
    if (rows.length > 0 && (await filesIn(db.outDir)).some((name) => name.endsWith('.partial'))) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('the job never started streaming');
}

describe('daily-report as a Unix command', () => {
  let db: TestDatabase;
  let slowSql: string;
  beforeAll(async () => {
    db = await createTestDatabase('unix');
    slowSql = await queryFile(db.outDir, 'slow', SLOW_QUERY);
  });

  it('on Ctrl-C (SIGINT) mid-stream, exits 130 — what the shell reports — and logs exit code 130, publishing nothing', async () => {
    let child: { kill(signal: NodeJS.Signals): boolean } | undefined;
    const running = runDailyReport(['run', ...REPORT_DATE], { env: { ...db.env, REPORT_SQL_FILE: slowSql, REPORT_FETCH_ROWS: '100' }, onSpawn: (spawned) => (child = spawned) });
    await whenStreaming(db);
    child!.kill('SIGINT');
    const result = await running;
    expect(result.code, result.stderr).toBe(130);
    expect(errorOf(result).err).toMatchObject({ class: 'RunWasTerminated', exit_code: 130 });
    expect(await filesIn(db.outDir)).toEqual([]);
  });

  it('when the reader of a dry run stops early (| head -1), ends quietly with exit 0 and no EPIPE error', async () => {
    const child = spawn(process.execPath, [MAIN, 'run', '--dry-run', ...REPORT_DATE], {
      env: { PATH: process.env.PATH, LOG_FORMAT: 'json', ...db.env, REPORT_SQL_FILE: slowSql },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const firstLine = await new Promise<string>((resolve) => {
      let seen = '';
      child.stdout.on('data', (chunk: Buffer) => {
        seen += chunk.toString('utf8');
        if (seen.includes('\n')) {
          child.stdout.destroy(); // what head does after its line
          resolve(seen.split('\r\n')[0]!);
        }
      });
    });
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(firstLine).toBe('data_extracao,nome_usuario,id_transacao,valor_transacao,status_transacao');
    expect(stderr).not.toMatch(/EPIPE/);
    expect(parseLogLines(stderr).filter((line) => line.level === 'error')).toEqual([]);
    expect(code).toBe(0);
  });

  it('takes `--out -` for stdout, as --help and the README say', async () => {
    const fewRows = await queryFile(db.outDir, 'few', `SELECT :extracted_at::timestamptz AS data_extracao, 'nome ' || g AS nome_usuario, g AS id_transacao,
      g * 0.01 AS valor_transacao, 'ok' AS status_transacao FROM generate_series(1, 3) AS g`);
    const result = await runDailyReport(['run', '--dry-run', '--out', '-', ...REPORT_DATE], { env: { ...db.env, REPORT_SQL_FILE: fewRows } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.split('\r\n')).toHaveLength(5); // header, 3 rows, and the final CRLF
    expect(await filesIn(db.outDir)).not.toContain('-');
  });

  it('when stdout cannot be written (`> r.csv` on a full disk), says so in one line and exits 1, without a stack trace', async () => {
    const full = openSync('/dev/full', 'w');
    try {
      const child = spawn(process.execPath, [MAIN, 'run', '--dry-run', ...REPORT_DATE], {
        env: { PATH: process.env.PATH, LOG_FORMAT: 'json', ...db.env, REPORT_SQL_FILE: slowSql },
        stdio: ['ignore', full, 'pipe'],
      });
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
      const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
      expect(code, stderr).toBe(1);
      expect(stderr).toContain('daily-report: cannot write to standard output: ENOSPC');
      expect(stderr).not.toMatch(/\n\s+at /);
    } finally {
      closeSync(full);
    }
  });

  it('runs from a checkout as `npx daily-report`, with only the command output on stdout', async () => {
    const child = spawn('npm', ['exec', '--offline', '--', 'daily-report', '--version'], { cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(code).toBe(0);
    expect(stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});
