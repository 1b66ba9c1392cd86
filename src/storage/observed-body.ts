import { Readable } from 'node:stream';

/**
 * A report body on its way to a storage SDK: counts bytes, lets the adapter hash them, and keeps
 * the body's own failure. An adapter can then tell "the source failed" (a database error,
 * rethrown as it is, exit code and all) from "the storage failed" (classified by the adapter).
 */
export class ObservedBody {
  bytes = 0;
  #failed = false;
  #failure: unknown;
  readonly #body: AsyncIterable<Uint8Array>;
  readonly #onChunk: (chunk: Uint8Array) => void;
  readonly #onEnd: () => void;

  constructor(body: AsyncIterable<Uint8Array>, hooks: { onChunk?: (chunk: Uint8Array) => void; onEnd?: () => void } = {}) {
    this.#body = body;
    this.#onChunk = hooks.onChunk ?? (() => undefined);
    this.#onEnd = hooks.onEnd ?? (() => undefined);
  }

  /**
   * The body as a byte stream for an SDK. On abort the stream fails: SDKs that keep reading their
   * source until it ends (Azure's uploadStream, the S3 part loop) then stop and clean up
   * inside their own promise, instead of being cut loose with work still in flight.
   */
  readable(signal: AbortSignal): Readable {
    const stream = Readable.from(this.#chunks(), { objectMode: false });
    const abort = () => stream.destroy(Object.assign(new Error('upload aborted'), { name: 'AbortError', cause: signal.reason }));
    if (signal.aborted) abort();
    signal.addEventListener('abort', abort, { once: true });
    stream.once('close', () => signal.removeEventListener('abort', abort));
    return stream;
  }

  /** The body's own error if it failed, otherwise the storage error, classified. */
  failureOr(storageError: () => unknown): unknown {
    return this.#failed ? this.#failure : storageError();
  }

  /**
   * Only a failure of the body itself counts as the body's: when the consumer stops early (a part
   * failed), the stream is destroyed and an AbortError is thrown in at the `yield` — that one is
   * the consumer's and must not hide the storage error that caused it.
   */
  async *#chunks(): AsyncGenerator<Uint8Array> {
    const iterator = this.#body[Symbol.asyncIterator]();
    let finished = false;
    try {
      for (;;) {
        let next: IteratorResult<Uint8Array>;
        try {
          next = await iterator.next();
        } catch (error) {
          finished = true;
          this.#failed = true;
          this.#failure = error;
          throw error;
        }
        if (next.done) break;
        this.bytes += next.value.length;
        this.#onChunk(next.value);
        yield next.value;
      }
      finished = true;
      this.#onEnd();
    } finally {
      if (!finished) await iterator.return?.();
    }
  }
}
