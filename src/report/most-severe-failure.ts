import { exitCodeOf, ExitCode, PERMANENT_EXIT_CODES } from '../errors.ts';

/**
 * The failures of a run's workers, and the one the run reports. The first failure cancels the
 * others; what they then throw (a cancelled query, a dropped connection: transient) is a
 * consequence, never the cause. A permanent failure (invalid query, bad data, access denied) met
 * by any worker wins over a transient one, even when it arrived second: a retry cannot help it, and
 * the exit code must say so (the chart's podFailurePolicy fails the Job at once on it).
 */
export class MostSevereFailure {
  #first: unknown;
  #permanent: unknown;
  #any = false;

  /** Records a worker's failure; `cancelled`: the run was already being cancelled when it happened. */
  record(error: unknown, cancelled: boolean): void {
    if (!this.#any && !cancelled) {
      this.#any = true;
      this.#first = error;
    }
    if (this.#permanent === undefined && isPermanent(error)) this.#permanent = error;
  }

  /** Whether a failure of the run's own (not a cancellation) was recorded. */
  get failed(): boolean {
    return this.#any || this.#permanent !== undefined;
  }

  /** The cause to report: the first permanent failure, else the first failure; undefined when none. */
  get cause(): unknown {
    return this.#permanent ?? this.#first;
  }
}

function isPermanent(error: unknown): boolean {
  const code = exitCodeOf(error);
  return code !== ExitCode.transient && PERMANENT_EXIT_CODES.includes(code);
}
