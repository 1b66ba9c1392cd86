import { to as copyTo } from 'pg-copy-streams';
import type { DatabaseConfig } from '../config/config.ts';
import { copyStatement, firstFieldIsRewritten } from '../csv/copy-select.ts';
import { CrlfRecords } from '../csv/crlf-records.ts';
import { outOfRangeMarker, timestampOutOfRange } from '../csv/csv-rules.ts';
import type { CsvFormat } from '../csv/csv-format.ts';
import type { PlannedColumn } from '../csv/report-contract.ts';
import { withoutFinalSemicolon } from './named-parameters.ts';
import { classifyDatabaseError } from './pg-errors.ts';
import type { Snapshot } from './postgres-session.ts';

/**
 * The COPY engine (REPORT_ENGINE=copy, the default): PostgreSQL writes the CSV records itself
 * with `COPY (SELECT …) TO STDOUT (FORMAT csv)`, the contract's formatting expressed in the
 * SELECT (copy-select.ts); we only turn its LF record ends into CRLF. The socket's back-pressure
 * paces the server, so memory stays flat whatever the size of the day.
 */
export async function* copyRecords(
  snapshot: Snapshot,
  plan: readonly PlannedColumn[],
  format: CsvFormat,
  counter: { rows: number },
  db: DatabaseConfig,
): AsyncGenerator<Buffer> {
  const records = new CrlfRecords({ delimiter: format.delimiter, firstField: firstFieldIsRewritten(plan), firstColumn: plan[0]?.name });
  const stream = snapshot.client.query(copyTo(copyStatement(withoutFinalSemicolon(snapshot.sql), plan, format)));
  let finished = false;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const out = records.transform(chunk);
      counter.rows = records.rows;
      if (out.length > 0) yield out;
    }
    records.end();
    finished = true;
  } catch (error) {
    // A timestamp the contract cannot write, raised by the SQL (csv-rules.ts): the rows before it were all received.
    const outOfRange = outOfRangeMarker(String((error as Error)?.message));
    if (outOfRange) throw timestampOutOfRange(outOfRange.column, records.rows + 1, outOfRange.value, error);
    throw classifyDatabaseError(error, 'extract', db);
  } finally {
    // Left mid-COPY (a storage failure, an abort): the connection cannot run another statement.
    if (!finished) {
      snapshot.markBroken();
      stream.destroy();
    }
  }
}
