import { TransientFailure } from '../errors.ts';

/**
 * Calls `onStall` once when `progress()` has not been called for `timeoutMs`. The SDKs have
 * their own request timeouts; this is the backstop for a request they miss (a server that read a
 * part in full and never answered was seen to escape them).
 */
export class StallWatchdog {
  #last = performance.now();
  readonly #timer: NodeJS.Timeout;

  constructor(timeoutMs: number, location: string, onStall: (error: TransientFailure) => void) {
    this.#timer = setInterval(() => {
      if (performance.now() - this.#last <= timeoutMs) return;
      this.stop();
      onStall(
        new TransientFailure(`S3 upload of ${location} made no progress for ${Math.round(timeoutMs / 1000)} s; abandoned so a retry can start afresh`, {
          phase: 'upload',
          context: { location },
        }),
      );
    }, Math.min(1_000, timeoutMs / 4));
  }

  progress(): void {
    this.#last = performance.now();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
