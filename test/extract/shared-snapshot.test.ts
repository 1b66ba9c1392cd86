import { beforeAll, describe, expect, it } from 'vitest';
import { ExitCode, QueryIsInvalid, TransientFailure } from '../../src/errors.ts';
import { planColumns } from '../../src/csv/report-contract.ts';
import { instantMicros } from '../../src/extract/shard-plan.ts';
import { freePort } from '../support/child-processes.ts';
import { recordsOf, sourceAndQuery } from '../support/shared-source.ts';
import { createTestDatabase, sql, type TestDatabase } from '../support/test-database.ts';

const DATE = '2024-10-05';
// The report's day in America/Sao_Paulo (the test databases' zone): 2024-10-04 00:00 to 2024-10-05 00:00 at -03:00.
const DAY = { start: '2024-10-04T03:00:00Z', end: '2024-10-05T03:00:00Z' };

/** Rows of the shipped query that each SQL-side id is in, read back from CSV records (id_transacao is the third field). */
function ids(records: Buffer): string[] {
  return records.toString('utf8').split('\r\n').filter(Boolean).map((line) => line.split(',').at(-3)!);
}

async function activeQueries(db: TestDatabase, like: string): Promise<number> {
  const { rows } = await sql(db, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'daily-report' AND datname = $1 AND state = 'active' AND query LIKE $2`, [db.name, like]);
  return rows[0].n as number;
}

function sql_(db: TestDatabase) {
  return sql(db, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'daily-report'`, [db.name]);
}

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe('one snapshot shared by shard sessions', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase('shared', { users: 300, transactions: 6_000, days: 3, until: "'2024-10-06T00:00:00-03:00'::timestamptz" });
  });

  it.each([
    ['copy', 'one after another (one worker connection, reused)'],
    ['cursor', 'one after another (one worker connection, reused)'],
    ['copy', 'all at once (a worker connection each)'],
    ['cursor', 'all at once (a worker connection each)'],
  ])('the shards, in order, hold exactly the single stream\'s records for the shipped query (%s engine, shards read %s)', async (engine, how) => {
    const { source, query, format } = await sourceAndQuery(db, DATE, { REPORT_ENGINE: engine, REPORT_FETCH_ROWS: '97' });
    const single = await recordsOf(await source.open(query, new AbortController().signal), format);
    const shared = await source.openShared(query, { shards: 5 }, new AbortController().signal);
    try {
      expect(shared.shards.length).toBe(5);
      const read = async (shard: (typeof shared.shards)[number]) => recordsOf(await shared.openShard(shard, new AbortController().signal), format);
      const parts: Buffer[] = [];
      if (how.startsWith('all')) parts.push(...(await Promise.all(shared.shards.map(read))));
      else for (const shard of shared.shards) parts.push(await read(shard));
      expect(parts.every((part) => part.length > 0)).toBe(true);
      expect(ids(single).length).toBeGreaterThan(1_000);
      expect(Buffer.concat(parts).equals(single)).toBe(true);
    } finally {
      await shared.close();
    }
  });

  it('the shards tile the window: the first starts where it starts, each ends where the next starts, the last ends where it ends', async () => {
    const { source, query } = await sourceAndQuery(db, DATE);
    const shared = await source.openShared(query, { shards: 7 }, new AbortController().signal);
    try {
      const edges = shared.shards.flatMap((shard) => [shard.start, shard.end]).map(instantMicros);
      expect(edges[0]).toBe(instantMicros(DAY.start));
      expect(edges.at(-1)).toBe(instantMicros(DAY.end));
      for (let i = 1; i < edges.length; i++) expect(edges[i]! >= edges[i - 1]!).toBe(true);
      for (let i = 1; i < shared.shards.length; i++) expect(shared.shards[i]!.start).toBe(shared.shards[i - 1]!.end);
    } finally {
      await shared.close();
    }
  });

  it('after the export, a row inserted into the window is in no shard, a row deleted is still in its shard, and every shard sees the same :extracted_at', async () => {
    const { source, query, format } = await sourceAndQuery(db, DATE);
    const shared = await source.openShared(query, { shards: 4 }, new AbortController().signal);
    try {
      // Written after the export, each in a shard no worker has started yet.
      const { rows: [victim] } = await sql(db, `SELECT id::text FROM transacoes WHERE criado_em >= $1 AND criado_em < $2 ORDER BY criado_em DESC LIMIT 1`, [shared.shards[3]!.start, shared.shards[3]!.end]);
      await sql(db, `INSERT INTO transacoes (id, usuario_id, valor, status, criado_em) VALUES (42, 1, 1.00, 'aprovada', $1::timestamptz + interval '1 second')`, [shared.shards[2]!.start]);
      await sql(db, `DELETE FROM transacoes WHERE id = $1`, [victim.id]);
      const parts: Buffer[] = [];
      for (const shard of shared.shards) parts.push(await recordsOf(await shared.openShard(shard, new AbortController().signal), format));

      expect(parts.flatMap(ids)).not.toContain('42');
      expect(ids(parts[3]!)).toContain(victim.id);
      const extractedAt = new Set(parts.flatMap((part) => part.toString('utf8').split('\r\n').filter(Boolean).map((line) => line.split(',')[0])));
      expect([...extractedAt]).toEqual(['2024-10-05T04:00:00.000000-03:00']);
      // A new snapshot does see both writes: the test would pass for the wrong reason otherwise.
      const fresh = await recordsOf(await source.open(query, new AbortController().signal), format);
      expect(ids(fresh)).toContain('42');
      expect(ids(fresh)).not.toContain(victim.id);
    } finally {
      await shared.close();
    }
  });

  it('the snapshot names its instant and server, never the password', async () => {
    const { source, query } = await sourceAndQuery(db, DATE);
    const shared = await source.openShared(query, { shards: 2 }, new AbortController().signal);
    try {
      expect(shared.snapshotId).toMatch(/^[0-9A-F]+(-[0-9A-F]+)+$/);
      expect(shared.instant).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}-03:00$/);
      expect(Math.abs(Date.parse(shared.instant) - Date.now())).toBeLessThan(3_600_000);
      expect(shared.server).toBe(`${db.env.PGHOST}:${db.env.PGPORT}/${db.name}`);
      expect(JSON.stringify(shared)).not.toContain(db.env.PGPASSWORD);
    } finally {
      await shared.close();
    }
  });

  it('a worker that cannot import the snapshot because its coordinator ended fails transiently (exit 1: a retry opens a new snapshot), naming the snapshot and the cause', async () => {
    const { source, query } = await sourceAndQuery(db, DATE);
    const shared = await source.openShared(query, { shards: 3 }, new AbortController().signal);
    try {
      const first = await shared.openShard(shared.shards[0]!, new AbortController().signal); // the worker imported at open
      const { rows } = await sql(db, `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'daily-report' ORDER BY backend_start LIMIT 1`, [db.name]);
      const coordinator = rows[0]!.pid as number;
      await sql(db, 'SELECT pg_terminate_backend($1)', [coordinator]);
      // pg_terminate_backend only signals: until the backend has exited, its snapshot can still be imported.
      for (let i = 0; i < 200 && (await sql(db, 'SELECT 1 FROM pg_stat_activity WHERE pid = $1', [coordinator])).rowCount! > 0; i++) await new Promise((r) => setTimeout(r, 50));
      const error = await shared.openShard(shared.shards[1]!, new AbortController().signal).catch((e: unknown) => e);
      await first.close();

      expect(error).toBeInstanceOf(TransientFailure);
      expect((error as TransientFailure).exitCode).toBe(ExitCode.transient);
      expect((error as Error).message).toContain(`could not import the coordinator's snapshot ${shared.snapshotId}`);
      expect((error as Error).message).toMatch(/invalid snapshot identifier|does not exist/);
      expect((error as Error).message).toMatch(/the coordinator session that exported it has ended/i);
    } finally {
      await shared.close();
    }
  });

  it('an abort cancels every shard query that is running, and closing leaves no session behind', async () => {
    const slow = `SELECT :extracted_at::timestamptz AS data_extracao, 'x' AS nome_usuario, t.id AS id_transacao, t.valor AS valor_transacao, t.status AS status_transacao
      FROM transacoes AS t WHERE t.criado_em >= :window_start AND t.criado_em < :window_end AND (SELECT true FROM pg_sleep(60)) ORDER BY t.criado_em`;
    for (const engine of ['copy', 'cursor']) {
      const { source, query, format } = await sourceAndQuery(db, DATE, { REPORT_ENGINE: engine });
      const controller = new AbortController();
      const shared = await source.openShared({ ...query, sql: slow }, { shards: 3 }, controller.signal);
      const reading = shared.shards.slice(0, 2).map(async (shard) => recordsOf(await shared.openShard(shard, controller.signal), format));
      for (const r of reading) r.catch(() => undefined);
      await until(async () => (await activeQueries(db, '%pg_sleep(60)%')) === 2, 'both shard queries to run');
      controller.abort(new Error('received SIGTERM'));
      const outcomes = await Promise.allSettled(reading);
      await shared.close();

      expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
      await until(async () => (await activeQueries(db, '%pg_sleep(60)%')) === 0, 'the cancelled queries to end');
      await until(async () => Number((await sql(db, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'daily-report'`, [db.name])).rows[0].count) === 0, 'the sessions to end');
    }
  });

  it('an unsplittable query is refused with exit 2 before any connection is made', async () => {
    const closedPort = String(await freePort());
    const { source, query } = await sourceAndQuery(db, DATE, { PGPORT: closedPort });
    const error = await source.openShared({ ...query, sql: `${query.sql} LIMIT 10` }, { shards: 2 }, new AbortController().signal).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueryIsInvalid);
    expect((error as Error).message).toMatch(/LIMIT, OFFSET or FETCH FIRST limits the whole result/);
    // With one shard nothing is checked: the same query reaches the (closed) port and fails as a connection does.
    const single = await source.openShared({ ...query, sql: `${query.sql} LIMIT 10` }, { shards: 1 }, new AbortController().signal).catch((e: unknown) => e);
    expect((single as { exitCode?: number }).exitCode).toBe(ExitCode.transient);
  });

  it('an aggregate that only the catalog can recognise (no GROUP BY, no FILTER) is refused with exit 2, naming it and its place', async () => {
    const { source, query } = await sourceAndQuery(db, DATE);
    const sql = `SELECT :extracted_at::timestamptz AS data_extracao, 'todos' AS nome_usuario, max(t.id) AS id_transacao,
  sum(t.valor) AS valor_transacao, 'x' AS status_transacao FROM transacoes t WHERE t.criado_em >= :window_start AND t.criado_em < :window_end`;
    const error = await source.openShared({ ...query, sql, file: 'soma.sql' }, { shards: 3 }, new AbortController().signal).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueryIsInvalid);
    expect((error as Error).message).toContain('the aggregate max() combines rows across the whole result at line 1, column 78 of soma.sql');
    await until(async () => Number((await sql_(db)).rows[0].count) === 0, 'the coordinator to close');
  });

  it('plans shards of similar row counts from the window column\'s percentiles, even when most rows are in one hour', async () => {
    const skewed = await createTestDatabase('skewed');
    await sql(skewed, `INSERT INTO usuarios VALUES (1, 'Ana', NULL)`);
    // 2,000 rows in the day's first hour, 200 over the rest, and 300 on one single instant.
    await sql(skewed, `INSERT INTO transacoes SELECT g, 1, 1.00, 'aprovada', '2024-10-04T00:00:00-03:00'::timestamptz + (g % 3600) * interval '1 second' FROM generate_series(1, 2000) g`);
    await sql(skewed, `INSERT INTO transacoes SELECT 10000 + g, 1, 2.00, 'aprovada', '2024-10-04T01:00:00-03:00'::timestamptz + g * interval '5 minutes' FROM generate_series(1, 200) g`);
    await sql(skewed, `INSERT INTO transacoes SELECT 20000 + g, 1, 3.00, 'aprovada', '2024-10-04T12:00:00-03:00'::timestamptz FROM generate_series(1, 300) g`);
    await sql(skewed, 'ANALYZE transacoes');
    for (const engine of ['copy', 'cursor']) {
      const { source, query, format } = await sourceAndQuery(skewed, DATE, { REPORT_ENGINE: engine });
      const single = await recordsOf(await source.open(query, new AbortController().signal), format);
      const shared = await source.openShared(query, { shards: 8 }, new AbortController().signal);
      try {
        const parts: Buffer[] = [];
        for (const shard of shared.shards) parts.push(await recordsOf(await shared.openShard(shard, new AbortController().signal), format));
        const counts = parts.map((part) => ids(part).length);
        expect(Buffer.concat(parts).equals(single)).toBe(true);
        expect(counts.reduce((a, b) => a + b)).toBe(2_500);
        // Equal lengths of time would put 2,000 rows in the first of 8 shards; the percentiles split the busy hour.
        expect(shared.shards.length).toBeGreaterThanOrEqual(6);
        expect(Math.max(...counts.filter((n, i) => !parts[i]!.includes('12:00:00')))).toBeLessThanOrEqual(2 * 2_500 / 8);
        expect(counts.every((n) => n > 0)).toBe(true);
      } finally {
        await shared.close();
      }
    }
  });

  it('falls back to equal lengths of time when the window column\'s table cannot be told (a CTE), and the shards still add up to the single stream', async () => {
    const { source, query, format } = await sourceAndQuery(db, DATE);
    const sql = `WITH t AS (SELECT * FROM transacoes) SELECT :extracted_at::timestamptz AS data_extracao, u.nome AS nome_usuario, t.id AS id_transacao, t.valor AS valor_transacao, t.status AS status_transacao
      FROM t JOIN usuarios u ON u.id = t.usuario_id WHERE t.criado_em >= :window_start AND t.criado_em < :window_end ORDER BY t.criado_em, t.id`;
    const single = await recordsOf(await source.open({ ...query, sql }, new AbortController().signal), format);
    const shared = await source.openShared({ ...query, sql }, { shards: 6 }, new AbortController().signal);
    try {
      const lengths = shared.shards.map((shard) => instantMicros(shard.end) - instantMicros(shard.start));
      expect(new Set(lengths)).toEqual(new Set([4n * 3600n * 1_000_000n]));
      const parts: Buffer[] = [];
      for (const shard of shared.shards) parts.push(await recordsOf(await shared.openShard(shard, new AbortController().signal), format));
      expect(Buffer.concat(parts).equals(single)).toBe(true);
    } finally {
      await shared.close();
    }
  });

  it.each(['copy', 'cursor'])('a shard session closed mid-stream (%s engine) drops its connection; the next shards import afresh and still add up to the single stream', async (engine) => {
    const { source, query, format } = await sourceAndQuery(db, DATE, { REPORT_ENGINE: engine, REPORT_FETCH_ROWS: '50' });
    const single = await recordsOf(await source.open(query, new AbortController().signal), format);
    const shared = await source.openShared(query, { shards: 3 }, new AbortController().signal);
    try {
      const abandoned = await shared.openShard(shared.shards[0]!, new AbortController().signal);
      const iterator = abandoned.records(planColumns(abandoned.columns), format)[Symbol.asyncIterator]();
      expect((await iterator.next()).done).toBe(false);
      await abandoned.close(); // the consumer is gone (another shard failed, say) while this one was streaming
      const parts: Buffer[] = [];
      for (const shard of shared.shards) parts.push(await recordsOf(await shared.openShard(shard, new AbortController().signal), format));
      expect(Buffer.concat(parts).equals(single)).toBe(true);
    } finally {
      await shared.close();
    }
    await until(async () => Number((await sql_(db)).rows[0].count) === 0, 'every session to end');
  });
});
