import { TransientFailure } from '../errors.ts';

/**
 * Calls `onStall` once when the upload has made no progress for `timeoutMs`. The SDKs have their
 * own request timeouts; this is the backstop for a request they miss (a server that read a part in
 * full and never answered was seen to escape them).
 *
 * Only the upload's own silence counts: the time it holds a chunk without asking for the next one,
 * and the time after the body ended. The time the body takes to give a chunk is the database's
 * (a query that sorts for ten minutes before its first row), bounded by REPORT_STATEMENT_TIMEOUT,
 * and was once taken for a hung upload: `watch` the body to tell them apart.
 */
export class StallWatchdog {
  #last = performance.now();
  #waitingForBody = false;
  readonly #timer: NodeJS.Timeout;

  constructor(timeoutMs: number, location: string, onStall: (error: TransientFailure) => void) {
    this.#timer = setInterval(() => {
      if (this.#waitingForBody || performance.now() - this.#last <= timeoutMs) return;
      this.stop();
      onStall(
        new TransientFailure(`the upload of ${location} made no progress for ${Math.round(timeoutMs / 1000)} s; abandoned so a retry can start afresh`, {
          phase: 'upload',
          context: { location },
        }),
      );
    }, Math.min(1_000, timeoutMs / 4));
  }

  progress(): void {
    this.#last = performance.now();
  }

  /** The body, passed through; while it is being waited for, the watchdog does not count. */
  async *watch(body: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    try {
      this.#waitingForBody = true;
      for await (const chunk of body) {
        this.#waitingForBody = false;
        this.progress();
        yield chunk;
        this.#waitingForBody = true;
      }
    } finally {
      this.#waitingForBody = false;
      this.progress();
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
