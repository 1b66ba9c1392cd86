import type { CsvFormat } from '../csv/csv-format.ts';
import type { PlannedColumn, ResultColumn } from '../csv/report-contract.ts';
import type { ParameterValues } from './named-parameters.ts';

/** How the records are produced: PostgreSQL's COPY writes them, or a cursor feeds our encoder. */
export type ExtractionEngine = 'copy' | 'cursor';

/** The report query for one run, and the session settings it runs with. */
export interface ReportQuery {
  /** The SQL as written, with `:name` placeholders. */
  readonly sql: string;
  /** Where it was read from (REPORT_SQL_FILE), to point errors at a line and column there. */
  readonly file?: string | undefined;
  readonly values: ParameterValues;
  /** Session TimeZone: PostgreSQL then writes timestamptz values with this zone's offset. */
  readonly timezone: string;
  readonly statementTimeoutMs: number;
  readonly engine: ExtractionEngine;
  /** Cursor engine: rows per fetch (at most twice this many are in memory). */
  readonly fetchRows: number;
}

/** One run's read-only snapshot. `close` must always be called. */
export interface ReportSession {
  /** The result's columns, from the protocol's Describe step: known before any row exists. */
  readonly columns: readonly ResultColumn[];
  /** The CSV records (no header), CRLF-terminated, columns in contract order, written per `format`. */
  records(plan: readonly PlannedColumn[], format: CsvFormat): AsyncIterable<Buffer>;
  /** Records produced so far. */
  readonly rows: number;
  close(): Promise<void>;
}

/** Where the report comes from (the port the pipeline knows; PostgreSQL is the adapter). */
export interface ReportSource {
  /** "host:port/database", for logs. */
  readonly label: string;
  open(query: ReportQuery, signal: AbortSignal): Promise<ReportSession>;
}
