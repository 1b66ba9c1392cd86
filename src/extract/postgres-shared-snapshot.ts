import type { DatabaseConfig } from '../config/config.ts';
import { ConfigurationIsInvalid, TransientFailure } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import { copyRecords } from './copy-records.ts';
import { cursorRecords } from './cursor-records.ts';
import { withLiteralValues } from './named-parameters.ts';
import { databaseLabel } from './pg-client-config.ts';
import { connectDatabase, IDLE_IN_TRANSACTION_TIMEOUT_MS, sessionSettings, setConfigStatement, type PgConnection } from './pg-connection.ts';
import { classifyDatabaseError } from './pg-errors.ts';
import { describeColumns, type Snapshot } from './postgres-session.ts';
import type { ReportQuery, ReportSession, SharedSnapshot, SubWindow } from './report-source.ts';
import { splitRefusal, splittableQuery, type SplittableQuery } from './query-splittability.ts';
import { planShards } from './shard-planner.ts';

/**
 * The coordinator and its idle worker connections say `SELECT 1` this often, so the server's
 * idle_in_transaction_session_timeout (15 min, kept as the guard against a hung process holding
 * a snapshot for ever) never ends a session that is only waiting for the other workers: the
 * coordinator is idle for the whole run, a worker between two shards. A process that truly hangs
 * stops saying it, and the server still ends the sessions 15 minutes later.
 */
const HEARTBEAT_MS = 60_000;

/** What pg_export_snapshot() returns: hex groups and dashes (spliced into SET TRANSACTION SNAPSHOT, which takes no parameter). */
const SNAPSHOT_ID = /^[0-9A-F]+(?:-[0-9A-F]+)+$/i;

/**
 * Which server a session reached: the postmaster's start (to the microsecond: two servers, or a
 * primary and its replica, never share it) and the database. Not the server's address: one server
 * reached over IPv4 and IPv6 (PGHOST=localhost) would look like two.
 */
const SERVER_IDENTITY_SQL = "extract(epoch FROM pg_postmaster_start_time())::text || '/' || current_database() AS server_identity";

interface Worker {
  readonly connection: PgConnection;
  /** The transaction failed (a query error): it cannot run another shard. */
  unusable: boolean;
  /** Records are being read: a session closed now leaves a COPY or a portal open on the connection. */
  reading: boolean;
}

/**
 * The coordinator: one connection in a REPEATABLE READ READ ONLY transaction that exports its
 * snapshot, describes the query once and plans the shards; workers import the snapshot and run
 * the query over their sub-windows. It stays open until `close`, because PostgreSQL lets a
 * snapshot be imported only while the transaction that exported it is open.
 */
export async function openSharedSnapshot(
  db: DatabaseConfig,
  query: ReportQuery,
  shards: number,
  signal: AbortSignal,
  logger: Logger,
  /** Tests shorten both to see the heartbeat keep idle sessions alive. */
  timing: { readonly idleTimeoutMs: number; readonly heartbeatMs: number } = { idleTimeoutMs: IDLE_IN_TRANSACTION_TIMEOUT_MS, heartbeatMs: Math.min(HEARTBEAT_MS, IDLE_IN_TRANSACTION_TIMEOUT_MS / 3) },
): Promise<SharedSnapshot> {
  if (!Number.isInteger(shards) || shards < 1) throw new RangeError(`shards must be a whole number ≥ 1, not ${shards}`);
  const server = databaseLabel(db);
  // Before any connection: a query that cannot be split is refused without touching the database.
  const split = shards > 1 ? await splittableQuery(query.sql, query.file) : undefined;
  const coordinator = await connectDatabase(db, signal, logger);
  const idle: Worker[] = [];
  const active = new Set<Worker>();
  let heartbeat: NodeJS.Timeout | undefined;
  let closed: Promise<void> | undefined;
  /** Idle workers closed once the last shard was under way. */
  const retiring: Promise<void>[] = [];

  const close = () =>
    (closed ??= (async () => {
      clearInterval(heartbeat);
      for (const worker of active) worker.connection.markBroken(); // left mid-query: drop, do not wait
      await Promise.all([...idle.splice(0), ...active].map((worker) => worker.connection.close()).concat(retiring));
      active.clear();
      await coordinator.close();
    })());

  let snapshotId: string;
  let instant: string;
  let identity: string;
  try {
    await coordinator.client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const settings = setConfigStatement(sessionSettings(query, timing.idleTimeoutMs));
    await coordinator.client.query(settings.text, settings.values);
    // After the settings: the instant is written in the report's zone.
    const { rows } = await coordinator.client.query<{ id: string; instant: string; server_identity: string }>(
      `SELECT pg_export_snapshot() AS id, to_char(transaction_timestamp(), 'YYYY-MM-DD"T"HH24:MI:SS.USTZH:TZM') AS instant, ${SERVER_IDENTITY_SQL}`,
    );
    ({ id: snapshotId, instant, server_identity: identity } = rows[0]!);
    if (!SNAPSHOT_ID.test(snapshotId)) throw new Error(`pg_export_snapshot() returned an unexpected identifier ${JSON.stringify(snapshotId)}`);
  } catch (error) {
    await close();
    throw classifyDatabaseError(error, 'connect', db);
  }

  const sql = withLiteralValues(query.sql, query.values);
  let columns: Awaited<ReturnType<typeof describeColumns>>;
  let planned: SubWindow[];
  try {
    columns = await describeColumns(coordinator.client, sql);
    if (split) await refuseAggregates(coordinator, query, split);
    const started = performance.now();
    const plan = await planShards(coordinator.client, query, shards, split?.windowColumn);
    planned = plan.shards;
    logger.debug({ phase: 'extract', method: plan.method, fallback: plan.fallback, shards: planned.length, asked: shards, duration_ms: Math.round(performance.now() - started) }, 'shards planned');
  } catch (error) {
    await close();
    throw classifyDatabaseError(error, 'extract', db, { text: sql, query });
  }

  /** A new worker: its own connection, the coordinator's snapshot imported before anything else runs in its transaction. */
  const importWorker = async (): Promise<Worker> => {
    const connection = await connectDatabase(db, signal, logger);
    const { client } = connection;
    try {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    } catch (error) {
      await connection.close();
      throw classifyDatabaseError(error, 'connect', db);
    }
    try {
      await client.query(`SET TRANSACTION SNAPSHOT '${snapshotId}'`);
    } catch (error) {
      await connection.close();
      // The server answered with an error: the snapshot is not there. A lost connection or an abort is not that.
      const sqlState = (error as { code?: unknown }).code;
      const refused = typeof sqlState === 'string' && /^[0-9A-Z]{5}$/.test(sqlState) && !['08', '53', '57'].includes(sqlState.slice(0, 2));
      throw refused && !signal.aborted ? importFailed(error, db, snapshotId, coordinatorGone()) : classifyDatabaseError(error, 'connect', db);
    }
    let reached: string;
    try {
      const settings = setConfigStatement(sessionSettings(query, timing.idleTimeoutMs), SERVER_IDENTITY_SQL);
      const { rows } = await client.query<{ server_identity: string }>(settings.text, settings.values);
      reached = rows[0]!.server_identity;
    } catch (error) {
      await connection.close();
      throw classifyDatabaseError(error, 'connect', db);
    }
    if (reached !== identity) {
      await connection.close();
      throw new ConfigurationIsInvalid([
        `REPORT_PARALLELISM: a worker connection to ${server} reached a different PostgreSQL server than the coordinator `
          + `(coordinator ${identity}, worker ${reached}), so the workers cannot share one snapshot: PGHOST is a load-balanced endpoint; `
          + 'point PGHOST at one server (e.g. the replica\'s own service, not a round-robin one) or set REPORT_PARALLELISM=1',
      ], { phase: 'connect', context: { database: server } });
    }
    return { connection, unusable: false, reading: false };
  };
  const coordinatorGone = () => coordinator.broken;

  try {
    // Import once now, so a pooler or load balancer that breaks the import is refused before
    // anything is published; the worker then serves the first shard.
    if (planned.length > 1) idle.push(await importWorker());
  } catch (error) {
    await close();
    throw error;
  }

  heartbeat = setInterval(() => {
    for (const connection of [coordinator, ...idle.map((worker) => worker.connection)]) {
      connection.client.query('SELECT 1').catch((error: unknown) => logger.debug({ err: error }, 'heartbeat failed'));
    }
  }, timing.heartbeatMs);
  heartbeat.unref();

  /** Shards handed to a worker so far. */
  let opened = 0;
  const openShard = async (window: SubWindow, shardSignal: AbortSignal): Promise<ReportSession> => {
    if (closed) throw new Error('openShard after close');
    shardSignal.throwIfAborted();
    signal.throwIfAborted();
    const values = { ...query.values, window_start: window.start, window_end: window.end };
    const shardQuery: ReportQuery = { ...query, values };
    const shardSql = withLiteralValues(query.sql, values);
    let worker = idle.pop();
    while (worker?.connection.broken) {
      void worker.connection.close(); // ended while idle (a heartbeat could not save it): import afresh
      worker = idle.pop();
    }
    worker ??= await importWorker();
    if (closed) {
      await worker.connection.close(); // closed while this worker was importing
      throw new Error('openShard after close');
    }
    // The last shard is under way: an idle worker has nothing left to run here, while the next
    // source's shards need connections (the connection bound in docs/parallel-extraction.md, "Settings").
    if (++opened >= planned.length) retiring.push(...idle.splice(0).map((spare) => spare.connection.close()));
    active.add(worker);
    const stopWatching = shardSignal === signal ? () => undefined : worker.connection.cancelOn(shardSignal);
    let released: Promise<void> | undefined;
    const release = () =>
      (released ??= (async () => {
        stopWatching();
        active.delete(worker);
        if (worker.reading) worker.connection.markBroken(); // closed mid-stream: drop it, do not wait for the COPY or cursor
        if (worker.connection.broken || worker.unusable || closed || opened >= planned.length) await worker.connection.close();
        else idle.push(worker);
      })());
    const snapshot: Snapshot = { client: worker.connection.client, sql: shardSql, query: shardQuery, columns, markBroken: worker.connection.markBroken, close: release };
    const counter = { rows: 0 };
    return {
      columns,
      get rows() {
        return counter.rows;
      },
      records: (plan, format) =>
        reusableAfter(
          query.engine === 'copy' ? copyRecords(snapshot, plan, format, counter, db) : cursorRecords(snapshot, plan, format, query.fetchRows, counter, db),
          worker,
        ),
      close: release,
    };
  };

  return { columns, snapshotId, instant, server, identity, shards: planned, openShard, close };
}

/**
 * An aggregate is a plain function call in the parse tree (`sum(x)`): the catalog says which
 * names are aggregates. Any aggregate of that name, in any schema, is refused (conservative).
 */
async function refuseAggregates(coordinator: PgConnection, query: ReportQuery, split: SplittableQuery): Promise<void> {
  if (split.functionNames.length === 0) return;
  const { rows } = await coordinator.client.query<{ name: string }>(
    "SELECT DISTINCT proname::text AS name FROM pg_catalog.pg_proc WHERE prokind IN ('a', 'w') AND proname = ANY($1::text[])",
    [split.functionNames],
  );
  const aggregate = split.functionNames.find((name) => rows.some((row) => row.name === name));
  if (aggregate !== undefined) {
    throw splitRefusal(query.sql, query.file, `the aggregate ${aggregate}() combines rows across the whole result`, split.functionAt.get(aggregate), 'Report one line per source row');
  }
}

/** The records; a worker whose records ended in an error has an aborted transaction and is not reused. */
async function* reusableAfter(records: AsyncGenerator<Buffer>, worker: Worker): AsyncGenerator<Buffer> {
  let finished = false;
  worker.reading = true;
  try {
    yield* records;
    finished = true;
  } finally {
    worker.reading = false;
    if (!finished) worker.unusable = true;
  }
}

/**
 * The server refused the import. With the coordinator still connected the worker reached another
 * server (or a pooler routed it elsewhere): that is configuration, exit 2. With the coordinator's
 * session ended (terminated, a failover, a network cut) the snapshot is simply gone, which a retry
 * with a new snapshot mends: transient, so the Job is retried rather than failed at once.
 */
function importFailed(error: unknown, db: DatabaseConfig, snapshotId: string, coordinatorGone: boolean): ConfigurationIsInvalid | TransientFailure {
  const e = error as { message?: string; code?: string };
  const said = `${e.message ?? String(error)}${e.code ? ` (SQLSTATE ${e.code})` : ''}`;
  if (coordinatorGone) {
    return new TransientFailure(
      `a worker connection to ${databaseLabel(db)} could not import the coordinator's snapshot ${snapshotId}: ${said}. `
        + 'The coordinator session that exported it has ended (PostgreSQL keeps an exported snapshot only while its transaction is open): the run stops, and a retry opens a new snapshot',
      { phase: 'connect', cause: error, context: { database: databaseLabel(db), sqlState: e.code } },
    );
  }
  return new ConfigurationIsInvalid([
    `REPORT_PARALLELISM: a worker connection to ${databaseLabel(db)} could not import the coordinator's snapshot ${snapshotId}: ${said}. `
      + 'PostgreSQL finds an exported snapshot only on the server that exported it, while the exporting transaction is open: PGHOST must lead every connection to the same server, '
      + 'not a load-balanced endpoint, nor a pooler that routes connections to different servers or runs in statement mode; point PGHOST at one server directly or set REPORT_PARALLELISM=1',
  ], { phase: 'connect', cause: error, context: { database: databaseLabel(db), sqlState: e.code } });
}
