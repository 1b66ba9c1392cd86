import pg from 'pg';
import type { DatabaseConfig } from '../config/config.ts';
import type { Logger } from '../log/logger.ts';
import { pgClientConfig } from './pg-client-config.ts';
import { classifyDatabaseError, connectTimedOut } from './pg-errors.ts';
import type { ReportQuery } from './report-source.ts';

/**
 * If the process stalls between two reads for this long (storage back-pressure, a hung upload),
 * the server ends the session rather than holding a snapshot open for ever.
 */
export const IDLE_IN_TRANSACTION_TIMEOUT_MS = 15 * 60_000;
const CLOSE_TIMEOUT_MS = 2_000;

/** One database connection that a signal can cancel, closed exactly once. */
export interface PgConnection {
  readonly client: pg.Client;
  /** Marks the connection unusable (a COPY or cursor left mid-stream): close then just drops it. */
  markBroken(): void;
  readonly broken: boolean;
  /** Cancels the running statement and drops the connection when `signal` aborts; returns the unsubscribe. */
  cancelOn(signal: AbortSignal): () => void;
  /** Rolls back and ends the connection (or drops it when broken). */
  close(): Promise<void>;
}

/**
 * Connects, watching `signal` from the start (SIGTERM during a slow connect must not wait for it).
 * Connection failures become the product's errors (phase "connect").
 */
export async function connectDatabase(db: DatabaseConfig, signal: AbortSignal, logger: Logger): Promise<PgConnection> {
  signal.throwIfAborted();
  const client = new pg.Client(pgClientConfig(db));
  // Without a listener an error on an idle client would crash the process.
  client.on('error', (error) => logger.debug({ err: error }, 'database connection error'));
  let broken = false;
  // The server ended it (a timeout, pg_terminate_backend): nothing more can run on it.
  client.on('end', () => void (broken = true));
  let closed: Promise<void> | undefined;
  const unsubscribers = new Set<() => void>();
  const cancelOn = (watched: AbortSignal) => {
    const onAbort = () => void cancelAndDisconnect(client, db);
    if (watched.aborted) onAbort();
    else watched.addEventListener('abort', onAbort, { once: true });
    const unsubscribe = () => {
      watched.removeEventListener('abort', onAbort);
      unsubscribers.delete(unsubscribe);
    };
    unsubscribers.add(unsubscribe);
    return unsubscribe;
  };
  const close = () =>
    (closed ??= (async () => {
      for (const unsubscribe of [...unsubscribers]) unsubscribe();
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
  const connection: PgConnection = {
    client,
    markBroken: () => void (broken = true),
    get broken() {
      return broken;
    },
    cancelOn,
    close,
  };
  cancelOn(signal);

  const connectStarted = performance.now();
  try {
    await client.connect();
    return connection;
  } catch (error) {
    await close();
    const timedOut = db.connectTimeoutMs > 0 && performance.now() - connectStarted >= db.connectTimeoutMs;
    throw timedOut && !signal.aborted ? connectTimedOut(error, db) : classifyDatabaseError(error, 'connect', db);
  }
}

/**
 * The run's session settings, local to the transaction (a pooler in session mode keeps no trace of
 * them). Every setting that shapes a value's text is pinned, whatever the server, database, role or
 * PGOPTIONS say: the report is exact and the same every night only if `0.30000000000000004` is not
 * `0.3` because someone set extra_float_digits=0 (3: shortest exact from PostgreSQL 12, 17 digits
 * before), and an interval or a bytea is written in PostgreSQL's default form.
 */
export function sessionSettings(query: ReportQuery, idleInTransactionTimeoutMs = IDLE_IN_TRANSACTION_TIMEOUT_MS): [string, string][] {
  return [
    ['TimeZone', query.timezone],
    ['DateStyle', 'ISO, YMD'],
    ['extra_float_digits', '3'],
    ['IntervalStyle', 'postgres'],
    ['bytea_output', 'hex'],
    ['statement_timeout', String(query.statementTimeoutMs)],
    ['idle_in_transaction_session_timeout', String(idleInTransactionTimeoutMs)],
  ];
}

/** `SELECT set_config(…, true), …` for the settings, with `extra` select items after them. */
export function setConfigStatement(settings: readonly [string, string][], extra = ''): { text: string; values: string[] } {
  const calls = settings.map((_, i) => `set_config($${2 * i + 1}, $${2 * i + 2}, true)`).join(', ');
  return { text: `SELECT ${calls}${extra ? `, ${extra}` : ''}`, values: settings.flat() };
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
