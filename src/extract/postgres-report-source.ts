import type { DatabaseConfig } from '../config/config.ts';
import type { Logger } from '../log/logger.ts';
import { copyRecords } from './copy-records.ts';
import { cursorRecords } from './cursor-records.ts';
import { databaseLabel } from './pg-client-config.ts';
import { openSnapshot } from './postgres-session.ts';
import { openSharedSnapshot } from './postgres-shared-snapshot.ts';
import type { ReportQuery, ReportSession, ReportSource, SharedSnapshot } from './report-source.ts';

/** The report from PostgreSQL: one read-only snapshot (or one shared by workers), records from COPY or from a cursor. */
export class PostgresReportSource implements ReportSource {
  readonly #db: DatabaseConfig;
  readonly #logger: Logger;

  constructor(db: DatabaseConfig, logger: Logger) {
    this.#db = db;
    this.#logger = logger;
  }

  get label(): string {
    return databaseLabel(this.#db);
  }

  async open(query: ReportQuery, signal: AbortSignal): Promise<ReportSession> {
    const db = this.#db;
    const snapshot = await openSnapshot(db, query, signal, this.#logger);
    const counter = { rows: 0 };
    return {
      columns: snapshot.columns,
      get rows() {
        return counter.rows;
      },
      records: (plan, format) =>
        query.engine === 'copy'
          ? copyRecords(snapshot, plan, format, counter, db)
          : cursorRecords(snapshot, plan, format, query.fetchRows, counter, db),
      close: () => snapshot.close(),
    };
  }

  /** One exported snapshot, imported by every worker (postgres-shared-snapshot.ts). */
  openShared(query: ReportQuery, options: { readonly shards: number }, signal: AbortSignal): Promise<SharedSnapshot> {
    return openSharedSnapshot(this.#db, query, options.shards, signal, this.#logger);
  }
}
