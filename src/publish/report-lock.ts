import { hostname } from 'node:os';
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
  /** How long a lock outlives its last renewal (docs/publishing.md, "The lock"). */
  readonly ttlMs: number;
  readonly now: () => Date;
}

/**
 * The report's lock: one small object beside the report, taken with a conditional create and
 * released with a conditional delete, so that for one key at most one run publishes at a time. Every
 * write carries the ETag this run last saw: a run whose lock was taken over (it stalled past the
 * expiry) learns it at its next renewal, before it changes anything visible.
 */
export class ReportLock {
  readonly #options: LockOptions;
  readonly #startedAt: string;
  #held: StoredObject | undefined;

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
  async take(signal: AbortSignal, onStep: (step: 'lock.read' | 'lock.take') => void, finished: (runId: string) => Promise<boolean>): Promise<void> {
    // A lock another run took and released between our read and our write refuses ours, and is
    // gone when we look: read again (a few times; each round means another run came and went).
    for (let round = 1; ; round++) {
      try {
        await this.#takeOnce(signal, onStep, finished);
        return;
      } catch (error) {
        if (!(error instanceof ConditionNotMet) || round === 3) throw error;
      }
    }
  }

  async #takeOnce(signal: AbortSignal, onStep: (step: 'lock.read' | 'lock.take') => void, finished: (runId: string) => Promise<boolean>): Promise<void> {
    onStep('lock.read');
    const current = await this.#read(signal);
    onStep('lock.take');
    if (current === undefined) {
      this.#held = await this.#write(signal, undefined);
      return;
    }
    if (current.document?.run_id === this.#options.runId) {
      this.#held = current.object;
      return;
    }
    const expired = current.document === undefined || Date.parse(current.document.expires_at) <= this.#options.now().getTime();
    if (!expired && !(await finished(current.document!.run_id))) throw this.#heldBy(current.document!);
    this.#held = await this.#write(signal, current.object.etag);
  }

  /** Renews the lock (the fence before anything visible changes). Throws if another run took it. */
  async renew(signal: AbortSignal): Promise<void> {
    if (!this.#held) throw new TransientFailure(`the lock ${this.key} is not held`, { phase: 'upload' });
    this.#held = await this.#write(signal, this.#held.etag);
  }

  /** The lock as this run last wrote it. */
  get object(): StoredObject | undefined {
    return this.#held;
  }

  /** Deletes the lock if it is still ours; a failure leaves it to expire (or to the next run, which sees our manifest). */
  async release(signal: AbortSignal): Promise<void> {
    const held = this.#held;
    if (!held) return;
    await this.#options.storage.remove(this.key, { signal, ifMatch: held.etag });
    this.#held = undefined;
  }

  /**
   * Writes our lock document: create-only, or over the ETag we saw. On ConditionNotMet the lock is
   * read back: our own earlier attempt (its answer lost, the SDK retried) is ours; anyone else's is
   * not — the lock is held, or was taken over.
   */
  async #write(signal: AbortSignal, ifMatch: string | undefined): Promise<StoredObject> {
    const { storage, runId, ttlMs, now } = this.#options;
    const at = now();
    const document: LockDocument = {
      run_id: runId,
      key: this.#options.key,
      holder: process.env.HOSTNAME ?? hostname(),
      pid: process.pid,
      started_at: this.#startedAt,
      renewed_at: at.toISOString(),
      expires_at: new Date(at.getTime() + ttlMs).toISOString(),
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
      if (now?.document?.run_id === runId && now.document.renewed_at === document.renewed_at) return now.object;
      if (now?.document) {
        throw this.#held === undefined
          ? this.#heldBy(now.document)
          : new TransientFailure(`lost the lock ${this.key} to run ${now.document.run_id} (${now.document.holder}) while publishing; stopped before changing anything visible`, {
              phase: 'upload',
              context: { key: this.#options.key, holder_run_id: now.document.run_id },
            });
      }
      throw error;
    }
  }

  async #read(signal: AbortSignal): Promise<{ object: StoredObject; document: LockDocument | undefined } | undefined> {
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
