import type { StoredObject, WriteOptions } from './report-storage.ts';

/**
 * The caller's `beforePublish`, kept apart from the service's own failures: if it throws, the
 * adapter rethrows that error as it is (the publisher's lock or manifest step failed), instead of
 * classifying it as a failure of the upload.
 */
export class PublishFence {
  readonly #before: WriteOptions['beforePublish'];
  #failure: { error: unknown } | undefined;

  constructor(before: WriteOptions['beforePublish']) {
    this.#before = before;
  }

  /** For the upload loop: undefined when the caller has no step before publishing. */
  get call(): ((pending?: StoredObject) => Promise<void>) | undefined {
    const before = this.#before;
    if (!before) return undefined;
    return async (pending) => {
      try {
        await before(pending);
      } catch (error) {
        this.#failure = { error };
        throw error;
      }
    };
  }

  /** The fence's own error if it failed, otherwise the service's error, classified. */
  failureOr(serviceError: () => unknown): unknown {
    return this.#failure ? this.#failure.error : serviceError();
  }
}
