import type { ReportSource } from '../extract/report-source.ts';

/**
 * One of the report's source databases, in report order: the report is the concatenation of its
 * sources' rows, in the list's order (docs/parallel-extraction.md).
 */
export interface NamedSource {
  /** The libpq service name, or `"default"` for the PG* variables. In the manifest and the logs. */
  readonly name: string;
  readonly source: ReportSource;
}
