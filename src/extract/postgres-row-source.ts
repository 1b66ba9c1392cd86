import pg from 'pg';
import Cursor from 'pg-cursor';
import type { DatabaseConfig } from '../config/config.ts';
import type { RawRow } from '../csv/csv-encoder.ts';
import type { ResultColumn } from '../csv/report-contract.ts';
import type { Logger } from '../log/logger.ts';
import type { ReportQuery, RowSource, RowStream } from './row-source.ts';
import { databaseLabel, pgClientConfig } from './pg-client-config.ts';
import { classifyDatabaseError } from './pg-errors.ts';

/**
 * Every value arrives as PostgreSQL's own text. The CSV wants text, and parsing (timestamps into
 * `Date`, which also moves them to the process's zone) is over half of the extraction's cost.
 * `numeric` and `int8` stay exact because they never become JavaScript numbers.
 */
const RAW_TEXT = { getTypeParser: () => (value: string) => value };

/**
 * If the process stalls between two fetches for this long (storage back-pressure, a hung
 * upload), the server ends the session rather than holding a snapshot open for ever.
 */
const IDLE_IN_TRANSACTION_TIMEOUT_MS = 15 * 60_000;
const CANCEL_TIMEOUT_MS = 2_000;

/** Reads the report from PostgreSQL in one read-only, repeatable-read snapshot through a cursor. */
export class PostgresRowSource implements RowSource {
  readonly #db: DatabaseConfig;
  readonly #logger: Logger;

  constructor(db: DatabaseConfig, logger: Logger) {
    this.#db = db;
    this.#logger = logger;
  }

  get label(): string {
    return databaseLabel(this.#db);
  }

  async describe(query: ReportQuery, signal: AbortSignal): Promise<ResultColumn[]> {
    const session = await this.#openSnapshot(query, signal);
    const cursor = session.client.query(new DescribeCursor(query.text, [...query.values], { rowMode: 'array', types: RAW_TEXT }));
    try {
      return await cursor.described;
    } catch (error) {
      throw classifyDatabaseError(error, 'extract', this.#db);
    } finally {
      await session.close(cursor);
    }
  }

  async open(query: ReportQuery, signal: AbortSignal): Promise<RowStream> {
    const session = await this.#openSnapshot(query, signal);
    const db = this.#db;
    const cursor = session.client.query(new Cursor(query.text, [...query.values], { rowMode: 'array', types: RAW_TEXT }));
    // After an error the server has already ended the portal (and answered the Sync pg-cursor
    // sent); closing it again would wait for a reply that never comes.
    let failed = false;
    const closeSession = () => session.close(failed ? undefined : cursor);
    const read = (rows: number) =>
      new Promise<{ rows: RawRow[]; fields: ResultColumn[] }>((resolve, reject) => {
        cursor.read(rows, (error, batch, result) => {
          if (error) {
            failed = true;
            reject(classifyDatabaseError(error, 'extract', db));
          } else resolve({ rows: batch as RawRow[], fields: result?.fields ?? [] });
        });
      });

    let first: Awaited<ReturnType<typeof read>>;
    try {
      first = await read(query.fetchRows);
    } catch (error) {
      await closeSession();
      throw error;
    }

    let closed: Promise<void> | undefined;
    return {
      columns: first.fields.map(({ name, dataTypeID }) => ({ name, dataTypeID })),
      close: () => (closed ??= closeSession()),
      async *[Symbol.asyncIterator]() {
        let batch = first.rows;
        while (batch.length > 0) {
          // Ask for the next batch before handing this one over, so the database produces rows
          // while we encode and upload (pg-cursor would otherwise idle the server in between).
          const next = batch.length < query.fetchRows ? Promise.resolve({ rows: [] as RawRow[], fields: [] }) : read(query.fetchRows);
          next.catch(() => undefined); // observed below; keeps an early stop from leaving an unhandled rejection
          yield batch;
          batch = (await next).rows;
        }
      },
    };
  }

  /** Connects and starts the snapshot; the returned `close` always ends the connection. */
  async #openSnapshot(query: ReportQuery, signal: AbortSignal) {
    signal.throwIfAborted();
    const db = this.#db;
    const logger = this.#logger;
    const client = new pg.Client(pgClientConfig(db));
    // Without a listener an error on an idle client would crash the process.
    client.on('error', (error) => logger.debug({ err: error }, 'database connection error'));
    const onAbort = () => void cancelAndDisconnect(client, db);
    signal.addEventListener('abort', onAbort, { once: true });

    const close = async (cursor?: Cursor) => {
      signal.removeEventListener('abort', onAbort);
      try {
        // An open portal inside a transaction can hold locks: close it before anything else.
        if (cursor) await withTimeout(cursor.close(), CANCEL_TIMEOUT_MS);
        await withTimeout(client.query('ROLLBACK'), CANCEL_TIMEOUT_MS);
      } catch {
        // The connection is already broken; ending it below is all that is left to do.
      } finally {
        await withTimeout(client.end(), CANCEL_TIMEOUT_MS).catch(() => undefined);
      }
    };

    try {
      await client.connect();
      // READ ONLY: the report can never write. REPEATABLE READ: every row comes from one snapshot,
      // however long the extraction takes.
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      await client.query(
        `SELECT set_config('TimeZone', $1, true), set_config('DateStyle', 'ISO, YMD', true),
                set_config('statement_timeout', $2, true), set_config('idle_in_transaction_session_timeout', $3, true)`,
        [query.timezone, String(query.statementTimeoutMs), String(IDLE_IN_TRANSACTION_TIMEOUT_MS)],
      );
    } catch (error) {
      await close();
      throw classifyDatabaseError(error, 'connect', db);
    }
    return { client, close };
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
    const canceller = new pg.Client({ ...pgClientConfig(db), connectionTimeoutMillis: CANCEL_TIMEOUT_MS });
    canceller.on('error', () => undefined);
    await withTimeout(
      canceller.connect().then(() => canceller.query('SELECT pg_cancel_backend($1)', [pid])),
      CANCEL_TIMEOUT_MS,
    ).catch(() => undefined);
    void canceller.end().catch(() => undefined);
  }
  (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
}

/**
 * A cursor that stops at the protocol's Describe step: parse, bind and describe the portal, never
 * execute. `validate` learns the result's columns and types without the database producing a row.
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

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
