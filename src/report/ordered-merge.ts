import { TransientFailure } from '../errors.ts';
import { MostSevereFailure } from './most-severe-failure.ts';
import { SpilledSegment } from './spilled-segment.ts';

/** A segment's bytes, produced by the worker that took it; it must stop when `signal` aborts. */
export type SegmentProducer = (index: number, signal: AbortSignal) => AsyncIterable<Uint8Array>;

export interface OrderedMergeOptions {
  /** Segments, in report order. */
  readonly segments: number;
  /** Workers running segments at once. */
  readonly workers: number;
  /**
   * A worker may start segment k only while k < (oldest segment not yet delivered) + lookAhead:
   * at most lookAhead − 1 segments are spilled at any time, which bounds the disk used.
   */
  readonly lookAhead: number;
  /** Where segments running ahead are spilled (REPORT_SPILL_DIR). */
  readonly spillDir: string;
  /** The spill files' name prefix (the run's id, so a leftover is recognisable). */
  readonly spillName: string;
  /** The run's signal: aborting it cancels every worker. */
  readonly signal: AbortSignal;
  /** A segment was delivered whole: its bytes as they went into the body. */
  readonly onDelivered?: (index: number, bytes: number) => void;
}

/**
 * N workers run the segments of one report, taken from a queue in report order; the body yields
 * their bytes in that order. The oldest undelivered segment streams straight through (the body's
 * reader paces its worker); segments running ahead spill to their own files and are replayed when
 * their turn comes (spilled-segment.ts). Any worker's failure cancels the others and ends the body
 * with the most severe cause (most-severe-failure.ts); `close` (always call it) cancels what still
 * runs, waits for every worker and removes every spill file.
 */
export class OrderedMerge {
  readonly #options: OrderedMergeOptions;
  readonly #produce: SegmentProducer;
  readonly #cancel = new AbortController();
  readonly #signal: AbortSignal;
  readonly #failures = new MostSevereFailure();
  readonly #segments: (SpilledSegment | undefined)[];
  readonly #workers: Promise<void>[] = [];
  /** The next segment a worker takes, and the oldest one not yet delivered whole. */
  #next = 0;
  #head = 0;
  /** Wakes whoever waits for progress: workers held by the look-ahead, the body waiting for its segment to start. */
  #wake: (() => void)[] = [];
  #closed: Promise<void> | undefined;

  constructor(options: OrderedMergeOptions, produce: SegmentProducer) {
    if (!Number.isInteger(options.workers) || options.workers < 1) throw new RangeError(`workers: must be a whole number ≥ 1 (got ${options.workers})`);
    if (!Number.isInteger(options.lookAhead) || options.lookAhead < 1) throw new RangeError(`lookAhead: must be a whole number ≥ 1 (got ${options.lookAhead})`);
    this.#options = options;
    this.#produce = produce;
    this.#signal = AbortSignal.any([options.signal, this.#cancel.signal]);
    this.#segments = new Array(options.segments).fill(undefined);
  }

  /** The merged bytes. Starts the workers on first read. */
  async *body(): AsyncGenerator<Uint8Array> {
    const { segments } = this.#options;
    for (let i = 0; i < Math.min(this.#options.workers, segments); i++) this.#workers.push(this.#work());
    try {
      for (let index = 0; index < segments; index++) {
        const segment = await this.#started(index);
        let bytes = 0;
        try {
          for await (const chunk of segment.drain()) {
            // Another worker failed (or the run was cancelled): stop now, not after the bytes already spilled.
            if (this.#signal.aborted) throw this.#signal.reason;
            bytes += chunk.length;
            yield chunk;
          }
        } catch (error) {
          // No worker failed of its own: the run was cancelled from outside (SIGTERM, the extraction's deadline), whose reason is the cause.
          throw (await this.#settle()) ?? (this.#options.signal.aborted ? this.#options.signal.reason : error);
        } finally {
          await segment.dispose();
        }
        this.#head = index + 1;
        this.#notify();
        this.#options.onDelivered?.(index, bytes);
      }
    } finally {
      await this.close();
    }
    if (this.#failures.failed) throw this.#failures.cause;
  }

  /** Cancels the workers still running, waits for all of them and removes every spill file. Idempotent. */
  close(): Promise<void> {
    return (this.#closed ??= (async () => {
      if (this.#head < this.#options.segments && !this.#signal.aborted) this.#cancel.abort(new Error('the report body was closed before its end'));
      // A worker waiting for the body to take its chunk is released: nobody will take it now.
      for (const segment of this.#segments) segment?.fail(this.#signal.reason);
      this.#notify();
      await Promise.allSettled(this.#workers);
      await Promise.allSettled(this.#segments.map((segment) => segment?.dispose()));
    })());
  }

  /** After the body failed: the run's cause, once every worker has stopped (a later permanent failure may still win). */
  async #settle(): Promise<unknown> {
    await this.close();
    return this.#failures.cause;
  }

  async #work(): Promise<void> {
    const { lookAhead, spillDir, spillName } = this.#options;
    for (;;) {
      if (this.#signal.aborted || this.#next >= this.#segments.length) return;
      if (this.#next >= this.#head + lookAhead) {
        await this.#progress();
        continue;
      }
      const index = this.#next++;
      const segment = new SpilledSegment({ dir: spillDir, name: `${spillName}-${index}`, direct: index === this.#head });
      this.#segments[index] = segment;
      this.#notify();
      try {
        for await (const chunk of this.#produce(index, this.#signal)) {
          this.#signal.throwIfAborted();
          await segment.accept(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)).catch((error: unknown) => {
            throw spillFailed(error, spillDir);
          });
        }
        await segment.finish().catch((error: unknown) => {
          throw spillFailed(error, spillDir);
        });
      } catch (error) {
        this.#failures.record(error, this.#signal.aborted);
        this.#cancel.abort(error);
        segment.fail(this.#failures.cause ?? error);
        this.#notify();
        return;
      }
    }
  }

  /** The segment `index` once a worker took it; throws the run's failure if the workers stopped first. */
  async #started(index: number): Promise<SpilledSegment> {
    for (;;) {
      const segment = this.#segments[index];
      if (segment) return segment;
      if (this.#signal.aborted) throw await this.#settle().then((cause) => cause ?? this.#signal.reason);
      await this.#progress();
    }
  }

  #progress(): Promise<void> {
    return new Promise((resolve) => this.#wake.push(resolve));
  }

  #notify(): void {
    const waiting = this.#wake;
    this.#wake = [];
    for (const wake of waiting) wake();
  }
}

function spillFailed(error: unknown, dir: string): unknown {
  if (!(error instanceof Error) || !('code' in error)) return error;
  return new TransientFailure(`cannot write a spill file in REPORT_SPILL_DIR=${dir}: ${error.message} (it needs room for the segments running ahead; see docs/parallel-extraction.md)`, {
    phase: 'extract',
    cause: error,
    context: { spill_dir: dir },
  });
}
