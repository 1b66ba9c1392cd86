import { to as copyTo } from 'pg-copy-streams';
import type { DatabaseConfig } from '../config/config.ts';
import { copyStatement, firstFieldIsRewritten } from '../csv/copy-select.ts';
import { CrlfRecords } from '../csv/crlf-records.ts';
import { outOfRangeMarker, outOfRangeSql, timestampOutOfRange } from '../csv/csv-rules.ts';
import type { CsvFormat } from '../csv/csv-format.ts';
import type { PlannedColumn } from '../csv/report-contract.ts';
import { ChunkBatch } from './chunk-batch.ts';
import { withoutFinalSemicolon } from './named-parameters.ts';
import { classifyDatabaseError } from './pg-errors.ts';
import type { Snapshot } from './postgres-session.ts';

const SAVEPOINT = 'daily_report_copy';

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
  const subquery = withoutFinalSemicolon(snapshot.sql);
  // Lets the snapshot survive a failed COPY, to find the row a timestamp error came from.
  await snapshot.client.query(`SAVEPOINT ${SAVEPOINT}`).catch((error: unknown) => {
    throw classifyDatabaseError(error, 'extract', db);
  });
  const statement = copyStatement(subquery, plan, format);
  const stream = snapshot.client.query(copyTo(statement));
  const batch = new ChunkBatch();
  let finished = false;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const out = batch.add(records.transform(chunk));
      counter.rows = records.rows;
      if (out) yield out;
    }
    records.end();
    const rest = batch.flush();
    if (rest) yield rest;
    finished = true;
  } catch (error) {
    // A timestamp the contract cannot write, raised by the SQL (csv-rules.ts).
    const outOfRange = outOfRangeMarker(String((error as Error | undefined)?.message));
    const column = plan.find((c) => c.name === outOfRange?.column);
    if (outOfRange && column) {
      const row = await failingRow(snapshot, subquery, column).catch(() => undefined);
      throw timestampOutOfRange(outOfRange.column, row ?? `${records.rows + 1} or later`, outOfRange.value, error);
    }
    throw classifyDatabaseError(error, 'extract', db, { text: statement, query: snapshot.query });
  } finally {
    // Left mid-COPY (a storage failure, an abort): the connection cannot run another statement.
    if (!finished) {
      snapshot.markBroken();
      stream.destroy();
    }
  }
}

/**
 * The position of the first row whose `column` is out of range, read in the same snapshot (so the
 * same rows, in the query's order). COPY's output before an error is partly lost in transit
 * (pg-copy-streams drops the data that arrives with the ErrorResponse), so counting records
 * cannot tell. Only run after that error: it reads the query again up to that row.
 */
async function failingRow(snapshot: Snapshot, subquery: string, column: PlannedColumn): Promise<number | undefined> {
  if (column.kind !== 'timestamptz' && column.kind !== 'timestamp') return undefined;
  await snapshot.client.query(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
  const value = `report."${column.name.replaceAll('"', '""')}"`;
  const { rows } = await snapshot.client.query<{ row: string }>(
    `SELECT row FROM (SELECT row_number() OVER () AS row, isfinite(${value}) AND ${outOfRangeSql(value, column.kind)} AS bad FROM (\n${subquery}\n) AS report) AS numbered WHERE bad LIMIT 1`,
  );
  return rows[0] ? Number(rows[0].row) : undefined;
}
