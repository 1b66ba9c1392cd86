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

/** A half-open sub-window [start, end), in the same text form as `:window_start`/`:window_end` take. */
export interface SubWindow {
  readonly start: string;
  readonly end: string;
}

/**
 * One snapshot shared by several worker sessions (docs/parallel-extraction.md): a coordinator
 * connection exported it, every shard session imported it, so all shards see the same rows.
 */
export interface SharedSnapshot {
  /** The query's columns, described once by the coordinator. */
  readonly columns: readonly ResultColumn[];
  /** What pg_export_snapshot() returned. */
  readonly snapshotId: string;
  /** The snapshot's transaction start, ISO 8601 with offset (in the report's zone). */
  readonly instant: string;
  /** host:port/database (never credentials). */
  readonly server: string;
  /**
   * Which server and database the snapshot is of, as the server itself tells it (the postmaster's
   * start and the database name): two sources whose host names differ can still be one database.
   */
  readonly identity: string;
  /** Consecutive half-open sub-windows tiling the query's window exactly, planned inside the snapshot. */
  readonly shards: readonly SubWindow[];
  /** A worker session: a connection that imported the snapshot, running the query over `window`. `close` must always be called. */
  openShard(window: SubWindow, signal: AbortSignal): Promise<ReportSession>;
  /** Ends the coordinator and every worker connection (call it after every shard session closed). */
  close(): Promise<void>;
}

/** Where the report comes from (the port the pipeline knows; PostgreSQL is the adapter). */
export interface ReportSource {
  /** "host:port/database", for logs. */
  readonly label: string;
  /** Today's single stream: one connection, one snapshot, the whole window. */
  open(query: ReportQuery, signal: AbortSignal): Promise<ReportSession>;
  /**
   * One snapshot for several workers, the window planned into at most `shards` sub-windows.
   * Refuses (exit 2) a query that does not split by its window when `shards` > 1, and a
   * snapshot that worker connections cannot import.
   */
  openShared(query: ReportQuery, options: { readonly shards: number }, signal: AbortSignal): Promise<SharedSnapshot>;
}
