import { Writable } from 'node:stream';
import pino from 'pino';
import { loadConfig } from '../../src/loader/load-config.ts';
import type { DatabaseConfig } from '../../src/config/config.ts';
import type { CsvFormat } from '../../src/csv/csv-format.ts';
import { planColumns } from '../../src/csv/report-contract.ts';
import { PostgresReportSource } from '../../src/extract/postgres-report-source.ts';
import type { Logger } from '../../src/log/logger.ts';
import type { ReportQuery, ReportSession } from '../../src/extract/report-source.ts';
import { reportQuery } from '../../src/report/report-query.ts';
import { reportWindow } from '../../src/report/report-window.ts';
import type { TestDatabase } from './test-database.ts';

/** The PostgreSQL source and the run's query for `date`, built from the test database's environment as the job builds them. */
export async function sourceAndQuery(
  db: TestDatabase,
  date: string,
  env: Record<string, string> = {},
): Promise<{ source: PostgresReportSource; query: ReportQuery; format: CsvFormat; database: DatabaseConfig; logger: Logger }> {
  const config = await loadConfig({ ...db.env, REPORT_STATEMENT_TIMEOUT: '60s', ...env });
  const window = reportWindow(date, config.report.timezone);
  const logger = pino({ level: 'silent' }, new Writable({ write: (_c, _e, done) => done() }));
  return { source: new PostgresReportSource(config.database, logger), query: reportQuery(config, window, '2024-10-05T04:00:00.000-03:00'), format: config.csv, database: config.database, logger };
}

/** Every record of a session, as one buffer; the session is closed afterwards. */
export async function recordsOf(session: ReportSession, format: CsvFormat): Promise<Buffer> {
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of session.records(planColumns(session.columns), format)) chunks.push(chunk);
  } finally {
    await session.close();
  }
  return Buffer.concat(chunks);
}
