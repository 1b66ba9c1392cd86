import type { RawRow } from '../csv/csv-encoder.ts';
import type { ResultColumn } from '../csv/report-contract.ts';

/** The compiled report query with this run's values and session settings. */
export interface ReportQuery {
  /** SQL with `$n` placeholders. */
  readonly text: string;
  readonly values: readonly string[];
  /** Session TimeZone: PostgreSQL then writes timestamptz values with this zone's offset. */
  readonly timezone: string;
  readonly statementTimeoutMs: number;
  /** Rows per cursor fetch: the most rows held in memory at once (twice that with read-ahead). */
  readonly fetchRows: number;
}

/** The result of the report query, streamed in batches; `close` must always be called. */
export interface RowStream extends AsyncIterable<RawRow[]> {
  /** Known before any row is handed over, so the contract is checked before anything is written. */
  readonly columns: readonly ResultColumn[];
  close(): Promise<void>;
}

/** Where report rows come from (the port the pipeline knows; PostgreSQL is the adapter). */
export interface RowSource {
  /** "host:port/database", for logs. */
  readonly label: string;
  /** The result's columns, without executing the query. */
  describe(query: ReportQuery, signal: AbortSignal): Promise<ResultColumn[]>;
  open(query: ReportQuery, signal: AbortSignal): Promise<RowStream>;
}
