import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { errorOf, filesIn, queryFile, readReport } from '../support/report-files.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { createTestDatabase, sql, type TestDatabase } from '../support/test-database.ts';

const FIXED = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d(:\d\d)?$/;
const ROWS_QUERY = `SELECT criado_em AS data_extracao, nome AS nome_usuario, id AS id_transacao, 0 AS valor_transacao, 'ok' AS status_transacao
  FROM edges WHERE criado_em >= :window_start AND criado_em < :window_end ORDER BY id`;

function without(env: Record<string, string>, name: string): Record<string, string> {
  const copy = { ...env };
  delete copy[name];
  return copy;
}

describe('the report at the edges of time', () => {
  let db: TestDatabase;
  let sqlFile: string;

  beforeAll(async () => {
    db = await createTestDatabase('edges');
    await sql(db, `CREATE TABLE edges (id int PRIMARY KEY, nome text, criado_em timestamptz NOT NULL); GRANT SELECT ON edges TO report_reader;
      INSERT INTO edges VALUES
        (1, 'apia 29 start', '2011-12-29 00:00:00-10'), (2, 'apia 29 end', '2011-12-29 23:59:59.999999-10'), (3, 'apia 31', '2011-12-31 00:00:00+14'),
        (4, 'lmt 1 s early', '1913-05-31 23:59:59-03:06:28'), (5, 'lmt midnight', '1913-06-01 00:00:00-03:06:28'), (6, 'lmt end', '1913-06-01 23:59:59.5-03:06:28')`);
    sqlFile = await queryFile(db.outDir, 'edges', ROWS_QUERY);
  });

  const run = (args: string[], env: Record<string, string>) => runDailyReport(args, { env: { ...db.env, REPORT_SQL_FILE: sqlFile, ...env } });

  it('refuses an offset as REPORT_TIMEZONE with exit 2, asking for an IANA name, before connecting', async () => {
    for (const zone of ['-03:00', '+05:30', 'GMT+3']) {
      const result = await run(['run', '--date', '2024-10-05'], { REPORT_TIMEZONE: zone, PGPORT: '1' });
      expect(result.code, zone).toBe(2);
      expect(errorOf(result).err.message).toMatch(/REPORT_TIMEZONE: must be an IANA time zone name, not an offset or a POSIX rule \(example: America\/Sao_Paulo\)/);
    }
  });

  it('refuses a POSIX or empty TZ when REPORT_TIMEZONE is not set, naming it (exit 2)', async () => {
    const env = without({ ...db.env, REPORT_SQL_FILE: sqlFile, PGPORT: '1' }, 'REPORT_TIMEZONE');
    const posix = await runDailyReport(['run', '--date', '2024-10-05'], { env: { ...env, TZ: 'GMT+3' } });
    expect(posix.code).toBe(2);
    expect(errorOf(posix).err.message).toMatch(/TZ="GMT\+3" is not an IANA time zone name.*set REPORT_TIMEZONE/);
    const empty = await runDailyReport(['run', '--date', '2024-10-05'], { env: { ...env, TZ: '' } });
    expect(empty.code).toBe(2);
    expect(errorOf(empty).err.message).toMatch(/TZ is set but empty/);
    // An IANA TZ is the report's zone.
    const named = await runDailyReport(['run', '--dry-run', '--date', '2011-12-30'], { env: { ...env, PGPORT: db.env.PGPORT!, TZ: 'Pacific/Apia' } });
    expect(named.code, named.stderr).toBe(0);
    expect(named.logs.find((l) => l.msg?.startsWith('dry run starting'))).toMatchObject({ timezone: 'Pacific/Apia', window_start: '2011-12-29T00:00:00.000000-10:00' });
  });

  it('refuses report dates whose window has no year 0001–9999 with exit 2, not a retry or a data error', async () => {
    for (const date of ['0000-01-01', '0001-01-01']) {
      const result = await run(['run', '--date', date], {});
      expect(result.code, date).toBe(2);
      expect(errorOf(result).err.message).toMatch(/--date: must be a calendar date YYYY-MM-DD from 0001-01-02 to 9999-12-31/);
      const fromEnv = await run(['run'], { REPORT_DATE: date });
      expect(fromEnv.code, date).toBe(2);
    }
    expect(await filesIn(db.outDir)).toEqual([]);
  });

  it.each(['copy', 'cursor'])('puts the day before a day the zone skipped in one report, and nothing in the skipped day (%s)', async (engine) => {
    const names = async (date: string) => {
      const result = await run(['run', '--dry-run', '--out', join(db.outDir, '..', `apia-${engine}-${date}.csv`), '--date', date], { REPORT_TIMEZONE: 'Pacific/Apia', REPORT_ENGINE: engine });
      expect(result.code, result.stderr).toBe(0);
      return (await readReport(join(db.outDir, '..', `apia-${engine}-${date}.csv`))).slice(1).map((r) => [r[0], r[1]]);
    };
    expect(await names('2011-12-30')).toEqual([
      ['2011-12-29T00:00:00.000000-10:00', 'apia 29 start'],
      ['2011-12-29T23:59:59.999999-10:00', 'apia 29 end'],
    ]);
    expect(await names('2011-12-31')).toEqual([]);
    expect(await names('2012-01-01')).toEqual([['2011-12-31T00:00:00.000000+14:00', 'apia 31']]);
  });

  it.each(['copy', 'cursor'])('uses and writes an offset with seconds exactly (São Paulo local mean time, %s)', async (engine) => {
    const out = join(db.outDir, '..', `lmt-${engine}.csv`);
    const result = await run(['run', '--dry-run', '--out', out, '--date', '1913-06-02'], { REPORT_ENGINE: engine });
    expect(result.code, result.stderr).toBe(0);
    expect(result.logs.find((l) => l.msg?.startsWith('dry run starting'))?.window_start).toBe('1913-06-01T00:00:00.000000-03:06:28');
    expect((await readReport(out)).slice(1).map((r) => [r[0], r[1]])).toEqual([
      ['1913-06-01T00:00:00.000000-03:06:28', 'lmt midnight'],
      ['1913-06-01T23:59:59.500000-03:06:28', 'lmt end'],
    ]);
  });
});

describe('two runs of the same date over unchanged data', () => {
  it.each(['copy', 'cursor'])('differ only in the data_extracao values, never in their width or any other byte (%s)', async (engine) => {
    const db = await createTestDatabase('reruns', { users: 50, transactions: 2_000, days: 2, until: "'2024-10-05T00:00:00-03:00'::timestamptz" });
    const runs: { csv: string; manifest: Record<string, unknown> }[] = [];
    for (let i = 0; i < 2; i++) {
      const result = await runDailyReport(['run', '--date', '2024-10-05'], { env: { ...db.env, REPORT_ENGINE: engine } });
      expect(result.code, result.stderr).toBe(0);
      runs.push({
        csv: await readFile(join(db.outDir, 'relatorio_20241005.csv'), 'utf8'),
        manifest: JSON.parse(await readFile(join(db.outDir, 'relatorio_20241005.csv.manifest.json'), 'utf8')),
      });
    }
    const [first, second] = runs.map(({ csv, manifest }) => {
      const lines = csv.split('\r\n');
      const instants = new Set(lines.slice(1, -1).map((line) => line.slice(0, line.indexOf(','))));
      expect(instants.size).toBe(1);
      const instant = [...instants][0]!;
      // The same text in the CSV, the manifest and the object metadata (run-report.ts passes the manifest's value).
      expect(instant).toMatch(FIXED);
      expect(manifest.extracted_at).toBe(instant);
      expect(manifest.window_start).toBe('2024-10-04T00:00:00.000000-03:00');
      return { instant, masked: lines.map((line) => (line.startsWith(instant) ? line.slice(instant.length) : line)).join('\r\n'), bytes: Buffer.byteLength(csv) };
    });
    expect(first!.instant).not.toBe(second!.instant);
    expect(first!.instant.length).toBe(second!.instant.length);
    expect(first!.bytes).toBe(second!.bytes);
    expect(first!.masked).toBe(second!.masked);
    expect(first!.masked.split('\r\n').length).toBeGreaterThan(500);
  });
});
