import { TransientFailure } from '../errors.ts';
import type { ReportStorage, StoredObject, WriteOptions, WriteResult } from '../storage/report-storage.ts';

/**
 * The storage port with a deadline on every small request (lock, manifest, HEAD, delete): the SDKs
 * have their own per-attempt timeouts, but one was seen not to fire (Azure, a HEAD the server read
 * and never answered, waited for ever). Every provider gets the same bound, and a request that
 * outlives it fails as transient, naming the object.
 */
export class BoundedStorage implements ReportStorage {
  readonly #inner: ReportStorage;
  readonly #boundMs: number;

  constructor(inner: ReportStorage, boundMs: number) {
    this.#inner = inner;
    this.#boundMs = boundMs;
  }

  get provider(): string {
    return this.#inner.provider;
  }

  locate(key: string): string {
    return this.#inner.locate(key);
  }

  exists(key: string, signal: AbortSignal): Promise<boolean> {
    return this.#bounded('HEAD', key, signal, (bounded) => this.#inner.exists(key, bounded));
  }

  head(key: string, signal: AbortSignal): Promise<StoredObject | undefined> {
    return this.#bounded('HEAD', key, signal, (bounded) => this.#inner.head(key, bounded));
  }

  read(key: string, signal: AbortSignal): Promise<{ bytes: Buffer; object: StoredObject } | undefined> {
    return this.#bounded('GET', key, signal, (bounded) => this.#inner.read(key, bounded));
  }

  remove(key: string, options: { signal: AbortSignal; ifMatch: string }): Promise<void> {
    return this.#bounded('DELETE', key, options.signal, (bounded) => this.#inner.remove(key, { ...options, signal: bounded }));
  }

  /** For small objects (lock, manifest): the whole write is one request. */
  write(key: string, body: AsyncIterable<Uint8Array>, options: WriteOptions): Promise<WriteResult> {
    return this.#bounded('PUT', key, options.signal, (bounded) => this.#inner.write(key, body, { ...options, signal: bounded }));
  }

  async #bounded<T>(method: string, key: string, signal: AbortSignal, call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const deadline = AbortSignal.timeout(this.#boundMs);
    try {
      return await call(AbortSignal.any([signal, deadline]));
    } catch (error) {
      if (deadline.aborted && !signal.aborted) {
        throw new TransientFailure(`no answer to ${method} ${this.#inner.locate(key)} within ${Math.round(this.#boundMs / 1000)} s (every attempt included)`, {
          phase: 'upload',
          cause: error,
          context: { key },
        });
      }
      throw error;
    }
  }
}
