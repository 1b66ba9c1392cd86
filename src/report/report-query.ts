import type { Config } from '../config/config.ts';
import type { ReportQuery } from '../extract/report-source.ts';
import type { ReportWindow } from './report-window.ts';

/** The report query for one window, with its values by name (written in as typed literals: named-parameters.ts). */
export function reportQuery(config: Config, window: ReportWindow, extractedAt: string): ReportQuery {
  return {
    sql: config.report.query.text,
    file: config.report.query.file,
    values: { report_date: window.reportDate, window_start: window.start, window_end: window.end, extracted_at: extractedAt },
    timezone: config.report.timezone,
    statementTimeoutMs: config.report.statementTimeoutMs,
    engine: config.report.engine,
    fetchRows: config.report.fetchRows,
  };
}
