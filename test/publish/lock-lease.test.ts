import { beforeAll, describe, expect, it } from 'vitest';
import type { RequestShape } from '../../src/publish/publish-steps.ts';
import { queryFile } from '../support/report-files.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { lateApplication } from '../support/fault-proxy.ts';
import { currentLock, plantLock, requestMatches, runInProcess, type World } from '../support/publish-worlds.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';
import { until } from '../support/until.ts';
import { newWorld, reportQuery, worldsOfThisRun } from './fault-matrix-cases.ts';
import { expectPublishedPair } from './publish-invariants.ts';

/**
 * The report's lock is a lease (REPORT_LOCK_LEASE): its holder renews it while it works, so a lock
 * whose holder died expires within one lease, and the next run waits for that and publishes. The
 * lock used to outlive its holder by the whole extraction's bound (2 h 40 min by default): after an
 * OOM kill, a SIGKILL or a lock created late by a request its run had stopped waiting for, the Job's
 * three retries (10, 20, 40 s apart) all met "another run is publishing", and the night's report was
 * missing. A short lease is only safe if a live holder keeps it however long its extraction takes.
 */
const LEASE = '5s';
const ROWS = 300;
const DATE = '2024-10-05';
const lockOf = (world: World) => () => currentLock(world);

describe('the report lock as a lease', () => {
  let db: TestDatabase;
  let fast: string;
  let slow: (seconds: number) => Promise<string>;

  beforeAll(async () => {
    db = await createTestDatabase('lease');
    fast = await queryFile(db.outDir, 'fast', reportQuery(ROWS, 1));
    slow = (seconds) => queryFile(db.outDir, `slow-${seconds}`, reportQuery(ROWS, 1, seconds));
  });

  describe.concurrent.each(worldsOfThisRun())('on $name', (spec) => {
    it('a run killed (SIGKILL) while it holds the lock does not cost the date: the next run waits for the lease to run out and publishes', async () => {
      const world = await newWorld(spec);
      try {
        const env = { ...db.env, ...world.childEnv(), REPORT_LOCK_LEASE: LEASE, REPORT_IF_EXISTS: 'fail' };
        let child: { kill(signal: NodeJS.Signals): boolean } | undefined;
        const killed = runDailyReport(['run', '--date', DATE], { env: { ...env, REPORT_SQL_FILE: await slow(15) }, onSpawn: (spawned) => (child = spawned) });
        const dead = await until(lockOf(world), 30_000, 'the first run taking the lock');
        child!.kill('SIGKILL');
        expect((await killed).signal).toBe('SIGKILL');
        expect((await lockOf(world)())?.run_id, 'the dead run’s lock is left behind').toBe(dead.run_id);

        const next = await runDailyReport(['run', '--date', DATE], { env: { ...env, REPORT_SQL_FILE: fast } });
        expect(next.code, next.stderr.slice(-1500)).toBe(0);
        const waited = next.logs.find((line) => /^another run's lock is on .*: waiting until \S+ for it to be released or to expire$/.test(line.msg));
        expect(waited?.holder_run_id, 'the run said whose lock it waited for').toBe(dead.run_id);
        const state = await world.state();
        expectPublishedPair(state, ROWS, spec.name);
        expect(state.lock, 'no lock left').toBeUndefined();
      } finally {
        await world.close();
      }
    }, 120_000);

    it('a holder whose extraction outlasts its lease keeps the lock: it renews it, a second run exits 1 naming it, and the holder publishes', async () => {
      const world = await newWorld(spec);
      try {
        const env = { ...db.env, ...world.childEnv(), REPORT_LOCK_LEASE: LEASE, REPORT_IF_EXISTS: 'fail' };
        // Three leases of extraction: without renewals its lock would have expired twice over.
        const holder = runDailyReport(['run', '--date', DATE], { env: { ...env, REPORT_SQL_FILE: await slow(15) } });
        const first = await until(lockOf(world), 30_000, 'the holder taking the lock');
        const renewals = new Set([first.renewed_at]);
        let watching = true;
        const watch = (async () => {
          while (watching) {
            const lock = await lockOf(world)();
            if (lock?.run_id === first.run_id) renewals.add(lock.renewed_at);
            await new Promise((resolve) => setTimeout(resolve, 250));
          }
        })();
        const second = await runDailyReport(['run', '--date', DATE], { env: { ...env, REPORT_SQL_FILE: fast } });
        expect(second.code, second.stderr.slice(-1500)).toBe(1);
        const error = second.logs.find((line) => line.level === 'error');
        expect(error?.err?.class).toBe('ReportIsBeingPublished');
        expect(error?.msg).toContain(`run id ${first.run_id}`);

        const done = await holder;
        watching = false;
        await watch;
        expect(done.code, JSON.stringify(done.logs.filter((l) => l.level === "error" || l.level === "warn"))).toBe(0);
        expect(renewals.size, 'renewals of the holder’s lock seen while it extracted').toBeGreaterThanOrEqual(3);
        const state = await world.state();
        expectPublishedPair(state, ROWS, spec.name);
        expect(state.manifest?.run_id).toBe(first.run_id);
        expect(state.lock).toBeUndefined();
      } finally {
        await world.close();
      }
    }, 120_000);
  });

  describe.concurrent.each(worldsOfThisRun())('on $name', (spec) => {
    it('a holder whose heartbeat finds its lock taken over stops its extraction there, not at the fence, and leaves the other run’s lock', async () => {
      const world = await newWorld(spec);
      try {
        const running = runInProcess(world, db, { sqlFile: await slow(60), ifExists: 'fail', env: { REPORT_LOCK_LEASE: LEASE } });
        await until(lockOf(world), 30_000, 'the holder taking the lock');
        // Another run took it over (what a waiting run does once the lease lapsed, e.g. while this one's renewals hung).
        await plantLock(world, { runId: 'intruder', holder: 'other-pod', expiresInMs: 3_600_000, replacing: 'any' });
        const run = await running;
        expect((run.error as Error | undefined)?.message).toMatch(/^lost the lock \S+ to run intruder \(other-pod\) while publishing; stopped before changing anything visible$/);
        // Stopped by the heartbeat: it never reached the fence (a 60 s query, a 5 s lease).
        expect(run.logs.some((line) => line.step === 'lock.renew'), 'the run reached the fence').toBe(false);
        const state = await world.state();
        expect(state.csv, 'no CSV').toBeUndefined();
        expect(state.manifest, 'no manifest').toBeUndefined();
        expect(state.lock?.run_id, 'the other run’s lock is left to it').toBe('intruder');
      } finally {
        await world.close();
      }
    }, 60_000);
  });

  const LOCK_RENEW: RequestShape = { object: 'lock', methods: ['PUT'], header: 'if-match' };
  describe.concurrent.each(worldsOfThisRun().filter((world) => world.provider !== 'local'))('on $name', (spec) => {
    it('a renewal that fails (503 on every attempt) is tried again a quarter lease later: the run keeps its lock and publishes', async () => {
      const world = await newWorld(spec);
      try {
        // One renewal's attempts (the world's STORAGE_MAX_ATTEMPTS is 3) fail; the extraction lasts two leases.
        let failed = 0;
        world.proxy!.inject({ match: (request) => requestMatches(LOCK_RENEW, request), times: 3, fault: { status: 503 }, onMatch: () => failed++ });
        const run = await runInProcess(world, db, { sqlFile: await slow(10), ifExists: 'fail', env: { REPORT_LOCK_LEASE: LEASE } });
        expect(run.error, 'the run').toBeUndefined();
        expect(failed, 'renewal attempts refused').toBe(3);
        expect(run.logs.some((line) => /^renewing the lock failed \(tried again (in 1 s|in under a second);/.test(line.msg)), 'the failed renewal is logged').toBe(true);
        const state = await world.state();
        expectPublishedPair(state, ROWS, spec.name);
        expect(state.manifest?.run_id).toBe(run.runId);
        expect(state.lock).toBeUndefined();
      } finally {
        await world.close();
      }
    }, 120_000);
  });

  // A renewal the server takes and never answers (a half-open connection) waits for the SDK's
  // timeout, then its retries — with STORAGE_REQUEST_TIMEOUT longer than the lease, longer than the
  // lease itself: the heartbeat, one renewal at a time, sent nothing else meanwhile, the live
  // holder's lock expired under it, and a waiting run took it over (the holder then failed at the fence).
  describe.concurrent.each(worldsOfThisRun().filter((world) => world.provider !== 'local'))('on $name', (spec) => {
    it('a renewal that gets no answer is abandoned after half a lease and tried again at once: a live holder keeps its lock even when STORAGE_REQUEST_TIMEOUT is longer than the lease', async () => {
      const world = await newWorld(spec);
      try {
        // 12 s lease (a renewal every 3 s); one request's timeout is 30 s.
        const env = { ...db.env, ...world.childEnv(), REPORT_LOCK_LEASE: '12s', STORAGE_REQUEST_TIMEOUT: '30s', REPORT_IF_EXISTS: 'fail' };
        let stalled = 0;
        world.proxy!.inject({ match: (request) => requestMatches(LOCK_RENEW, request), times: 1, fault: { stall: true }, onMatch: () => stalled++ });
        const holder = runDailyReport(['run', '--date', DATE], { env: { ...env, REPORT_SQL_FILE: await slow(16) } });
        const first = await until(lockOf(world), 30_000, 'the holder taking the lock');
        const second = await runDailyReport(['run', '--date', DATE], { env: { ...env, REPORT_SQL_FILE: fast } });
        const done = await holder;
        expect(stalled, 'renewals left unanswered').toBe(1);
        expect(second.code, `the second run: ${second.stderr.slice(-1500)}`).toBe(1);
        const error = second.logs.find((line) => line.level === 'error');
        expect(error?.err?.class).toBe('ReportIsBeingPublished');
        expect(error?.msg).toContain(`run id ${first.run_id}`);
        expect(done.code, JSON.stringify(done.logs.filter((l) => l.level === 'error' || l.level === 'warn'))).toBe(0);
        expect(done.logs.some((line) => /^renewing the lock failed/.test(line.msg)), 'the unanswered renewal is logged').toBe(true);
        const state = await world.state();
        expectPublishedPair(state, ROWS, spec.name);
        expect(state.manifest?.run_id).toBe(first.run_id);
        expect(state.lock, 'no lock left').toBeUndefined();
      } finally {
        await world.close();
      }
    }, 120_000);
  });

  // Renewals from a server slow to answer each one. A quarter lease counted from the answer spaced
  // those answered after 0.4 of a 12 s lease 8 s apart, each landing a second after the one before had
  // expired — long enough for a waiting run to take a live lock over; and abandoning renewals after a
  // quarter lease (not half) dropped those answered after 0.3. Only the holder's renewals (by the run
  // id they carry as metadata) are slowed: the waiting run's takeover must not be. The waiting run
  // starts after the first renewal, when the lock as taken no longer covers the gap.
  describe.concurrent.each(worldsOfThisRun().filter((world) => world.provider !== 'local'))('on $name', (spec) => {
    it.each([3_600, 5_000])('renewals answered slowly (each %d ms late, of a 12 s lease) still keep a live holder’s lock: a waiting run exits 1 naming it', async (lateMs) => {
      const world = await newWorld(spec);
      try {
        const env = { ...db.env, ...world.childEnv(), REPORT_LOCK_LEASE: '12s', STORAGE_REQUEST_TIMEOUT: '30s', REPORT_IF_EXISTS: 'fail' };
        let slowed = 0;
        let holderRunId: string | undefined;
        const byHolder = (headers: Record<string, unknown>) => holderRunId !== undefined && (headers['x-amz-meta-run_id'] ?? headers['x-ms-meta-run_id']) === holderRunId;
        world.proxy!.inject({
          match: (request) => requestMatches(LOCK_RENEW, request) && byHolder(request.headers),
          // A fresh hold for each request.
          get fault() {
            return { hold: new Promise<void>((resolve) => setTimeout(resolve, lateMs)) };
          },
          onMatch: () => slowed++,
        });
        const holder = runDailyReport(['run', '--date', DATE], { env: { ...env, REPORT_SQL_FILE: await slow(24) } });
        const first = await until(lockOf(world), 30_000, 'the holder taking the lock');
        holderRunId = first.run_id;
        await until(async () => ((await currentLock(world))?.renewed_at ?? first.renewed_at) !== first.renewed_at || undefined, 30_000, 'the first renewal');
        const second = await runDailyReport(['run', '--date', DATE], { env: { ...env, REPORT_SQL_FILE: fast } });
        const done = await holder;
        expect(slowed, 'renewals answered late').toBeGreaterThanOrEqual(2);
        expect(second.code, `the second run: ${second.stderr.slice(-1500)}`).toBe(1);
        expect(second.logs.find((line) => line.level === 'error')?.msg).toContain(`run id ${first.run_id}`);
        expect(done.code, JSON.stringify(done.logs.filter((l) => l.level === 'error' || l.level === 'warn'))).toBe(0);
        const state = await world.state();
        expectPublishedPair(state, ROWS, spec.name);
        expect(state.manifest?.run_id).toBe(first.run_id);
        expect(state.lock, 'no lock left').toBeUndefined();
      } finally {
        await world.close();
      }
    }, 120_000);
  });

  // SIGTERM while the lock's creation is at the server, which applies it after the run has gone
  // (what S3 does with a request whose client disconnected): a lock nobody will renew or release.
  const LOCK_TAKE: RequestShape = { object: 'lock', methods: ['PUT'], header: 'if-none-match' };
  describe.concurrent.each(worldsOfThisRun().filter((world) => world.provider !== 'local'))('on $name', (spec) => {
    it('a lock created late, after its run stopped on SIGTERM, blocks the date for one lease only: the next run publishes', async () => {
      const world = await newWorld(spec);
      try {
        const controller = new AbortController();
        const late = lateApplication();
        world.proxy!.inject({
          match: (request) => requestMatches(LOCK_TAKE, request),
          times: 1,
          fault: late.fault,
          onMatch: () => setTimeout(() => controller.abort(new Error('received SIGTERM')), 20),
        });
        const env = { REPORT_LOCK_LEASE: LEASE };
        const stopped = await runInProcess(world, db, { sqlFile: fast, ifExists: 'fail', signal: controller.signal, env });
        expect(stopped.error, 'the run stopped on the signal').toBeDefined();
        late.release();
        await late.applied;
        world.clear();
        expect((await world.state()).lock?.run_id, 'the stopped run’s lock, created after it ended').toBe(stopped.runId);

        const next = await runInProcess(world, db, { sqlFile: fast, ifExists: 'fail', env });
        expect(next.error, 'the next run').toBeUndefined();
        const state = await world.state();
        expectPublishedPair(state, ROWS, spec.name);
        expect(state.manifest?.run_id).toBe(next.runId);
        expect(state.lock).toBeUndefined();
      } finally {
        await world.close();
      }
    }, 120_000);
  });
});
