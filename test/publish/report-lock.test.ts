import { describe, expect, it } from 'vitest';
import { ReportLock } from '../../src/publish/report-lock.ts';
import { KEYS } from '../support/publish-worlds.ts';
import { newWorld, worldsOfThisRun } from './fault-matrix-cases.ts';

/**
 * A takeover race, made deterministic on every world: the other run's move is made inside the
 * callback the lock calls between its read and its write.
 */
describe.each(worldsOfThisRun())('the report lock on $name', (spec) => {
  it('takes over the lock of a finished run even when that run releases it between our read and our takeover', async () => {
    const world = await newWorld(spec);
    try {
      const signal = new AbortController().signal;
      const theirs = new ReportLock({ storage: world.storage, key: KEYS.csv, runId: 'their-run', leaseMs: 3_600_000, now: () => new Date() });
      await theirs.take(signal, { onStep: () => {} }, async () => false);
      const ours = new ReportLock({ storage: world.storage, key: KEYS.csv, runId: 'our-run', leaseMs: 3_600_000, now: () => new Date() });
      // We read their lock; their run is published, so we take it over — and they release it just then.
      await ours.take(signal, { onStep: () => {} }, async (runId) => {
        expect(runId).toBe('their-run');
        await theirs.release(signal);
        return true;
      });
      expect(ours.held).toBe(true);
      const state = await world.state();
      expect(state.lock?.run_id).toBe('our-run');
      await ours.release(signal);
      expect((await world.state()).lock).toBeUndefined();
    } finally {
      await world.close();
    }
  });
});
