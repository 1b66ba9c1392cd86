import type pg from 'pg';
import Cursor from 'pg-cursor';
import type { DatabaseConfig } from '../config/config.ts';
import type { ResultColumn } from '../csv/report-contract.ts';
import type { Logger } from '../log/logger.ts';
import { withLiteralValues } from './named-parameters.ts';
import { connectDatabase, sessionSettings, setConfigStatement } from './pg-connection.ts';
import { classifyDatabaseError } from './pg-errors.ts';
import type { ReportQuery } from './report-source.ts';

/** An open, read-only snapshot with the run's values set, and the query's columns described. */
export interface Snapshot {
  readonly client: pg.Client;
  /** The query with each `:name` written as its value (a typed literal). */
  readonly sql: string;
  /** The query it was made from, to point a database error at the user's line and column. */
  readonly query: ReportQuery;
  readonly columns: readonly ResultColumn[];
  /** Marks the connection unusable (a COPY or cursor left mid-stream): close then just drops it. */
  markBroken(): void;
  close(): Promise<void>;
}

/**
 * Connects, starts the snapshot and describes the query. READ ONLY: the report can never write.
 * REPEATABLE READ: every row comes from one snapshot, however long the extraction takes. The
 * run's values are literals in the SQL (named-parameters.ts), so the planner sees the window.
 */
export async function openSnapshot(db: DatabaseConfig, query: ReportQuery, signal: AbortSignal, logger: Logger): Promise<Snapshot> {
  const connection = await connectDatabase(db, signal, logger);
  const { client, close } = connection;
  const sql = withLiteralValues(query.sql, query.values);
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const settings = setConfigStatement(sessionSettings(query));
    await client.query(settings.text, settings.values);
  } catch (error) {
    await close();
    throw classifyDatabaseError(error, 'connect', db);
  }

  try {
    const columns = await describeColumns(client, sql);
    return { client, sql, query, columns, markBroken: connection.markBroken, close };
  } catch (error) {
    await close();
    throw classifyDatabaseError(error, 'extract', db, { text: sql, query });
  }
}

/** The query's result columns and their types, without the database producing a row. */
export async function describeColumns(client: pg.Client, sql: string): Promise<ResultColumn[]> {
  const describe = client.query(new DescribeCursor(sql, [], { rowMode: 'array' }));
  const described = await describe.described;
  await describe.close();
  return withTypes(client, described);
}

/**
 * The columns with their types' category and name from pg_type: the formula guard follows the
 * category (citext, enums and domains are not in any fixed list of OIDs). One small catalog
 * query in the snapshot.
 */
async function withTypes(client: pg.Client, columns: ResultColumn[]): Promise<ResultColumn[]> {
  if (columns.length === 0) return columns;
  const oids = [...new Set(columns.map((column) => column.dataTypeID))];
  const { rows } = await client.query<{ oid: number; category: string; name: string }>(
    'SELECT oid::int4 AS oid, typcategory::text AS category, format_type(oid, NULL) AS name FROM pg_catalog.pg_type WHERE oid = ANY($1::oid[])',
    [oids],
  );
  const types = new Map(rows.map((row) => [row.oid, row]));
  return columns.map((column) => ({ ...column, typeCategory: types.get(column.dataTypeID)?.category, typeName: types.get(column.dataTypeID)?.name }));
}

/**
 * A cursor that stops at the protocol's Describe step: parse, bind and describe the portal, never
 * execute. The result's columns and types are known without the database producing a row.
 */
class DescribeCursor extends Cursor {
  readonly described: Promise<ResultColumn[]>;
  #resolve!: (columns: ResultColumn[]) => void;

  constructor(...args: ConstructorParameters<typeof Cursor>) {
    super(...args);
    this.described = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.once('error', reject);
    });
  }

  /** The statement returns no rows at all (not a SELECT): no columns, which the contract rejects. */
  _ifNoData(): void {
    this.#resolve([]);
    (Cursor.prototype as unknown as { _ifNoData(): void })._ifNoData.call(this);
  }

  handleRowDescription(message: { fields: ResultColumn[] }): void {
    this.#resolve(message.fields.map(({ name, dataTypeID }) => ({ name, dataTypeID })));
    (Cursor.prototype as unknown as { handleRowDescription(m: unknown): void }).handleRowDescription.call(this, message);
  }
}
