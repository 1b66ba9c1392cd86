import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SQL_FILE } from '../../src/report/report-settings.ts';
import { exitCodeOf, ExitCode, RunWasTerminated } from '../../src/errors.ts';
import { newWorld, worldsOfThisRun } from '../publish/fault-matrix-cases.ts';
import { queryFile } from '../support/report-files.ts';
import { runInProcess, sha256, type World } from '../support/publish-worlds.ts';
import { createTestDatabase, sql, type TestDatabase } from '../support/test-database.ts';

/**
 * REPORT_PARALLELISM > 1 against the real PostgreSQL and every storage world: the report is the
 * single stream's, byte for byte; the manifest tells the segments; a failing worker or SIGTERM
 * leaves nothing published, no query running and no spill file.
 */

// The report date's day in America/Sao_Paulo.
const NOW = () => new Date('2024-10-05T07:00:00Z');

async function runningQueries(db: TestDatabase): Promise<number> {
  const { rows } = await sql(db, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = 'daily-report' AND state = 'active'`, [db.name]);
  return rows[0].n as number;
}

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe('a parallel run of the shipped query', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    // One day of 100,000 rows: about 7 MB, more than one 5 MiB part (S3 multipart, several Azure blocks).
    db = await createTestDatabase('parallel', { users: 400, transactions: 100_000, days: 1, until: "'2024-10-05T00:00:00-03:00'::timestamptz" });
  });

  describe.each(worldsOfThisRun())('on $name', (spec) => {
    let world: World;
    beforeAll(async () => {
      world = await newWorld(spec);
    });
    afterAll(async () => world?.close());

    it('publishes at N = 2, 4 and 8 the very bytes N = 1 publishes, with a manifest of its segments', async () => {
      const spill = await mkdtemp(join(tmpdir(), 'spill-'));
      const single = await runInProcess(world, db, { sqlFile: DEFAULT_SQL_FILE, ifExists: 'overwrite', now: NOW });
      expect(single.error).toBeUndefined();
      const reference = (await world.state()).csv!.bytes;
      expect(single.summary!.rows).toBe(100_000);
      expect(reference.length).toBeGreaterThan(5 * 1024 * 1024);

      for (const n of [2, 4, 8]) {
        const run = await runInProcess(world, db, { sqlFile: DEFAULT_SQL_FILE, ifExists: 'overwrite', now: NOW, env: { REPORT_PARALLELISM: String(n), REPORT_SPILL_DIR: spill } });
        expect(run.error, `N=${n}`).toBeUndefined();
        const state = await world.state();
        expect(state.csv!.bytes.equals(reference), `N=${n}: the report differs from N=1`).toBe(true);
        const manifest = state.manifest!;
        expect(manifest.sha256).toBe(sha256(reference));
        expect(manifest.rows).toBe(single.summary!.rows);
        const segments = manifest.segments as { source: string; window_start: string; window_end: string; rows: number; bytes: number }[];
        expect(segments.length, `N=${n}`).toBeGreaterThan(n);
        // The segments tile the window, in order, and add up to the report (the header belongs to none).
        expect(segments[0]!.window_start).toBe(manifest.window_start);
        expect(segments.at(-1)!.window_end).toBe(manifest.window_end);
        for (let i = 1; i < segments.length; i++) expect(segments[i]!.window_start).toBe(segments[i - 1]!.window_end);
        // Every instant in the contract's one form, with the zone's offset (never UTC's `Z`).
        for (const segment of segments) for (const instant of [segment.window_start, segment.window_end]) expect(instant).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}-03:00$/);
        expect(segments.reduce((sum, s) => sum + s.rows, 0)).toBe(manifest.rows);
        const header = reference.indexOf('\r\n') + 2;
        expect(segments.reduce((sum, s) => sum + s.bytes, 0)).toBe(manifest.bytes - header);
        expect(new Set(segments.map((s) => s.source))).toEqual(new Set(['default']));
        expect(manifest.sources).toEqual([{ name: 'default', server: expect.stringContaining(`/${db.name}`), snapshot_instant: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*[+-]\d\d:\d\d$/), rows: manifest.rows }]);
      }
      expect(await readdir(spill)).toEqual([]);
    });
  });
});

describe('a parallel run, at the edges and when things fail (local storage)', () => {
  let db: TestDatabase;
  let world: World;
  beforeAll(async () => {
    db = await createTestDatabase('paredge', { users: 200, transactions: 8_000, days: 2, until: "'2024-10-05T00:00:00-03:00'::timestamptz" });
    world = await newWorld({ name: 'local', provider: 'local', strict: true });
  });
  afterAll(async () => world?.close());

  it('publishes the single stream\'s bytes with the cursor engine too', async () => {
    const spill = await mkdtemp(join(tmpdir(), 'spill-'));
    const cursor = { REPORT_ENGINE: 'cursor', REPORT_FETCH_ROWS: '97' };
    const one = await runInProcess(world, db, { sqlFile: DEFAULT_SQL_FILE, ifExists: 'overwrite', now: NOW, env: { ...cursor } });
    const reference = (await world.state()).csv!.bytes;
    const four = await runInProcess(world, db, { sqlFile: DEFAULT_SQL_FILE, ifExists: 'overwrite', now: NOW, env: { ...cursor, REPORT_PARALLELISM: '4', REPORT_SPILL_DIR: spill } });
    expect(one.error ?? four.error).toBeUndefined();
    expect(one.summary!.rows).toBeGreaterThan(1_000);
    expect((await world.state()).csv!.bytes.equals(reference)).toBe(true);
  });

  it('writes only the header for an empty window, and equal reports when most shards have no row', async () => {
    const spill = await mkdtemp(join(tmpdir(), 'spill-'));
    // Rows between 10:00 and 10:30 only: every other shard of the day is empty.
    const narrow = await queryFile(db.outDir, 'narrow', (await import('node:fs')).readFileSync(DEFAULT_SQL_FILE, 'utf8').replace('ORDER BY', "AND t.criado_em::time BETWEEN '10:00' AND '10:30' ORDER BY"));
    const one = await runInProcess(world, db, { sqlFile: narrow, ifExists: 'overwrite', now: NOW });
    const reference = (await world.state()).csv!.bytes;
    const four = await runInProcess(world, db, { sqlFile: narrow, ifExists: 'overwrite', now: NOW, env: { REPORT_PARALLELISM: '4', REPORT_SPILL_DIR: spill } });
    expect(one.error ?? four.error).toBeUndefined();
    const state = await world.state();
    expect(state.csv!.bytes.equals(reference)).toBe(true);
    expect(one.summary!.rows).toBeGreaterThan(0);
    expect((state.manifest!.segments as { rows: number }[]).filter((s) => s.rows === 0).length).toBeGreaterThan(0);

    const empty = await queryFile(db.outDir, 'empty', (await import('node:fs')).readFileSync(DEFAULT_SQL_FILE, 'utf8').replace('ORDER BY', 'AND false ORDER BY'));
    const none = await runInProcess(world, db, { sqlFile: empty, ifExists: 'overwrite', now: NOW, env: { REPORT_PARALLELISM: '4', REPORT_SPILL_DIR: spill } });
    expect(none.error).toBeUndefined();
    const header = await world.state();
    expect(header.csv!.bytes.toString('utf8')).toBe('data_extracao,nome_usuario,id_transacao,valor_transacao,status_transacao\r\n');
    expect(header.manifest!.rows).toBe(0);
    expect(await readdir(spill)).toEqual([]);
  });

  it('refuses a query that does not split (a LIMIT) with exit 2, before any shard runs, leaving the previous report', async () => {
    const limited = await queryFile(db.outDir, 'limited', (await import('node:fs')).readFileSync(DEFAULT_SQL_FILE, 'utf8').trimEnd() + '\nLIMIT 10');
    const one = await runInProcess(world, db, { sqlFile: limited, ifExists: 'overwrite', now: NOW, env: { REPORT_PARALLELISM: '1' } });
    expect(one.error).toBeUndefined();
    const published = await world.state();
    const run = await runInProcess(world, db, { sqlFile: limited, ifExists: 'overwrite', now: NOW, env: { REPORT_PARALLELISM: '4' } });
    expect(exitCodeOf(run.error), String(run.error)).toBe(ExitCode.invalidInput);
    expect((run.error as Error).message).toMatch(/LIMIT/);
    const after = await world.state();
    expect(after.csv?.bytes).toEqual(published.csv?.bytes);
    expect(after.manifest).toEqual(published.manifest);
  });

  it('when one worker meets bad data mid-stream, publishes nothing, exits 3, cancels the other queries and leaves no spill file', async () => {
    const spill = await mkdtemp(join(tmpdir(), 'spill-'));
    const before = await world.state();
    // A division by zero in the rows of the afternoon only: one shard fails, the others are cancelled.
    const failing = await queryFile(
      db.outDir,
      'failing',
      (await import('node:fs')).readFileSync(DEFAULT_SQL_FILE, 'utf8').replace('t.valor                   AS valor_transacao', "t.valor / CASE WHEN t.criado_em::time > '15:00' THEN 0 ELSE 1 END AS valor_transacao"),
    );
    const run = await runInProcess(world, db, { sqlFile: failing, ifExists: 'overwrite', now: NOW, env: { REPORT_PARALLELISM: '4', REPORT_SPILL_DIR: spill } });

    expect(exitCodeOf(run.error), String(run.error)).toBe(ExitCode.badData);
    expect((run.error as Error).message).toMatch(/division by zero/);
    const after = await world.state();
    expect(after.csv?.bytes).toEqual(before.csv?.bytes);
    expect(after.manifest).toEqual(before.manifest);
    expect(after.leftovers).toEqual([]);
    await until(async () => (await runningQueries(db)) === 0, "every query to end");
    expect(await readdir(spill)).toEqual([]);
  });

  it('on SIGTERM while segments are spilled, cancels every query, publishes nothing and removes the spill files', async () => {
    const spill = await mkdtemp(join(tmpdir(), 'spill-'));
    const before = await world.state();
    // The first hours are slow (a sleep per row), so the later segments finish first and wait on disk.
    const slow = await queryFile(
      db.outDir,
      'slow',
      (await import('node:fs')).readFileSync(DEFAULT_SQL_FILE, 'utf8').replace('ORDER BY', "AND (t.criado_em::time >= '03:00' OR pg_sleep(0.02) IS NOT NULL) ORDER BY"),
    );
    const controller = new AbortController();
    let spilled = 0;
    const watching = until(async () => {
      spilled = Math.max(spilled, (await readdir(spill)).length);
      return spilled > 0;
    }, 'a spill file').then(() => controller.abort(new Error('received SIGTERM')));

    const run = await runInProcess(world, db, { sqlFile: slow, ifExists: 'overwrite', now: NOW, signal: controller.signal, env: { REPORT_PARALLELISM: '4', REPORT_SPILL_DIR: spill } });
    await watching;

    expect(spilled).toBeGreaterThan(0);
    expect(run.error).toBeInstanceOf(RunWasTerminated);
    expect(exitCodeOf(run.error)).toBe(ExitCode.terminated);
    const after = await world.state();
    expect(after.csv?.bytes).toEqual(before.csv?.bytes);
    expect(after.manifest).toEqual(before.manifest);
    expect(await readdir(spill)).toEqual([]);
    await until(async () => (await runningQueries(db)) === 0, 'every query to end');
  });

  it('when one worker\'s backend is killed mid-stream, exits 1 (transient), cancels the others, publishes nothing and leaves no spill file', async () => {
    const spill = await mkdtemp(join(tmpdir(), 'spill-'));
    const before = await world.state();
    const slow = await queryFile(
      db.outDir,
      'slow-kill',
      (await import('node:fs')).readFileSync(DEFAULT_SQL_FILE, 'utf8').replace('ORDER BY', "AND (t.criado_em::time >= '03:00' OR pg_sleep(0.02) IS NOT NULL) ORDER BY"),
    );
    let killed = 0;
    const killing = until(async () => {
      if ((await readdir(spill)).length === 0) return false;
      // One worker of those still running (the first hours are slow, so one is there).
      const { rows } = await sql(db, `SELECT pg_terminate_backend(pid) AS done FROM (SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'daily-report' AND state = 'active' ORDER BY backend_start LIMIT 1) AS one`, [db.name]);
      killed = rows.filter((r) => r.done).length;
      return killed > 0;
    }, 'a worker to kill');

    const run = await runInProcess(world, db, { sqlFile: slow, ifExists: 'overwrite', now: NOW, env: { REPORT_PARALLELISM: '4', REPORT_SPILL_DIR: spill } });
    await killing;

    expect(killed).toBeGreaterThan(0);
    expect(exitCodeOf(run.error), String(run.error)).toBe(ExitCode.transient);
    expect(run.error).not.toBeInstanceOf(RunWasTerminated);
    const after = await world.state();
    expect(after.csv?.bytes).toEqual(before.csv?.bytes);
    expect(after.manifest).toEqual(before.manifest);
    expect(await readdir(spill)).toEqual([]);
    await until(async () => (await runningQueries(db)) === 0, 'every query to end');
  });
});
