import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { beforeAll, describe, expect, it } from 'vitest';
import { queryFile } from '../support/report-files.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { createTestDatabase, sql, type TestDatabase } from '../support/test-database.ts';

const MI = 1024 * 1024;
// Quotes (doubled in the CSV, each one a state change for the record scanner), a delimiter and a newline.
const UNIT = 'ab"c,\nd!';
const FIELD_MB = 64;
const HEAP_MB = 96;

/**
 * One 64 MiB text value, through both engines, with V8's heap capped below what copies of it would
 * need. The COPY engine streams it (nothing but the first field is held back), so its peak RSS
 * hardly moves from a run without it; the cursor engine holds the row (node-postgres reads whole
 * messages) but never copies it on the heap.
 */
describe(`a single ${FIELD_MB} MiB field`, () => {
  let db: TestDatabase;
  let huge: string;
  let small: string;

  beforeAll(async () => {
    db = await createTestDatabase('huge');
    await sql(db, `CREATE TABLE h (id int, nome text, at timestamptz); GRANT SELECT ON h TO report_reader;
      INSERT INTO h VALUES (1, 'before', '2024-10-04 11:00-03'), (2, repeat('${UNIT.replaceAll("'", "''")}', ${(FIELD_MB * MI) / UNIT.length}), '2024-10-04 12:00-03'), (3, 'after', '2024-10-04 13:00-03')`);
    const query = (where: string) => `SELECT at AS data_extracao, nome AS nome_usuario, id AS id_transacao, 1 AS valor_transacao, 'ok' AS status_transacao FROM h ${where} ORDER BY id`;
    huge = await queryFile(db.outDir, 'huge', query(''));
    small = await queryFile(db.outDir, 'small', query('WHERE id <> 2'));
  });

  async function run(engine: string, sqlFile: string) {
    const out = join(db.outDir, '..', `huge-${engine}-${Math.random().toString(36).slice(2)}.csv`);
    const rssFile = `${out}.rss`;
    const result = await runDailyReport(['run', '--dry-run', '--out', out, '--date', '2024-10-05'], {
      env: { ...db.env, REPORT_SQL_FILE: sqlFile, REPORT_ENGINE: engine, PEAK_RSS_FILE: rssFile },
      nodeOptions: [`--max-old-space-size=${HEAP_MB}`, '--import', resolve(import.meta.dirname, '../support/peak-rss.ts')],
    });
    expect(result.code, result.stderr.slice(-2000)).toBe(0);
    return { out, peak: Number(await readFile(rssFile, 'utf8')) };
  }

  it.each(['copy', 'cursor'])(`is written exactly by the %s engine under a ${HEAP_MB} MiB heap`, async (engine) => {
    const { out, peak } = await run(engine, huge);
    process.stderr.write(`[huge field] ${engine}: peak RSS ${(peak / MI).toFixed(0)} MiB\n`);

    if (engine === 'copy') {
      const baseline = await run(engine, small);
      process.stderr.write(`[huge field] copy without the field: peak RSS ${(baseline.peak / MI).toFixed(0)} MiB\n`);
      // Streamed: it grows by less than the field itself (a carried-over record used to hold it twice over, and more).
      expect(peak - baseline.peak).toBeLessThan(FIELD_MB * MI);
    }
    const records = parse(await readFile(out)) as string[][];
    expect(records.map((r) => r[2])).toEqual(['id_transacao', '1', '2', '3']);
    expect(records[2]![0]).toBe('2024-10-04T12:00:00.000000-03:00');
    expect(records[2]![1]!.length).toBe(FIELD_MB * MI);
    expect(records[2]![1] === UNIT.repeat((FIELD_MB * MI) / UNIT.length)).toBe(true);
  });
});
