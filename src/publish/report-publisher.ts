import { ConditionNotMet, ReportAlreadyPublished, ReportError, TransientFailure, messageOf } from '../errors.ts';
import type { ReportStorage, StoredObject } from '../storage/report-storage.ts';
import { StallWatchdog } from '../storage/stall-watchdog.ts';
import { BoundedStorage } from './bounded-storage.ts';
import { ReportLock, type LockDocument } from './report-lock.ts';
import type { PublishStepName } from './publish-steps.ts';

/** How long the steps after the CSV became visible may take once SIGTERM arrived (main.ts exits at 10 s). */
export const FINISH_AFTER_SIGTERM_MS = 5_000;

export interface PublisherOptions {
  readonly storage: ReportStorage;
  readonly key: string;
  readonly manifestKey: string;
  readonly runId: string;
  readonly ifExists: 'overwrite' | 'skip' | 'fail';
  /** REPORT_LOCK_LEASE: how long the lock outlives its last renewal; the run renews it every quarter of this. */
  readonly lockLeaseMs: number;
  /** The body not being read for this long fails the upload (transient), whatever the provider. */
  readonly stallTimeoutMs: number;
  /** How long one request may take, every attempt included, before it fails (transient). */
  readonly requestBoundMs: number;
  readonly now: () => Date;
  /** Each step as it starts: logged and recorded on the run's span. */
  readonly onStep?: (step: PublishStepName) => void;
  /** Another run's lock was met, neither released nor expired: the run waits for it (docs/publishing.md, "The lock"). */
  readonly onLockWait?: (holder: LockDocument, waitUntil: Date) => void;
  /** A renewal of the lock while the run works failed; the next one is tried `retryInMs` later — unless the lock was `lost` (taken over): then none is. */
  readonly onLockRenewalFailure?: (error: unknown, next: { readonly lost: boolean; readonly retryInMs: number }) => void;
  /** Runs the manifest's write inside the caller's span. */
  readonly inManifestSpan?: <T>(fn: () => Promise<T>) => Promise<T>;
}

/** What is under the report's names when the run starts, as the run sees it under its lock. */
interface ObservedState {
  readonly csv: StoredObject | undefined;
  readonly manifest: { readonly bytes: Buffer; readonly object: StoredObject; readonly runId: string | undefined } | undefined;
  readonly published: boolean;
}

export interface PublishInput {
  readonly body: AsyncIterable<Uint8Array>;
  readonly signal: AbortSignal;
  readonly contentType: string;
  readonly metadata: Readonly<Record<string, string>>;
  /** Bytes counted as the body was read: what the CSV under the final name must hold. */
  readonly bytes: () => number;
  /** The manifest for the CSV as stored. */
  readonly manifest: (csv: StoredObject, location: string) => Buffer;
}

export interface PublishResult {
  readonly location: string;
  readonly object: StoredObject;
  /** SIGTERM arrived after the CSV was visible, and the run finished publishing first. */
  readonly finishedAfterSignal: boolean;
}

/**
 * The publishing protocol (docs/publishing.md), once for every provider: the report's lock, the
 * state seen under it, the order of the requests, verification, the CSV's identity, and what a
 * failure at each step leaves. Adapters only speak their service.
 *
 * Invariants: (I1) nothing under the final name that is not one run's complete report; (I2) a
 * manifest describes exactly the CSV beside it — a failure leaves the previous complete pair, or a
 * CSV without a manifest; (I3) one run at a time per key; (I4) our own earlier write, its answer
 * lost, is recognised as ours (run_id metadata, or a local file's identity).
 */
export class ReportPublisher {
  readonly #options: PublisherOptions;
  /** Every request but the CSV's upload goes through this, each with its deadline. */
  readonly #storage: ReportStorage;
  readonly #lock: ReportLock;
  #state: ObservedState | undefined;
  /** What this run has changed so far, for recovery and for an honest last word. */
  #manifestDeleted = false;
  #csvMayHaveChanged = false;
  /** The CSV's publishing request was sent; and it was abandoned without the server's answer (it may still apply). */
  #publishSent = false;
  #publishUnanswered = false;
  /** The old manifest's delete was abandoned without an answer: it may still apply. */
  #manifestDeleteUnanswered = false;

  constructor(options: PublisherOptions) {
    this.#options = options;
    this.#storage = new BoundedStorage(options.storage, options.requestBoundMs);
    this.#lock = new ReportLock({ storage: this.#storage, key: options.key, runId: options.runId, leaseMs: options.lockLeaseMs, now: options.now });
  }

  /**
   * Takes the lock and reads the state: 'publish' (the caller extracts and calls `publish`), or
   * 'skip' (published, REPORT_IF_EXISTS=skip; the lock is released). Throws ReportAlreadyPublished
   * with `fail`, ReportIsBeingPublished while another run holds the lock. This is also the storage
   * preflight: the bucket or container exists and the identity may write under the prefix.
   */
  async begin(signal: AbortSignal): Promise<'publish' | 'skip'> {
    const { key, manifestKey, ifExists } = this.#options;
    const storage = this.#storage;
    const events = { onStep: (step: 'lock.read' | 'lock.take') => this.#step(step), onWait: this.#options.onLockWait };
    await this.#lock.take(signal, events, async (holder) => {
      // A lock left by a run that did publish (its release failed) does not block the next one.
      const manifest = await storage.read(manifestKey, signal);
      return manifest !== undefined && manifestRunId(manifest.bytes) === holder;
    });
    // Held for as long as the run works, however long the extraction: renewed every quarter lease.
    this.#lock.keepRenewed((error, next) => this.#options.onLockRenewalFailure?.(error, next));
    try {
      this.#step('state.read');
      const manifest = await storage.read(manifestKey, signal);
      const csv = await storage.head(key, signal);
      const published = manifest !== undefined && csv !== undefined && describes(manifest.bytes, csv);
      this.#state = { csv, manifest: manifest && { ...manifest, runId: manifestRunId(manifest.bytes) }, published };
      if (published && ifExists !== 'overwrite') {
        // Bounded, not the run's signal: SIGTERM while this DELETE is on its way would abort it and
        // leave our lock for a lease (the manifest names another run, so nobody takes it over at once).
        await this.#release(graceSignal());
        if (ifExists === 'fail') {
          throw new ReportAlreadyPublished(`${storage.locate(key)} is already published and REPORT_IF_EXISTS=fail`, { phase: 'upload', context: { key } });
        }
        return 'skip';
      }
      return 'publish';
    } catch (error) {
      if (this.#lock.held) await this.#release(graceSignal());
      throw error;
    }
  }

  /** Aborts when a renewal of the lock found it taken over (the reason says by whom): the run's work is for nothing. */
  get lockLost(): AbortSignal {
    return this.#lock.lost;
  }

  /** The state seen under the lock: whether a report (complete or not) was there, for the log. */
  get previous(): 'published' | 'incomplete' | 'absent' {
    const state = this.#state;
    if (!state) return 'absent';
    if (state.published) return 'published';
    return state.csv || state.manifest ? 'incomplete' : 'absent';
  }

  /** Streams the CSV, makes it visible under the fence, verifies it, writes its manifest, releases the lock. */
  async publish(input: PublishInput): Promise<PublishResult> {
    const { storage, key } = this.#options;
    const state = this.#state!;
    const location = storage.locate(key);
    let pending: StoredObject | undefined;
    let written: StoredObject | undefined;
    let failure: unknown;

    const stalled = new AbortController();
    const watchdog = new StallWatchdog(this.#options.stallTimeoutMs, location, (error) => stalled.abort(error));
    // After the fence, the request that makes the CSV visible (and the adapter's own verification) gets the same deadline as any other.
    let deadline: NodeJS.Timeout | undefined;
    // SIGTERM aborts the upload at once only until a request that changes what is visible (the old
    // manifest's delete, the CSV's publish) is sent. Aborting one in flight would not unsend it: the
    // server may still apply it after we looked (S3 keeps processing a request whose client has
    // gone), so such a request gets FINISH_AFTER_SIGTERM_MS to answer, and one abandoned without an
    // answer is never undone by guesswork (#unwind).
    const finishing = graceAfter(input.signal, FINISH_AFTER_SIGTERM_MS);
    const upload = new AbortController();
    let committing = false;
    const onSignal = () => {
      if (!committing) upload.abort(input.signal.reason);
    };
    const onGraceOver = () => upload.abort(input.signal.reason);
    // A heartbeat that found the lock taken over stops the extraction too, until the fence is passed.
    const lost = this.#lock.lost;
    const onLost = () => {
      if (!committing) upload.abort(lost.reason);
    };
    if (input.signal.aborted) onSignal();
    else input.signal.addEventListener('abort', onSignal, { once: true });
    if (lost.aborted) onLost();
    else lost.addEventListener('abort', onLost, { once: true });
    finishing.signal.addEventListener('abort', onGraceOver, { once: true });
    this.#step('csv.parts');
    try {
      const result = await storage.write(key, watchdog.watch(input.body), {
        signal: AbortSignal.any([upload.signal, stalled.signal]),
        ...(state.csv ? { ifExists: 'overwrite' as const, ifMatch: state.csv.etag } : { ifExists: 'fail' as const }),
        contentType: input.contentType,
        metadata: input.metadata,
        beforePublish: async (identity) => {
          watchdog.stop();
          pending = identity;
          this.#step('lock.renew');
          await this.#lock.renew(input.signal);
          committing = true;
          if (state.manifest) {
            this.#step('manifest.delete');
            // From here the old CSV, if it stays, is "not published": never beside a manifest not its own.
            this.#manifestDeleted = true;
            try {
              await this.#remove(this.#options.manifestKey, state.manifest.object.etag, finishing.signal);
            } catch (error) {
              if (!answered(error)) this.#manifestDeleteUnanswered = true;
              throw error;
            }
            // SIGTERM while the delete was answered: stop before the CSV becomes visible (the manifest is put back).
            input.signal.throwIfAborted();
          }
          this.#step('csv.publish');
          this.#csvMayHaveChanged = true;
          this.#publishSent = true;
          const bound = this.#options.requestBoundMs;
          deadline = setTimeout(() => stalled.abort(new TransientFailure(`no answer publishing ${location} within ${Math.round(bound / 1000)} s`, { phase: 'upload', context: { location } })), bound);
        },
      });
      written = result.object;
    } catch (error) {
      failure = stalled.signal.aborted ? stalled.signal.reason : lost.aborted && !committing && !input.signal.aborted ? lost.reason : error;
      if (this.#publishSent && !answered(failure)) this.#publishUnanswered = true;
    } finally {
      watchdog.stop();
      clearTimeout(deadline);
      input.signal.removeEventListener('abort', onSignal);
      lost.removeEventListener('abort', onLost);
      finishing.signal.removeEventListener('abort', onGraceOver);
    }

    // From here the steps finish within a bound even after SIGTERM: stopping between a visible CSV
    // and its manifest would leave the CSV unpublished for no gain (the same grace as above).
    try {
      if (failure !== undefined) {
        const csv = await this.#ours(pending, input.metadata, finishing.signal);
        if (!csv) throw await this.#unwind(failure, finishing.signal);
        if (isMismatch(failure)) {
          // Ours, but the adapter found it is not the bytes we sent (checksum, size): never leave it under the final name.
          await this.#storage.remove(key, { signal: finishing.signal, ifMatch: csv.etag }).catch(() => undefined);
          this.#leftBehind = 'nothing under the final name (the object that failed verification was removed)';
          throw failure;
        }
        written = csv;
      }
      this.#step('csv.verify');
      const object = await this.#verify(written!, input.bytes(), pending, input.metadata, finishing.signal);
      this.#step('manifest.write');
      // The second fence: a run paused since the first one (SIGSTOP, a frozen node, a hung call)
      // for longer than its lock's lifetime may have been taken over meanwhile; its manifest, written
      // now, would end up beside the other run's CSV. It learns it here and writes none.
      await this.#renewBeforeManifest(object, input.metadata, finishing.signal);
      const write = () => this.#writeManifest(input.manifest(object, location), object, input.metadata, finishing.signal);
      await (this.#options.inManifestSpan ? this.#options.inManifestSpan(write) : write());
      await this.#release(finishing.signal);
      return { location, object, finishedAfterSignal: input.signal.aborted };
    } catch (error) {
      // Whatever happened, never leave a manifest beside a CSV it does not describe (I2).
      const grace = graceSignal();
      if (this.#csvMayHaveChanged) await this.#dropManifestThatLies(grace);
      if (this.#lock.held) await this.#release(grace);
      throw error;
    } finally {
      finishing.dispose();
    }
  }

  /**
   * For a run that fails between `begin` and `publish` (the database unreachable, SIGTERM during
   * the query): nothing was changed, so releasing the lock is all there is to do.
   */
  async abandon(): Promise<void> {
    if (this.#lock.held) await this.#release(graceSignal());
  }

  /** What the storage holds now, in a sentence: for the last log line and the error of a failed run. */
  leftBehind(): string {
    if (!this.#csvMayHaveChanged && !this.#manifestDeleted) return this.previous === 'published' ? 'the previous report is untouched' : 'nothing was published';
    return this.#leftBehind ?? 'the report may be without its manifest (not yet published); the next run repairs it';
  }

  #leftBehind: string | undefined;

  /** The CSV under the final name, if it is the one this run wrote (our write happened; its answer was lost or came late). */
  async #ours(pending: StoredObject | undefined, metadata: Readonly<Record<string, string>>, signal: AbortSignal): Promise<StoredObject | undefined> {
    if (!this.#csvMayHaveChanged) return undefined;
    const now = await this.#storage.head(this.#options.key, signal).catch(() => undefined);
    if (!now) return undefined;
    const mine = (metadata.run_id !== undefined && now.metadata.run_id === metadata.run_id) || (pending !== undefined && now.etag === pending.etag);
    return mine ? now : undefined;
  }

  /**
   * The run failed before its CSV was visible (or with someone else's there): put back what it
   * changed so the previous complete pair survives — the old manifest, if the old CSV is still
   * the one beside it — and say what was left.
   */
  async #unwind(failure: unknown, signal: AbortSignal): Promise<unknown> {
    const { key, manifestKey } = this.#options;
    const storage = this.#storage;
    const state = this.#state!;
    if (this.#publishUnanswered) {
      // The request that publishes our CSV got no answer: the server may apply it after any look we
      // take now, so the old manifest is not put back — it could end up beside our CSV (I2). What
      // stays is a CSV without a manifest: the old one, or ours once the server applies it.
      this.#leftBehind = state.manifest
        ? 'the previous CSV is without its manifest and may yet be replaced by this run\'s (the request that publishes it got no answer): not published; the next run repairs it'
        : 'nothing was published, but this run\'s CSV may yet appear under the final name without a manifest (the request that publishes it got no answer): not published; the next run replaces it';
      return failure;
    }
    if (this.#manifestDeleted && state.manifest) {
      const csv = await storage.head(key, signal).catch(() => 'unknown' as const);
      if (csv !== 'unknown' && csv?.etag === state.csv?.etag) {
        try {
          // Never the same bytes as the manifest we deleted: on S3 its ETag (an MD5) would be the same,
          // and an attempt of our DELETE that the SDK gave up on, applied late, would remove it too.
          const restored = restoredManifest(state.manifest.bytes, this.#options.runId);
          if (restored === undefined) {
            // Not a manifest (it did not parse): it described nothing, so the previous CSV was not published either.
            this.#leftBehind = 'the previous CSV is as it was, without a valid manifest (not published); the next run repairs it';
            return failure;
          }
          await storage.write(manifestKey, once(restored), { signal, ifExists: 'fail', contentType: 'application/json', metadata: { run_id: state.manifest.runId ?? '' } });
          this.#manifestDeleted = false;
          this.#csvMayHaveChanged = false;
          this.#leftBehind = 'the previous report is untouched (its manifest was put back)';
        } catch (error) {
          if (error instanceof ConditionNotMet && !this.#manifestDeleteUnanswered) {
            // The delete never happened: the previous pair stands.
            this.#manifestDeleted = false;
            this.#csvMayHaveChanged = false;
          } else if (error instanceof ConditionNotMet) {
            this.#leftBehind = 'the previous report\'s manifest may be deleted yet (its DELETE got no answer), leaving the previous CSV without it: not published until the next run';
          } else {
            this.#leftBehind = `the previous CSV is without its manifest (not published; putting the manifest back failed: ${messageOf(error)}); the next run repairs it`;
          }
        }
      } else {
        this.#leftBehind = 'the CSV may be replaced and has no manifest (not yet published); the next run repairs it';
      }
    } else if (this.#csvMayHaveChanged) {
      const csv = await storage.head(key, signal).catch(() => 'unknown' as const);
      if (csv !== 'unknown' && csv?.etag === state.csv?.etag) this.#csvMayHaveChanged = false;
      else this.#leftBehind = 'a CSV without a manifest may be under the final name (not yet published); the next run repairs it';
    }
    return failure;
  }

  /** The CSV as stored is exactly what this run wrote; otherwise it is removed (I1) and the run fails. */
  async #verify(written: StoredObject, bytes: number, pending: StoredObject | undefined, metadata: Readonly<Record<string, string>>, signal: AbortSignal): Promise<StoredObject> {
    const { key } = this.#options;
    const storage = this.#storage;
    const location = storage.locate(key);
    let stored: StoredObject | undefined;
    try {
      stored = await storage.head(key, signal);
    } catch (error) {
      this.#leftBehind = 'the CSV is published without its manifest (it could not be verified); the next run repairs it';
      throw error;
    }
    const problems: string[] = [];
    if (!stored) problems.push('nothing is there');
    else {
      if (stored.size !== bytes) problems.push(`size ${stored.size} ≠ ${bytes} bytes read`);
      if (written.etag && stored.etag !== written.etag) problems.push(`ETag ${stored.etag} is not our write's ${written.etag}`);
      const mine = stored.metadata.run_id === metadata.run_id || (pending !== undefined && stored.etag === pending.etag);
      if (!mine) problems.push(`run_id ${stored.metadata.run_id ?? '(none)'} is not ours`);
    }
    if (problems.length === 0) return { ...stored!, versionId: stored!.versionId ?? written.versionId };
    // Never leave a wrong object under the final name: remove it if it is the one we checked.
    if (stored && (stored.metadata.run_id === metadata.run_id || (pending !== undefined && stored.etag === pending.etag))) {
      await storage.remove(key, { signal, ifMatch: stored.etag }).catch(() => undefined);
      this.#leftBehind = 'nothing (the wrong object was removed)';
    } else {
      this.#leftBehind = 'another object is under the final name, without a manifest';
    }
    throw new TransientFailure(`verification of ${location} failed: ${problems.join('; ')}`, { phase: 'upload', context: { location } });
  }

  async #writeManifest(bytes: Buffer, csv: StoredObject, metadata: Readonly<Record<string, string>>, signal: AbortSignal): Promise<void> {
    const { manifestKey } = this.#options;
    const storage = this.#storage;
    const write = () => storage.write(manifestKey, once(bytes), { signal, ifExists: 'fail', contentType: 'application/json', metadata });
    try {
      try {
        await write();
      } catch (error) {
        if (!(error instanceof ConditionNotMet)) throw error;
        // Our own earlier attempt (its answer lost): the manifest there is ours, byte for byte.
        const there = await storage.read(manifestKey, signal).catch(() => undefined);
        if (there?.bytes.equals(bytes)) return;
        // A manifest written since we looked, by a run that held this lock before us and was paused
        // past its lifetime: it describes the CSV we just replaced. Under our lock (renewed just now),
        // with our CSV under the final name, it is a lie: remove it (If-Match) and publish ours.
        if (!there || !(await this.#csvIsStill(csv, signal))) throw error;
        await this.#storage.remove(manifestKey, { signal, ifMatch: there.object.etag });
        await write();
      }
    } catch (error) {
      this.#leftBehind = 'the CSV is published without its manifest (not yet published); the next run repairs it';
      throw error instanceof ReportError ? error : new TransientFailure(`writing the manifest failed: ${messageOf(error)}`, { phase: 'upload', cause: error });
    }
  }

  /** The second fence (see `publish`): renew the lock; one taken over meanwhile stops the run before its manifest. */
  async #renewBeforeManifest(csv: StoredObject, metadata: Readonly<Record<string, string>>, signal: AbortSignal): Promise<void> {
    try {
      await this.#lock.renew(signal);
    } catch (error) {
      if (!(error instanceof ConditionNotMet || (error instanceof TransientFailure && error.message.startsWith('lost the lock')))) throw error;
      this.#leftBehind = 'the CSV is published without its manifest (another run took the lock over); that run, or the next, replaces it';
      const holder = error.context.holder_run_id;
      throw new TransientFailure(
        `lost the lock ${this.#lock.key} while publishing (the run was paused longer than the lock's lifetime${typeof holder === 'string' ? `; run ${holder} took it over` : ''}); stopped before writing the manifest`,
        { phase: 'upload', cause: error, context: { key: this.#options.key, run_id: metadata.run_id, etag: csv.etag, ...(typeof holder === 'string' ? { holder_run_id: holder } : {}) } },
      );
    }
  }

  /** Whether the CSV under the final name is still `csv` (its ETag). */
  async #csvIsStill(csv: StoredObject, signal: AbortSignal): Promise<boolean> {
    const now = await this.#storage.head(this.#options.key, signal).catch(() => undefined);
    return now !== undefined && now.etag === csv.etag;
  }

  /**
   * After a failure once our CSV may be visible: a manifest that does not describe the CSV under
   * the final name (another run's, written while we held a lock we had lost, or ours beside a CSV
   * replaced since) is removed, If-Match, so the pair never disagrees. The manifest is read before
   * the CSV: a run that publishes meanwhile writes its CSV first, so a manifest that describes the
   * CSV we then see is never taken for a lie.
   */
  async #dropManifestThatLies(signal: AbortSignal): Promise<void> {
    try {
      const manifest = await this.#storage.read(this.#options.manifestKey, signal);
      if (!manifest) return;
      const csv = await this.#storage.head(this.#options.key, signal);
      if (csv && describes(manifest.bytes, csv)) return;
      await this.#storage.remove(this.#options.manifestKey, { signal, ifMatch: manifest.object.etag });
      this.#leftBehind = 'a CSV without a manifest (not yet published; a manifest that did not describe it was removed); the next run repairs it';
    } catch {
      // Bounded clean-up: the next run's state.read sees a manifest that does not describe the CSV as "incomplete".
    }
  }

  /**
   * A conditional delete. One that failed, or was refused, while the object is gone all the same was
   * ours (it happened; its answer was lost): under the lock nobody else deletes it.
   */
  async #remove(key: string, etag: string, signal: AbortSignal): Promise<void> {
    try {
      await this.#storage.remove(key, { signal, ifMatch: etag });
    } catch (error) {
      const gone = (await this.#storage.head(key, signal).catch(() => 'unknown' as const)) === undefined;
      if (!gone) throw error;
    }
  }

  async #release(signal: AbortSignal): Promise<void> {
    this.#step('lock.release');
    // The report's state does not depend on it: a lock left behind expires, and the next run sees
    // our manifest and takes it over at once.
    await this.#lock.release(signal).catch(() => undefined);
  }

  #step(step: PublishStepName): void {
    this.#options.onStep?.(step);
  }
}

/**
 * Whether a failed request was answered in a way that proves it did not apply (a refused condition,
 * a 4xx refusal, a file-system call's error): then the state we read next shows its effect.
 * Otherwise (aborted, a deadline, a timeout, a reset, a 5xx) the server may still apply it.
 */
function answered(error: unknown): boolean {
  if (error instanceof ConditionNotMet) return true;
  if (!(error instanceof ReportError)) return false;
  // A 5xx is no proof: S3 may have applied a 500, and the SDK's earlier attempts may have timed out.
  const status = error.context.http_status;
  return (typeof status === 'number' && status >= 400 && status < 500) || typeof error.context.code === 'string';
}

/** The manifest we deleted, to put back: the same keys, plus the run that put it back (so its bytes and ETag differ). */
function restoredManifest(bytes: Buffer, runId: string): Buffer | undefined {
  try {
    const parsed = JSON.parse(bytes.toString('utf8')) as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
    return Buffer.from(`${JSON.stringify({ ...parsed, restored_by_run_id: runId }, null, 2)}\n`, 'utf8');
  } catch {
    return undefined;
  }
}

/** An adapter's verification found the stored object differs from what was sent. */
function isMismatch(error: unknown): boolean {
  return error instanceof ReportError && error.context.verification === 'mismatch';
}

/** The run_id a manifest names, if it parses. */
function manifestRunId(bytes: Buffer): string | undefined {
  try {
    const parsed = JSON.parse(bytes.toString('utf8')) as { run_id?: unknown };
    return typeof parsed.run_id === 'string' ? parsed.run_id : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a manifest describes this CSV: its size, and its identity when the manifest records one. */
function describes(manifest: Buffer, csv: StoredObject): boolean {
  try {
    const parsed = JSON.parse(manifest.toString('utf8')) as { bytes?: unknown; object?: { etag?: unknown } };
    if (parsed.bytes !== csv.size) return false;
    return typeof parsed.object?.etag !== 'string' || parsed.object.etag === csv.etag;
  } catch {
    return false;
  }
}

/** A signal that aborts `ms` after `signal` does (or never, if it does not). */
function graceAfter(signal: AbortSignal, ms: number): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const start = () => (timer = setTimeout(() => controller.abort(new Error(`could not finish publishing within ${ms / 1000} s of the signal`)), ms));
  if (signal.aborted) start();
  else signal.addEventListener('abort', start, { once: true });
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', start);
    },
  };
}

/** For clean-up after a failure or a signal: bounded, whatever the run's own signal says. */
function graceSignal(): AbortSignal {
  return AbortSignal.timeout(FINISH_AFTER_SIGTERM_MS);
}

async function* once(bytes: Buffer): AsyncGenerator<Buffer> {
  yield bytes;
}
