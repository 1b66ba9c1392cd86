import Cursor from 'pg-cursor';
import type { DatabaseConfig } from '../config/config.ts';
import { CsvEncoder, type RawRow } from '../csv/csv-encoder.ts';
import type { CsvFormat } from '../csv/csv-format.ts';
import type { PlannedColumn } from '../csv/report-contract.ts';
import { classifyDatabaseError } from './pg-errors.ts';
import type { Snapshot } from './postgres-session.ts';

/**
 * Every value arrives as PostgreSQL's own text: the CSV wants text, and parsing (timestamps into
 * `Date`, which also moves them to the process's zone) is over half of the cost. `numeric` and
 * `int8` stay exact because they never become JavaScript numbers.
 */
const RAW_TEXT = { getTypeParser: () => (value: string) => value };

/**
 * The cursor engine (REPORT_ENGINE=cursor), for servers without `COPY … TO STDOUT`: rows in
 * batches of `fetchRows` through pg-cursor, encoded by our CSV encoder. The next batch is asked
 * for before the current one is handed over, so the server keeps producing while we encode.
 */
export async function* cursorRecords(
  snapshot: Snapshot,
  plan: readonly PlannedColumn[],
  format: CsvFormat,
  fetchRows: number,
  counter: { rows: number },
  db: DatabaseConfig,
): AsyncGenerator<Buffer> {
  const encoder = new CsvEncoder(plan, format);
  const cursor = snapshot.client.query(new Cursor(snapshot.sql, [], { rowMode: 'array', types: RAW_TEXT }));
  let failed = false;
  let finished = false;
  const read = () =>
    new Promise<RawRow[]>((resolve, reject) => {
      cursor.read(fetchRows, (error, rows) => {
        if (error) {
          failed = true;
          reject(classifyDatabaseError(error, 'extract', db, { text: snapshot.sql, query: snapshot.query }));
        } else resolve(rows as RawRow[]);
      });
    });
  try {
    let batch = await read();
    while (batch.length > 0) {
      const next = batch.length < fetchRows ? Promise.resolve([] as RawRow[]) : read();
      next.catch(() => undefined); // observed below; keeps an early stop from leaving an unhandled rejection
      const before = counter.rows;
      counter.rows += batch.length;
      yield* encoder.encode(batch, before);
      batch = await next;
    }
    finished = true;
  } finally {
    // An open portal inside a transaction can hold locks: close it. After an error the server
    // already ended it (and closing again would wait for a reply that never comes).
    if (!failed) {
      await cursor.close().catch(() => snapshot.markBroken());
      if (!finished) snapshot.markBroken();
    }
  }
}
