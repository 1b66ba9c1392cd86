import pg from 'pg';
import Cursor from 'pg-cursor';
import type { DatabaseConfig } from '../config/config.ts';
import type { ResultColumn } from '../csv/report-contract.ts';
import type { Logger } from '../log/logger.ts';
import { withLiteralValues } from './named-parameters.ts';
import { pgClientConfig } from './pg-client-config.ts';
import { classifyDatabaseError, connectTimedOut } from './pg-errors.ts';
import type { ReportQuery } from './report-source.ts';

/**
 * If the process stalls between two reads for this long (storage back-pressure, a hung upload),
 * the server ends the session rather than holding a snapshot open for ever.
 */
const IDLE_IN_TRANSACTION_TIMEOUT_MS = 15 * 60_000;
const CLOSE_TIMEOUT_MS = 2_000;

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
  signal.throwIfAborted();
  const client = new pg.Client(pgClientConfig(db));
  // Without a listener an error on an idle client would crash the process.
  client.on('error', (error) => logger.debug({ err: error }, 'database connection error'));
  const onAbort = () => void cancelAndDisconnect(client, db);
  signal.addEventListener('abort', onAbort, { once: true });
  let broken = false;
  let closed: Promise<void> | undefined;

  const close = () =>
    (closed ??= (async () => {
      signal.removeEventListener('abort', onAbort);
      if (broken) {
        destroy(client);
        return;
      }
      try {
        await withTimeout(client.query('ROLLBACK'), CLOSE_TIMEOUT_MS);
        await withTimeout(client.end(), CLOSE_TIMEOUT_MS);
      } catch {
        destroy(client); // the connection is already broken: nothing else to do
      }
    })());

  const sql = withLiteralValues(query.sql, query.values);
  const connectStarted = performance.now();
  let connected = false;
  try {
    await client.connect();
    connected = true;
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const settings: [string, string][] = [
      ['TimeZone', query.timezone],
      ['DateStyle', 'ISO, YMD'],
      ['statement_timeout', String(query.statementTimeoutMs)],
      ['idle_in_transaction_session_timeout', String(IDLE_IN_TRANSACTION_TIMEOUT_MS)],
    ];
    await client.query(
      `SELECT ${settings.map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, true)`).join(', ')}`,
      settings.flat(),
    );
  } catch (error) {
    await close();
    const timedOut = !connected && db.connectTimeoutMs > 0 && performance.now() - connectStarted >= db.connectTimeoutMs;
    throw timedOut && !signal.aborted ? connectTimedOut(error, db) : classifyDatabaseError(error, 'connect', db);
  }

  try {
    const describe = client.query(new DescribeCursor(sql, [], { rowMode: 'array' }));
    const described = await describe.described;
    await describe.close();
    const columns = await withTypes(client, described);
    return { client, sql, query, columns, markBroken: () => (broken = true), close };
  } catch (error) {
    await close();
    throw classifyDatabaseError(error, 'extract', db, { text: sql, query });
  }
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

/**
 * SIGTERM: ask the server to cancel the running statement (so it stops work now rather than when
 * it next tries to send), then drop the connection. Both are bounded; the caller's `finally`
 * blocks then unwind with a connection error that the run maps to "terminated".
 */
async function cancelAndDisconnect(client: pg.Client, db: DatabaseConfig): Promise<void> {
  const pid = (client as unknown as { processID?: number }).processID;
  if (pid !== undefined) {
    const canceller = new pg.Client({ ...pgClientConfig(db), connectionTimeoutMillis: CLOSE_TIMEOUT_MS });
    canceller.on('error', () => undefined);
    await withTimeout(
      canceller.connect().then(() => canceller.query('SELECT pg_cancel_backend($1)', [pid])),
      CLOSE_TIMEOUT_MS,
    ).catch(() => undefined);
    void canceller.end().catch(() => undefined);
  }
  destroy(client);
}

function destroy(client: pg.Client): void {
  (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
