import { randomUUID } from 'node:crypto';
import { ReportIsBeingPublished } from '../errors.ts';
import type { ReportStorage } from '../storage/report-storage.ts';
import { BoundedStorage } from './bounded-storage.ts';
import { ReportLock } from './report-lock.ts';

export type PreflightResult = { readonly lock: 'free' } | { readonly lock: 'held'; readonly message: string };

/**
 * The storage preflight, for `validate` (and what every run does first, as it takes its lock): the
 * bucket or container exists, the region and credentials are right, and the identity may create,
 * read and delete under the prefix — by taking the report's lock and releasing it at once. Throws
 * the classified error (exit 4 for a missing bucket or a denied write, 2 for a local path that is
 * not a directory); a lock another run holds is reported, not thrown.
 */
export async function preflightStorage(storage: ReportStorage, key: string, options: { signal: AbortSignal; requestBoundMs: number }): Promise<PreflightResult> {
  const bounded = new BoundedStorage(storage, options.requestBoundMs);
  const lock = new ReportLock({ storage: bounded, key, runId: `preflight-${randomUUID()}`, leaseMs: 60_000, now: () => new Date() });
  try {
    // `validate` reports a held lock at once; it does not wait for it as a run does.
    await lock.take(options.signal, { onStep: () => undefined }, async () => false, { wait: false });
  } catch (error) {
    if (error instanceof ReportIsBeingPublished) return { lock: 'held', message: error.message };
    throw error;
  }
  await lock.release(options.signal);
  return { lock: 'free' };
}
