import { ConfigurationIsInvalid, TransientFailure } from '../errors.ts';
import { PartBufferPool } from './part-buffer-pool.ts';

/** What a storage service does with a body cut into parts; `uploadInParts` drives it. */
export interface PartTarget<R> {
  /** The whole body fits in one part (0 to partSize bytes): publish it in one request. */
  single(bytes: Buffer, signal: AbortSignal): Promise<R>;
  /** Stores part `number` (from 1) of a longer body; up to queueSize parts are in flight at once. */
  part(number: number, bytes: Buffer, signal: AbortSignal): Promise<void>;
  /** All `parts` parts are stored: publish them as one object. */
  complete(parts: number, signal: AbortSignal): Promise<R>;
  /** The upload failed after parts were sent (those in flight have settled or were given up on): clean up, within bounds. */
  abandon(): Promise<void>;
}

export interface PartUploadOptions {
  readonly partSize: number;
  /** Parts in flight at once; one more buffer is being filled meanwhile. */
  readonly queueSize: number;
  /** The service's limit on parts per object. */
  readonly maxParts: number;
  /** The setting that raises the part size, named when a body needs more than maxParts parts. */
  readonly partSizeSetting: string;
  readonly signal: AbortSignal;
  /** Called whenever a part has been stored, for a stall watchdog. */
  readonly onPartStored?: () => void;
  /**
   * Called once the body has ended and every part is stored, just before the request that makes
   * the object visible (the publisher's fence: it checks its lock and sets the old manifest aside).
   */
  readonly beforePublish?: () => Promise<void>;
}

/** How long a failed upload waits for its parts in flight to settle before cleaning up regardless. */
const SETTLE_TIMEOUT_MS = 10_000;

/**
 * Streams a body into parts cut from a fixed pool of `queueSize + 1` part buffers, reused part
 * after part (part-buffer-pool.ts): memory stays at `partSize × (queueSize + 1)` for any report
 * size. With `queueSize` parts in flight and the next buffer full, the body is not read
 * until a part is stored, so back-pressure reaches the database. A body of one part or less goes
 * to `single`; any failure stops the parts in flight and calls `abandon` before it is rethrown.
 */
export async function uploadInParts<R>(body: AsyncIterable<Uint8Array>, target: PartTarget<R>, options: PartUploadOptions): Promise<R> {
  return new PartUpload(target, options).run(body);
}

class PartUpload<R> {
  readonly #target: PartTarget<R>;
  readonly #options: PartUploadOptions;
  readonly #pool: PartBufferPool;
  /** Aborts the parts in flight: on the caller's signal, and when the upload fails. */
  readonly #stop = new AbortController();
  readonly #signal: AbortSignal;
  readonly #inFlight = new Set<Promise<void>>();
  #parts = 0;
  /** Bytes read from the body, and bytes of the parts the service acknowledged, by part number. */
  #bytesRead = 0;
  readonly #acknowledged = new Map<number, number>();
  /**
   * The first part that failed. Kept here, not only in its promise: a part can fail and leave
   * `#inFlight` before anyone races it, and a rejection seen by nobody once let `complete` run
   * without that part (a truncated object under the final name).
   */
  #failure: { error: unknown } | undefined;

  constructor(target: PartTarget<R>, options: PartUploadOptions) {
    this.#target = target;
    this.#options = options;
    this.#pool = new PartBufferPool(options.partSize, options.queueSize + 1);
    this.#signal = AbortSignal.any([options.signal, this.#stop.signal]);
  }

  async run(body: AsyncIterable<Uint8Array>): Promise<R> {
    const { partSize, queueSize } = this.#options;
    // Allocated, not touched: a small body makes resident only the pages it fills.
    let buffer = this.#pool.take();
    let filled = 0;
    try {
      for await (const chunk of body) {
        this.#throwIfPartFailed();
        this.#bytesRead += chunk.length;
        for (let offset = 0; offset < chunk.length; ) {
          // A full buffer goes out only once more bytes arrive: a body of exactly one part is `single`.
          if (filled === partSize) {
            while (this.#inFlight.size >= queueSize) await this.#nextSettled();
            this.#send(buffer, filled);
            buffer = this.#pool.take(); // at most queueSize buffers are in flight: one is free
            filled = 0;
          }
          const take = Math.min(partSize - filled, chunk.length - offset);
          buffer.set(take === chunk.length ? chunk : chunk.subarray(offset, offset + take), filled);
          filled += take;
          offset += take;
        }
      }
      if (this.#parts === 0) {
        await this.#options.beforePublish?.();
        return await this.#target.single(buffer.subarray(0, filled), this.#signal);
      }
      this.#send(buffer, filled);
      while (this.#inFlight.size > 0) await this.#nextSettled();
      this.#throwIfPartFailed();
      this.#assertEveryPartStored();
      await this.#options.beforePublish?.();
      return await this.#target.complete(this.#parts, this.#signal);
    } catch (error) {
      await this.#abandon();
      throw error;
    }
  }

  #send(buffer: Buffer, length: number): void {
    const number = ++this.#parts;
    const { maxParts, partSize, partSizeSetting } = this.#options;
    if (number > maxParts) {
      throw new ConfigurationIsInvalid([`the report needs more than ${maxParts} parts of ${partSize / 2 ** 20} MiB (the service's limit); raise ${partSizeSetting}`], {
        phase: 'upload',
      });
    }
    const part: Promise<void> = this.#target
      .part(number, buffer.subarray(0, length), this.#signal)
      .then(
        () => {
          this.#acknowledged.set(number, length);
          this.#options.onPartStored?.();
        },
        (error: unknown) => {
          this.#failure ??= { error };
          throw error;
        },
      )
      .finally(() => {
        this.#inFlight.delete(part);
        // Once the request has settled the SDK holds no reference to the bytes (it retries inside).
        this.#pool.release(buffer);
      });
    part.catch(() => undefined); // observed by #nextSettled or #abandon
    this.#inFlight.add(part);
  }

  #throwIfPartFailed(): void {
    if (this.#failure) throw this.#failure.error;
  }

  /**
   * The last word before the parts become one object: every part acknowledged, numbered 1..N
   * without a gap, and their bytes summing to exactly the bytes read. Anything else is a bug or a
   * lost part; completing would publish a wrong object, so the upload fails (transient) instead.
   */
  #assertEveryPartStored(): void {
    const problems: string[] = [];
    let stored = 0;
    for (let number = 1; number <= this.#parts; number++) {
      const bytes = this.#acknowledged.get(number);
      if (bytes === undefined) problems.push(`part ${number} was never acknowledged`);
      else stored += bytes;
    }
    if (this.#acknowledged.size !== this.#parts) problems.push(`${this.#acknowledged.size} parts acknowledged for ${this.#parts} sent`);
    if (stored !== this.#bytesRead) problems.push(`the parts hold ${stored} bytes, ${this.#bytesRead} were read`);
    if (problems.length > 0) throw new TransientFailure(`refusing to complete the upload: ${problems.join('; ')}`, { phase: 'upload' });
  }

  /** Resolves when some part in flight is stored; rejects with the first part failure or on abort. */
  async #nextSettled(): Promise<void> {
    this.#throwIfPartFailed();
    this.#signal.throwIfAborted();
    let onAbort!: () => void;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(this.#signal.reason);
      this.#signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([...this.#inFlight, aborted]);
      this.#throwIfPartFailed();
    } finally {
      this.#signal.removeEventListener('abort', onAbort);
    }
  }

  /** Stops the parts in flight, waits for them within a bound (a request may ignore its abort), then lets the target clean up. */
  async #abandon(): Promise<void> {
    this.#stop.abort(new Error('upload abandoned'));
    if (this.#parts === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.#inFlight]), new Promise((resolve) => (timer = setTimeout(resolve, SETTLE_TIMEOUT_MS)))]);
    clearTimeout(timer);
    await this.#target.abandon();
  }
}
