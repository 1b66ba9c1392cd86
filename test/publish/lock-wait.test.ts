import { beforeAll, describe, expect, it } from 'vitest';
import { RunWasTerminated, ReportIsBeingPublished } from '../../src/errors.ts';
import type { RequestShape } from '../../src/publish/publish-steps.ts';
import { queryFile } from '../support/report-files.ts';
import { lateApplication } from '../support/fault-proxy.ts';
import { currentLock, KEYS, plantLock, requestMatches, runInProcess, type World } from '../support/publish-worlds.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';
import { until } from '../support/until.ts';
import { newWorld, reportQuery, worldsOfThisRun } from './fault-matrix-cases.ts';
import { expectPublishedPair } from './publish-invariants.ts';

/**
 * The ways a run can end while it waits for another run's lock, or while its heartbeat is at the
 * server (docs/publishing.md, "The lock"): whatever the end, no lock of its own is left and no
 * heartbeat goes on; several runs waiting for one dead lock publish once.
 */
const LEASE = '5s';
const ROWS = 300;
const LOCK_RENEW: RequestShape = { object: 'lock', methods: ['PUT'], header: 'if-match' };
const isLockWrite = (request: { method: string; url: string }) => request.method === 'PUT' && decodeURIComponent(new URL(request.url, 'http://proxy').pathname).endsWith(`/${KEYS.lock}`);

/** A lock of a run that is not there (killed), expiring `inMs` from now. */
const plantDeadLock = (world: World, inMs: number, replacing?: string) => plantLock(world, { expiresInMs: inMs, replacing });

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('ending while the lock is waited for or renewed', () => {
  let db: TestDatabase;
  let fast: string;
  let slow: string;
  beforeAll(async () => {
    db = await createTestDatabase('lockwait');
    fast = await queryFile(db.outDir, 'fast', reportQuery(ROWS, 1));
    slow = await queryFile(db.outDir, 'slow', reportQuery(ROWS, 1, 10));
  });

  describe.concurrent.each(worldsOfThisRun())('on $name', (spec) => {
    it('SIGTERM while waiting for another run’s lock ends the run (143) at once, leaves that lock as it was and writes none of its own', async () => {
      const world = await newWorld(spec);
      try {
        const holder = await plantDeadLock(world, 60_000);
        const before = (await world.state()).lock;
        const controller = new AbortController();
        setTimeout(() => controller.abort(new Error('received SIGTERM')), 2_500);
        const run = await runInProcess(world, db, { sqlFile: fast, ifExists: 'fail', signal: controller.signal, env: { REPORT_LOCK_LEASE: LEASE } });
        expect(run.error).toBeInstanceOf(RunWasTerminated);
        expect(run.logs.some((line) => line.holder_run_id === holder && /waiting until/.test(line.msg)), 'it waited for the holder').toBe(true);
        const state = await world.state();
        expect(state.lock, 'the holder’s lock, untouched').toEqual(before);
        expect(state.csv).toBeUndefined();
        expect(state.manifest).toBeUndefined();
      } finally {
        await world.close();
      }
    }, 60_000);

    it('a run whose clock is 10 min ahead takes a live holder’s lock over at once, and still only one run publishes: the holder stops before changing anything visible', async () => {
      const world = await newWorld(spec);
      try {
        const env = { REPORT_LOCK_LEASE: LEASE };
        const holder = runInProcess(world, db, { sqlFile: slow, ifExists: 'overwrite', env });
        await until(() => currentLock(world), 30_000, 'the holder taking the lock');
        const ahead = await runInProcess(world, db, { sqlFile: fast, ifExists: 'overwrite', env, now: () => new Date(Date.now() + 10 * 60_000) });
        const held = await holder;
        expect(ahead.error, 'the run with the clock ahead').toBeUndefined();
        // Locally the run that took over removed the holder's temporary file first (stale-holder.test.ts).
        if (spec.provider !== 'local') expect(String(held.error)).toMatch(/lost the lock .* stopped before changing anything visible/);
        expect((held.error as { exitCode?: number }).exitCode).toBe(1);
        // Its heartbeat found the lock gone: it says so, and does not promise a retry that never comes.
        expect(held.logs.some((line) => /^the lock was taken over by another run/.test(line.msg)), 'the lost lock is logged').toBe(true);
        expect(held.logs.filter((line) => /^renewing the lock failed/.test(line.msg)).map((line) => line.err?.message)).toEqual([]);
        const state = await world.state();
        expectPublishedPair(state, ROWS, spec.name);
        expect(state.manifest?.run_id).toBe(ahead.runId);
        expect(state.lock, 'no lock left').toBeUndefined();
      } finally {
        await world.close();
      }
    }, 60_000);

    it('a lock edited by hand while a run waits for it (its expiry set in the past, to unblock the date) is taken over, and the run publishes', async () => {
      const world = await newWorld(spec);
      try {
        await plantDeadLock(world, 60_000);
        const waiting = runInProcess(world, db, { sqlFile: fast, ifExists: 'fail', env: { REPORT_LOCK_LEASE: LEASE } });
        await pause(1_500);
        const lock = await world.storage.head(KEYS.lock, AbortSignal.timeout(10_000));
        await plantDeadLock(world, -1_000, lock!.etag);
        const run = await waiting;
        expect(run.error, 'the waiting run').toBeUndefined();
        expect(run.logs.some((line) => /waiting until/.test(line.msg)), 'it waited first').toBe(true);
        const state = await world.state();
        expectPublishedPair(state, ROWS, spec.name);
        expect(state.lock, 'no lock left').toBeUndefined();
      } finally {
        await world.close();
      }
    }, 60_000);

    it('three runs waiting for one dead lock: one publishes, the others exit 1 naming it, and no lock is left', async () => {
      const world = await newWorld(spec);
      try {
        await plantDeadLock(world, 3_000);
        const runs = await Promise.all([0, 1, 2].map(() => runInProcess(world, db, { sqlFile: fast, ifExists: 'fail', env: { REPORT_LOCK_LEASE: LEASE } })));
        const published = runs.filter((run) => run.error === undefined);
        expect(published.length, runs.map((run) => String(run.error)).join('\n')).toBe(1);
        for (const run of runs.filter((r) => r.error !== undefined)) {
          // Held by the winner (its lock met), or already published by it (REPORT_IF_EXISTS=fail: 5); a loser
          // on a server with non-atomic conditions learns it at the fence (1).
          expect([1, 5], String(run.error)).toContain((run.error as { exitCode?: number }).exitCode);
          if (run.error instanceof ReportIsBeingPublished) expect(String(run.error)).toContain(published[0]!.runId);
        }
        const state = await world.state();
        expectPublishedPair(state, ROWS, spec.name);
        expect(state.manifest?.run_id).toBe(published[0]!.runId);
        expect(state.lock, 'no lock left').toBeUndefined();
      } finally {
        await world.close();
      }
    }, 60_000);
  });

  // A run that finds the report published (skip: exit 0; fail: exit 5) releases its lock at once;
  // SIGTERM while that DELETE was on its way aborted it, and the lock stayed for a lease.
  const LOCK_RELEASE: RequestShape = { object: 'lock', methods: ['DELETE'] };
  describe.concurrent.each(worldsOfThisRun().filter((world) => world.provider !== 'local'))('on $name', (spec) => {
    it.each(['skip', 'fail'] as const)('REPORT_IF_EXISTS=%s on a published report, SIGTERM while its lock is being released: no lock is left', async (ifExists) => {
      const world = await newWorld(spec);
      try {
        const first = await runInProcess(world, db, { sqlFile: fast, ifExists: 'fail', env: { REPORT_LOCK_LEASE: LEASE } });
        expect(first.error).toBeUndefined();
        const controller = new AbortController();
        // The DELETE reaches the server 500 ms late (a busy server); SIGTERM arrives 20 ms after it was sent.
        let held = 0;
        world.proxy!.inject({
          match: (request) => requestMatches(LOCK_RELEASE, request),
          times: 1,
          fault: { hold: pause(500).then(() => undefined) },
          onMatch: () => {
            held++;
            setTimeout(() => controller.abort(new Error('received SIGTERM')), 20);
          },
        });
        const run = await runInProcess(world, db, { sqlFile: fast, ifExists, signal: controller.signal, env: { REPORT_LOCK_LEASE: LEASE } });
        expect(held, 'releases held').toBe(1);
        // Published already (5), or told it was terminated (143): either way it changed nothing.
        if (ifExists === 'fail') expect([5, 143], String(run.error)).toContain((run.error as { exitCode?: number }).exitCode);
        const state = await world.state();
        expect(state.lock, 'no lock left').toBeUndefined();
        expectPublishedPair(state, ROWS, spec.name);
        expect(state.manifest?.run_id).toBe(first.runId);
      } finally {
        await world.close();
      }
    }, 60_000);
  });

  describe.concurrent.each(worldsOfThisRun().filter((world) => world.provider !== 'local'))('on $name', (spec) => {
    it('SIGTERM while a heartbeat is at the server, which applies it after the run ended: no lock is left, and no heartbeat follows', async () => {
      const world = await newWorld(spec);
      try {
        const controller = new AbortController();
        const late = lateApplication();
        world.proxy!.inject({
          match: (request) => requestMatches(LOCK_RENEW, request),
          times: 1,
          fault: late.fault,
          onMatch: () => setTimeout(() => controller.abort(new Error('received SIGTERM')), 20),
        });
        const run = await runInProcess(world, db, { sqlFile: slow, ifExists: 'fail', signal: controller.signal, env: { REPORT_LOCK_LEASE: LEASE } });
        expect(run.error).toBeInstanceOf(RunWasTerminated);
        const writesAtEnd = world.proxy!.requests.filter(isLockWrite).length;
        late.release();
        await late.applied;
        // Three beats' worth (one every 1.25 s) after the run ended.
        await pause(4_000);
        expect(world.proxy!.requests.filter(isLockWrite).length, 'lock writes after the run ended (the late one forwarded by the proxy is not a request)').toBe(writesAtEnd);
        const state = await world.state();
        expect(state.lock, 'no lock left').toBeUndefined();
        expect(state.csv).toBeUndefined();
      } finally {
        await world.close();
      }
    }, 60_000);
  });
});
