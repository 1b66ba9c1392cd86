import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import { queryFile } from '../support/report-files.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { createTestDatabase, sql, type TestDatabase } from '../support/test-database.ts';

/**
 * The text of a float, an interval or a bytea depends on session settings that a DBA may set for
 * the server, the database or the role (ALTER ROLE … SET), or a shell's PGOPTIONS: the report must
 * not. extra_float_digits=0 rounds a float8 to 15 digits — a value that no longer round-trips.
 */
describe('values whose text depends on session settings', () => {
  let db: TestDatabase;
  let sqlFile: string;
  const QUERY = `SELECT :extracted_at::timestamptz AS data_extracao, '\\x00ff'::bytea::text AS nome_usuario, 1 AS id_transacao,
    (0.1::float8 + 0.2::float8) AS valor_transacao, '-1 year -2 mons +3 days 04:05:06'::interval AS status_transacao`;

  beforeAll(async () => {
    db = await createTestDatabase('output_settings');
    sqlFile = await queryFile(db.outDir, 'settings', QUERY);
    // What a DBA might have set for the report's role in this database.
    await sql(db, `ALTER ROLE report_reader IN DATABASE ${db.name} SET extra_float_digits = 0;
      ALTER ROLE report_reader IN DATABASE ${db.name} SET IntervalStyle = 'sql_standard';
      ALTER ROLE report_reader IN DATABASE ${db.name} SET bytea_output = 'escape'`);
  });

  for (const engine of ['copy', 'cursor']) {
    it(`are written exactly and in PostgreSQL's default form whatever the role or PGOPTIONS set (${engine})`, async () => {
      for (const options of [undefined, '-c extra_float_digits=-15 -c IntervalStyle=iso_8601 -c bytea_output=escape']) {
        const result = await runDailyReport(['run', '--dry-run', '--date', '2024-10-05'], {
          env: { ...db.env, REPORT_SQL_FILE: sqlFile, REPORT_ENGINE: engine, ...(options ? { PGOPTIONS: options } : {}) },
        });
        expect(result.code, result.stderr.slice(-1500)).toBe(0);
        const [, row] = parse(result.stdout) as string[][];
        expect(row!.slice(1), `PGOPTIONS=${options ?? '(none)'}`).toEqual(['\\x00ff', '1', '0.30000000000000004', '-1 years -2 mons +3 days 04:05:06']);
      }
    });
  }
});
