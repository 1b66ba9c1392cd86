import type { CsvConfig, ReportCompression } from '../config/config.ts';
import { REPORT_COLUMNS } from '../csv/report-contract.ts';
import { VERSION } from '../version.ts';
import type { ReportWindow } from './report-window.ts';

/**
 * The manifest published next to each report (`<key>.manifest.json`). It is written last, so its
 * presence means the report is complete; consumers check `sha256` (and `object.etag`) against the
 * CSV they read. Every key is documented in docs/publishing.md, "The manifest".
 */

export const MANIFEST_SUFFIX = '.manifest.json';
export const MANIFEST_CONTENT_TYPE = 'application/json';

export interface ReportManifest {
  readonly key: string;
  readonly report_date: string;
  readonly window_start: string;
  readonly window_end: string;
  readonly extracted_at: string;
  readonly rows: number;
  /** Bytes of the object as stored (compressed when `compression` is not none): what a download gives. */
  readonly bytes: number;
  /** Lowercase hex SHA-256 of the object as stored: `sha256sum` of the downloaded file. */
  readonly sha256: string;
  /** `none`, `gzip` or `zstd` (docs/compression.md). */
  readonly compression: ReportCompression;
  /**
   * The CSV's bytes and SHA-256 once decompressed; equal to `bytes` and `sha256` with `none`. The
   * SHA-256 is null for a gzip report compressed in segments by several workers: its plain CSV never
   * exists in order in one place (each member's CRC-32 still checks what gunzip gives).
   */
  readonly uncompressed_bytes: number;
  readonly uncompressed_sha256: string | null;
  readonly columns: readonly string[];
  readonly delimiter: string;
  readonly bom: boolean;
  /** Lowercase hex SHA-256 of the SQL text that produced the report. */
  readonly query_sha256: string;
  readonly version: string;
  readonly run_id: string;
  /** The run's trace id (32 hex digits), or null without tracing. */
  readonly trace_id: string | null;
  /** The CSV object this manifest describes, as its storage identifies it (docs/publishing.md). */
  readonly object: ManifestObject;
  /**
   * A report assembled from segments (REPORT_PARALLELISM > 1, or several sources): each segment in
   * report order. Absent for a single stream, whose manifest is as it always was.
   */
  readonly segments?: readonly ManifestSegment[];
  /** With `segments`: each source database in report order, with its own snapshot. */
  readonly sources?: readonly ManifestSource[];
}

/**
 * One source's one sub-window: its rows and the bytes of its records (the header belongs to no segment):
 * as stored, but uncompressed with zstd (one frame over the whole report: no segment has compressed bytes of its own).
 */
export interface ManifestSegment {
  readonly source: string;
  readonly window_start: string;
  readonly window_end: string;
  readonly rows: number;
  readonly bytes: number;
}

export interface ManifestSource {
  /** The libpq service name, or "default" for the PG* variables. */
  readonly name: string;
  /** host:port/database (never credentials). */
  readonly server: string;
  /** The start of the source's snapshot (its exporting transaction), ISO 8601 with offset. */
  readonly snapshot_instant: string;
  readonly rows: number;
}

/**
 * The CSV's identity: a consumer that reads the CSV can tell it is the object this manifest was
 * written for (S3 If-Match / VersionId, Azure If-Match, a local file's inode and mtime).
 */
export interface ManifestObject {
  readonly provider: string;
  /** Where the CSV is (no query string, no credentials). */
  readonly location: string;
  /** S3 or Azure ETag; locally `<inode>-<mtime ns>-<size>`. */
  readonly etag: string;
  /** S3 VersionId on a versioned bucket, otherwise null. */
  readonly version_id: string | null;
  /** Local provider: the file's inode and modification time in nanoseconds since the epoch; otherwise null. */
  readonly inode: string | null;
  readonly mtime_ns: string | null;
}

export interface ManifestFacts {
  readonly key: string;
  readonly window: ReportWindow;
  readonly extractedAt: string;
  readonly rows: number;
  readonly bytes: number;
  readonly sha256: string;
  readonly compression: ReportCompression;
  readonly uncompressedBytes: number;
  readonly uncompressedSha256: string | null;
  readonly csv: CsvConfig;
  readonly querySha256: string;
  readonly runId: string;
  readonly traceId: string | null;
  readonly object: ManifestObject;
  readonly segments?: readonly ManifestSegment[] | undefined;
  readonly sources?: readonly ManifestSource[] | undefined;
}

export function buildManifest(facts: ManifestFacts): ReportManifest {
  return {
    key: facts.key,
    report_date: facts.window.reportDate,
    window_start: facts.window.start,
    window_end: facts.window.end,
    extracted_at: facts.extractedAt,
    rows: facts.rows,
    bytes: facts.bytes,
    sha256: facts.sha256,
    compression: facts.compression,
    uncompressed_bytes: facts.uncompressedBytes,
    uncompressed_sha256: facts.uncompressedSha256,
    columns: [...REPORT_COLUMNS],
    delimiter: facts.csv.delimiter,
    bom: facts.csv.bom,
    query_sha256: facts.querySha256,
    version: VERSION,
    run_id: facts.runId,
    trace_id: facts.traceId,
    object: facts.object,
    ...(facts.segments ? { segments: facts.segments } : {}),
    ...(facts.sources ? { sources: facts.sources } : {}),
  };
}

export function manifestKey(reportKey: string): string {
  return `${reportKey}${MANIFEST_SUFFIX}`;
}

export function manifestBytes(manifest: ReportManifest): Buffer {
  return Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8');
}
