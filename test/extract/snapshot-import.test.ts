import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigurationIsInvalid, ExitCode } from '../../src/errors.ts';
import { openSharedSnapshot } from '../../src/extract/postgres-shared-snapshot.ts';
import { createDemoDatabase, setReaderPassword } from '../support/demo-database.ts';
import { PGBOUNCER, startPgbouncer } from '../support/pgbouncer.ts';
import { startPostgres, type RunningPostgres } from '../support/postgres-server.ts';
import { RoundRobinProxy } from '../support/round-robin-proxy.ts';
import { recordsOf, sourceAndQuery } from '../support/shared-source.ts';
import { createTestDatabase, READER_PASSWORD, sql, type TestDatabase } from '../support/test-database.ts';

const DATE = '2024-10-05';
const DATA = { users: 100, transactions: 2_000, days: 2, until: "'2024-10-05T12:00:00-03:00'::timestamptz" };

describe('where worker sessions cannot import the snapshot', () => {
  let db: TestDatabase;
  let replica: RunningPostgres;
  let balancer: RoundRobinProxy;

  beforeAll(async () => {
    // Two servers with the same database, role and password behind one round-robin address: a
    // load-balanced "reader endpoint". Each connection lands on the next server.
    db = await createTestDatabase('balanced', DATA);
    replica = await startPostgres();
    await createDemoDatabase(replica.endpoint, db.name, DATA);
    await setReaderPassword(replica.endpoint, READER_PASSWORD);
    balancer = await RoundRobinProxy.start([db.endpoint, replica.endpoint]);
  });

  afterAll(async () => {
    await balancer?.close();
    await replica?.stop();
  });

  it('a load-balanced endpoint that sends a worker to another server is refused with exit 2, before any shard runs, naming the cause and the fix', async () => {
    const { source, query } = await sourceAndQuery(db, DATE, { PGPORT: String(balancer.port) });
    const error = await source.openShared(query, { shards: 4 }, new AbortController().signal).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ConfigurationIsInvalid);
    expect((error as ConfigurationIsInvalid).exitCode).toBe(ExitCode.invalidInput);
    expect((error as Error).message).toContain("a worker connection to 127.0.0.1:");
    expect((error as Error).message).toMatch(/could not import the coordinator's snapshot ([0-9A-F-]+): (invalid snapshot identifier|snapshot "\1" does not exist)/);
    expect((error as Error).message).toContain('not a load-balanced endpoint');
    expect((error as Error).message).toContain('set REPORT_PARALLELISM=1');
    expect((error as Error).message).not.toContain(READER_PASSWORD);
  });

  it('the same endpoint still serves a single-stream run (one connection, no snapshot to share)', async () => {
    const { source, query, format } = await sourceAndQuery(db, DATE, { PGPORT: String(balancer.port) });
    const records = await recordsOf(await source.open(query, new AbortController().signal), format);
    expect(records.length).toBeGreaterThan(0);
  });
});

describe('idle sessions of a shared snapshot', () => {
  it('the heartbeat keeps the coordinator and an idle worker alive past idle_in_transaction_session_timeout, so a later shard still runs in the snapshot', async () => {
    const db = await createTestDatabase('heartbeat', DATA);
    const { query, format, database, logger } = await sourceAndQuery(db, DATE);
    // A 1-second idle timeout, a heartbeat every 200 ms: without the heartbeat the server would end both sessions.
    const shared = await openSharedSnapshot(database, query, 3, new AbortController().signal, logger, { idleTimeoutMs: 1_000, heartbeatMs: 200 });
    try {
      const first = await recordsOf(await shared.openShard(shared.shards[0]!, new AbortController().signal), format);
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      // Both still there: the coordinator and the idle worker.
      const { rows } = await sql(db, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'daily-report'`, [db.name]);
      expect(rows[0].n).toBe(2);
      // Two at once: one reuses the idle worker, one imports afresh (the coordinator must still be there).
      const [second, third] = await Promise.all(shared.shards.slice(1).map(async (shard) => recordsOf(await shared.openShard(shard, new AbortController().signal), format)));
      expect(first.length * second!.length * third!.length).toBeGreaterThan(0);
    } finally {
      await shared.close();
    }
  });
});

describe.skipIf(!PGBOUNCER)('through PgBouncer (Debian pgbouncer; skipped when it is not installed)', () => {
  it.each(['transaction', 'session'] as const)('in %s pooling mode, the workers share the snapshot: each transaction keeps its server connection, and the coordinator\'s stays open', async (mode) => {
    const db = await createTestDatabase(`bouncer_${mode}`, DATA);
    const bouncer = await startPgbouncer(db.endpoint, mode, { name: 'report_reader', password: READER_PASSWORD });
    try {
      const { source, query, format } = await sourceAndQuery(db, DATE, { PGPORT: String(bouncer.port) });
      const single = await recordsOf(await source.open(query, new AbortController().signal), format);
      const shared = await source.openShared(query, { shards: 4 }, new AbortController().signal);
      try {
        const parts = await Promise.all(shared.shards.map(async (shard) => recordsOf(await shared.openShard(shard, new AbortController().signal), format)));
        expect(shared.shards.length).toBe(4);
        expect(Buffer.concat(parts).equals(single)).toBe(true);
      } finally {
        await shared.close();
      }
    } finally {
      await bouncer.stop();
    }
  });

  it('in statement pooling mode, no transaction can start: the run fails at connect, single stream or not', async () => {
    const db = await createTestDatabase('bouncer_statement', DATA);
    const bouncer = await startPgbouncer(db.endpoint, 'statement', { name: 'report_reader', password: READER_PASSWORD });
    try {
      const { source, query } = await sourceAndQuery(db, DATE, { PGPORT: String(bouncer.port) });
      for (const open of [() => source.open(query, new AbortController().signal), () => source.openShared(query, { shards: 4 }, new AbortController().signal)]) {
        const error = await open().catch((e: unknown) => e);
        expect((error as Error).message).toContain('transaction blocks not allowed in statement pooling mode');
      }
    } finally {
      await bouncer.stop();
    }
  });
});
