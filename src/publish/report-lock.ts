import { hostname } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { ConditionNotMet, ReportIsBeingPublished, TransientFailure } from '../errors.ts';
import type { ReportStorage, StoredObject } from '../storage/report-storage.ts';
import { VERSION } from '../version.ts';

export const LOCK_SUFFIX = '.lock';
const LOCK_CONTENT_TYPE = 'application/json';

/** What the lock object says (JSON): who holds the report's key, since when, until when. */
export interface LockDocument {
  readonly run_id: string;
  readonly key: string;
  /** The pod's name in Kubernetes (HOSTNAME), and the process. */
  readonly holder: string;
  readonly pid: number;
  readonly started_at: string;
  readonly renewed_at: string;
  /** After this instant anyone may take the lock over (the holder is presumed dead). */
  readonly expires_at: string;
  readonly version: string;
}

export function lockKey(reportKey: string): string {
  return `${reportKey}${LOCK_SUFFIX}`;
}

export interface LockOptions {
  readonly storage: ReportStorage;
  readonly key: string;
  readonly runId: string;
  /**
   * The lease: how long a lock outlives its last renewal (REPORT_LOCK_LEASE; docs/publishing.md,
   * "The lock"). A holder that keeps it renews it every quarter of this.
   */
  readonly leaseMs: number;
  readonly now: () => Date;
}

/** How often a run waiting for another run's lock looks at it again. */
const WAIT_POLL_MS = 1_000;

/** What a waiting run is told while it waits, and a heartbeat that failed (the lock is still ours until the lease runs out). */
export interface LockEvents {
  readonly onStep: (step: 'lock.read' | 'lock.take') => void;
  /** Another run's lock, neither released nor expired: the run waits until one of them happens, or the holder renews it. */
  readonly onWait?: (holder: LockDocument, waitUntil: Date) => void;
}

/**
 * The report's lock: one small object beside the report, taken with a conditional create and
 * released with a conditional delete, so that for one key at most one run publishes at a time. Every
 * write carries the ETag this run last saw: a run whose lock was taken over (it stalled past the
 * expiry) learns it at its next renewal, before it changes anything visible.
 *
 * It is a lease: the holder renews it every quarter of REPORT_LOCK_LEASE while it works (`keepRenewed`),
 * so a lock whose holder was killed (an OOM kill, SIGKILL, a lost node, SIGTERM while its creation
 * was at the server) expires within one lease, and the run that meets it waits for that instead of
 * failing: the Job's next retry publishes tonight, not after hours. Safety never depends on the
 * lease: a run that lost its lock learns it at the fence.
 */
export class ReportLock {
  readonly #options: LockOptions;
  readonly #startedAt: string;
  #held: StoredObject | undefined;
  /** Writes of the lock one at a time (a heartbeat, the fence, the release), each after the one before. */
  #writes: Promise<unknown> = Promise.resolve();
  #heartbeat: { timer: NodeJS.Timeout; abort: AbortController } | undefined;
  /** Set when a renewal found the lock taken over: every later renewal throws it. */
  #lost: Error | undefined;
  readonly #lostController = new AbortController();

  constructor(options: LockOptions) {
    this.#options = options;
    this.#startedAt = options.now().toISOString();
  }

  get key(): string {
    return lockKey(this.#options.key);
  }

  get held(): boolean {
    return this.#held !== undefined;
  }

  /**
   * Takes the lock, or throws ReportIsBeingPublished naming the holder. `finished(runId)` says
   * whether that run's report is already published (its lock was left behind): then it is free.
   */
  async take(signal: AbortSignal, events: LockEvents, finished: (runId: string) => Promise<boolean>, { wait = true }: { wait?: boolean } = {}): Promise<void> {
    // A lock another run took and released between our read and our write refuses ours, and is
    // gone when we look: read again (a few times; each round means another run came and went).
    for (let round = 1; ; round++) {
      try {
        await this.#takeOnce(signal, events, finished, wait);
        return;
      } catch (error) {
        if (!(error instanceof ConditionNotMet) || round === 3) throw error;
      }
    }
  }

  async #takeOnce(signal: AbortSignal, events: LockEvents, finished: (runId: string) => Promise<boolean>, wait: boolean): Promise<void> {
    events.onStep('lock.read');
    let current = await this.#read(signal);
    if (current?.document && current.document.run_id !== this.#options.runId && !this.#expired(current.document) && !(await finished(current.document.run_id))) {
      if (!wait) throw this.#heldBy(current.document);
      current = await this.#waitForHolder({ object: current.object, document: current.document }, signal, events);
    }
    events.onStep('lock.take');
    if (current === undefined) {
      this.#held = await this.#write(signal, undefined);
      return;
    }
    if (current.document?.run_id === this.#options.runId) {
      this.#held = current.object;
      return;
    }
    this.#held = await this.#write(signal, current.object.etag);
  }

  /**
   * Another run's lock, live as far as we know: wait until it is released (returns undefined) or
   * expires (returns it, to take over), looking every second. A holder that renews it meanwhile is
   * alive and working: ReportIsBeingPublished at once (exit 1; the Job retries later). One lease and
   * a heartbeat is the longest a dead holder's lock can outlive us looking; a lock that outlasts
   * that without a renewal (written by a version without heartbeats, or by a clock far ahead) is
   * reported as held, as before.
   */
  async #waitForHolder(first: { readonly object: StoredObject; readonly document: LockDocument }, signal: AbortSignal, events: LockEvents): Promise<ReadLock | undefined> {
    const { leaseMs, now } = this.#options;
    const giveUpAt = now().getTime() + leaseMs + leaseMs / 4;
    events.onWait?.(first.document, new Date(Math.min(giveUpAt, Date.parse(first.document.expires_at))));
    for (;;) {
      // Rejects with the signal's own reason (SIGTERM's), as every request does.
      await delay(Math.min(WAIT_POLL_MS, leaseMs / 4), undefined, { signal }).catch((error: unknown) => {
        signal.throwIfAborted();
        throw error;
      });
      const current = await this.#read(signal);
      if (current === undefined) return undefined;
      if (current.document === undefined || this.#expired(current.document)) return current;
      if (current.document.run_id !== first.document.run_id || current.document.renewed_at !== first.document.renewed_at) throw this.#heldBy(current.document);
      if (now().getTime() >= giveUpAt) throw this.#heldBy(current.document);
    }
  }

  #expired(document: LockDocument): boolean {
    return Date.parse(document.expires_at) <= this.#options.now().getTime();
  }

  /**
   * Renews the lock every quarter of its lease until it is released, so that it never expires
   * while this run works, however long the extraction. A renewal that fails is retried at the next
   * beat (`onFailure` is told; the lock stays ours until the lease runs out). One that finds the lock
   * taken over stops the beats and aborts `lost`, which stops the run's extraction; every later
   * renewal, the fence's included, throws that error.
   *
   * A renewal gets half a lease to be answered; one that has not is abandoned and the next is sent
   * at once, with a quarter lease left before the lock would expire. One the server took and never
   * answered used to hold every later renewal (they go one at a time) for its whole request bound —
   * STORAGE_REQUEST_TIMEOUT per attempt, which may be longer than the lease — and the live holder's
   * lock expired under it. Half, not a quarter: a slow server's answer still counts. If the
   * abandoned one applies after all, the next renewal finds our run id there (`#write`).
   */
  keepRenewed(onFailure: (error: unknown, next: { readonly lost: boolean; readonly retryInMs: number }) => void): void {
    if (this.#heartbeat || !this.#held) return;
    const abort = new AbortController();
    const quarter = this.#options.leaseMs / 4;
    const answerWithinMs = 2 * quarter;
    // The next beat a quarter lease after the last one was *sent*, not answered: a server that takes
    // 0.4 of a lease to answer each renewal would otherwise space them 0.65 of a lease apart, and
    // each would land after the one before had expired.
    const next = (sentAt: number) => {
      if (this.#heartbeat) this.#heartbeat.timer = setTimeout(beat, Math.max(0, quarter - (performance.now() - sentAt))).unref();
    };
    const beat = () => {
      const sentAt = performance.now();
      const unanswered = AbortSignal.timeout(answerWithinMs);
      this.renew(AbortSignal.any([abort.signal, unanswered])).then(
        () => next(sentAt),
        (error: unknown) => {
          if (abort.signal.aborted) return;
          const abandoned = unanswered.aborted && !this.#lost;
          if (this.#lost) this.#stopHeartbeat();
          else if (abandoned) setImmediate(beat);
          else next(sentAt);
          onFailure(
            abandoned
              ? new TransientFailure(`no answer renewing the lock ${this.key} within ${answerWithinMs / 1000} s (half its lease); abandoned`, { phase: 'upload', cause: error, context: { key: this.#options.key } })
              : error,
            { lost: this.#lost !== undefined, retryInMs: abandoned ? 0 : Math.max(0, quarter - (performance.now() - sentAt)) },
          );
        },
      );
    };
    // Unref'd: a heartbeat never keeps the process alive; the run's end releases the lock.
    const timer = setTimeout(beat, quarter).unref();
    this.#heartbeat = { timer, abort };
  }

  #stopHeartbeat(): void {
    if (!this.#heartbeat) return;
    clearTimeout(this.#heartbeat.timer);
    this.#heartbeat.abort.abort(new Error('the lock is being released'));
    this.#heartbeat = undefined;
  }

  /** Renews the lock (the fence before anything visible changes, and each heartbeat). Throws if another run took it. */
  renew(signal: AbortSignal): Promise<void> {
    return this.#serially(async () => {
      if (this.#lost) throw this.#lost;
      if (!this.#held) throw new TransientFailure(`the lock ${this.key} is not held`, { phase: 'upload' });
      try {
        this.#held = await this.#write(signal, this.#held.etag);
      } catch (error) {
        if (error instanceof TransientFailure && error.message.startsWith('lost the lock')) {
          this.#lost = error;
          this.#lostController.abort(error);
        }
        throw error;
      }
    });
  }

  /** Runs `write` after every lock write before it has settled (whatever its outcome). */
  #serially<T>(write: () => Promise<T>): Promise<T> {
    const next = this.#writes.then(write, write);
    this.#writes = next.catch(() => undefined);
    return next;
  }

  /**
   * Aborts once a renewal found the lock taken over (its reason is that error): the run's work is
   * then for nothing, and the publisher stops its extraction rather than finish it to learn so at the fence.
   */
  get lost(): AbortSignal {
    return this.#lostController.signal;
  }

  /** The lock as this run last wrote it. */
  get object(): StoredObject | undefined {
    return this.#held;
  }

  /**
   * Deletes the lock if it is still ours; a failure leaves it to expire within its lease (or to the
   * next run, which sees our manifest and takes it over at once). A heartbeat in flight is abandoned
   * first; if it applied anyway (our ETag is then stale), the lock read back with our run id is ours.
   */
  release(signal: AbortSignal): Promise<void> {
    this.#stopHeartbeat();
    return this.#serially(async () => {
      const held = this.#held;
      if (!held) return;
      const { storage, runId } = this.#options;
      try {
        await storage.remove(this.key, { signal, ifMatch: held.etag });
      } catch (error) {
        if (!(error instanceof ConditionNotMet)) throw error;
        const now = await this.#read(signal);
        if (now?.document?.run_id !== runId) throw error;
        await storage.remove(this.key, { signal, ifMatch: now.object.etag });
      }
      this.#held = undefined;
    });
  }

  /**
   * Writes our lock document: create-only, or over the ETag we saw. On ConditionNotMet the lock is
   * read back: our own earlier attempt (its answer lost, the SDK retried) is ours; anyone else's is
   * not — the lock is held, or was taken over.
   */
  async #write(signal: AbortSignal, ifMatch: string | undefined): Promise<StoredObject> {
    const { storage, runId, leaseMs, now } = this.#options;
    const at = now();
    const document: LockDocument = {
      run_id: runId,
      key: this.#options.key,
      holder: process.env.HOSTNAME ?? hostname(),
      pid: process.pid,
      started_at: this.#startedAt,
      renewed_at: at.toISOString(),
      expires_at: new Date(at.getTime() + leaseMs).toISOString(),
      version: VERSION,
    };
    const bytes = Buffer.from(`${JSON.stringify(document, null, 2)}\n`);
    try {
      const written = await storage.write(this.key, once(bytes), {
        signal,
        ...(ifMatch === undefined ? { ifExists: 'fail' as const } : { ifExists: 'overwrite' as const, ifMatch }),
        contentType: LOCK_CONTENT_TYPE,
        metadata: { run_id: runId },
      });
      return written.object;
    } catch (error) {
      if (!(error instanceof ConditionNotMet)) throw error;
      const now = await this.#read(signal);
      // Ours: this write's own earlier attempt (its answer lost, the SDK retried), or an abandoned
      // heartbeat that applied after all. Only this run writes its run id.
      if (now?.document?.run_id === runId) return now.object;
      if (now?.document) {
        throw this.#held === undefined
          ? this.#heldBy(now.document)
          : new TransientFailure(`lost the lock ${this.key} to run ${now.document.run_id} (${now.document.holder}) while publishing; stopped before changing anything visible`, {
              phase: 'upload',
              context: { key: this.#options.key, holder_run_id: now.document.run_id },
            });
      }
      // Ours no longer there: only a release deletes a lock, and ours has not been released, so
      // another run took it over and has released it already (or someone deleted it). Lost as much
      // as one taken over — and never taken again, as another run may be publishing now.
      if (this.#held !== undefined) {
        throw new TransientFailure(`lost the lock ${this.key} while publishing (it is gone: another run took it over and released it, or it was removed by hand); stopped before changing anything visible`, {
          phase: 'upload',
          cause: error,
          context: { key: this.#options.key },
        });
      }
      throw error;
    }
  }

  async #read(signal: AbortSignal): Promise<ReadLock | undefined> {
    const found = await this.#options.storage.read(this.key, signal);
    if (!found) return undefined;
    return { object: found.object, document: parseLock(found.bytes) };
  }

  #heldBy(document: LockDocument): ReportIsBeingPublished {
    return new ReportIsBeingPublished(
      `another run is publishing ${this.#options.key} since ${document.started_at}, run id ${document.run_id} on ${document.holder}; its lock expires at ${document.expires_at}`,
      { phase: 'upload', context: { key: this.#options.key, holder_run_id: document.run_id, holder: document.holder, expires_at: document.expires_at } },
    );
  }
}

interface ReadLock {
  readonly object: StoredObject;
  readonly document: LockDocument | undefined;
}

/** A lock we cannot parse (truncated, someone else's file) counts as expired: it protects nothing. */
export function parseLock(bytes: Buffer): LockDocument | undefined {
  try {
    const parsed = JSON.parse(bytes.toString('utf8')) as Partial<LockDocument>;
    return typeof parsed.run_id === 'string' && typeof parsed.expires_at === 'string' && !Number.isNaN(Date.parse(parsed.expires_at)) ? (parsed as LockDocument) : undefined;
  } catch {
    return undefined;
  }
}

async function* once(bytes: Buffer): AsyncGenerator<Buffer> {
  yield bytes;
}
