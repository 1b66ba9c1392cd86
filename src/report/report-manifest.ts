import type { CsvConfig } from '../config/config.ts';
import { REPORT_COLUMNS } from '../csv/report-contract.ts';
import { VERSION } from '../version.ts';
import type { ReportWindow } from './report-window.ts';

/**
 * The manifest published next to each report (`<key>.manifest.json`). It is written last, so its
 * presence means the report is complete; consumers check `sha256` against the CSV they read.
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
  readonly bytes: number;
  /** Lowercase hex SHA-256 of the CSV's bytes. */
  readonly sha256: string;
  readonly columns: readonly string[];
  readonly delimiter: string;
  readonly bom: boolean;
  /** Lowercase hex SHA-256 of the SQL text that produced the report. */
  readonly query_sha256: string;
  readonly version: string;
  readonly run_id: string;
  /** The run's trace id, or null without tracing. */
  readonly trace_id: string | null;
}

export interface ManifestFacts {
  readonly key: string;
  readonly window: ReportWindow;
  readonly extractedAt: string;
  readonly rows: number;
  readonly bytes: number;
  readonly sha256: string;
  readonly csv: CsvConfig;
  readonly querySha256: string;
  readonly runId: string;
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
    columns: [...REPORT_COLUMNS],
    delimiter: facts.csv.delimiter,
    bom: facts.csv.bom,
    query_sha256: facts.querySha256,
    version: VERSION,
    run_id: facts.runId,
    trace_id: null,
  };
}

export function manifestKey(reportKey: string): string {
  return `${reportKey}${MANIFEST_SUFFIX}`;
}

export function manifestBytes(manifest: ReportManifest): Buffer {
  return Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8');
}
