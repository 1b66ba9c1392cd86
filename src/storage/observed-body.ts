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

  async *#chunks(): AsyncGenerator<Uint8Array> {
    try {
      for await (const chunk of this.#body) {
        this.bytes += chunk.length;
        this.#onChunk(chunk);
        yield chunk;
      }
      this.#onEnd();
    } catch (error) {
      this.#failed = true;
      this.#failure = error;
      throw error;
    }
  }
}
