import type { Config } from '../config/config.ts';
import { DEFAULT_SOURCE } from './source-settings.ts';
import type { Logger } from '../log/logger.ts';
import { PostgresReportSource } from './postgres-report-source.ts';
import type { NamedSource } from '../report/named-source.ts';

/**
 * The report's sources in report order (config.sources: the PG* database alone, or REPORT_SOURCES's
 * services), each its own PostgresReportSource with its own connection settings and a logger that
 * names it. Nothing is contacted here.
 */
export function createReportSources(config: Config, logger: Logger): NamedSource[] {
  return config.sources.map(({ name, database }) => ({
    name,
    source: new PostgresReportSource(database, name === DEFAULT_SOURCE ? logger : logger.child({ source: name })),
  }));
}
