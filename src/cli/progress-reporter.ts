import type { Writable } from 'node:stream';
import { formatElapsed, type JobProgress } from '../ops/follow-job.ts';

export interface ProgressReporter {
  update(progress: JobProgress): void;
  /** Ends a live line so what follows starts on its own line. */
  done(): void;
}

/**
 * Progress of Jobs being followed: on a terminal one live line rewritten in place; otherwise (CI
 * logs, pipes) a plain line only when something changed, so logs stay readable.
 */
export function progressReporter(stream: (Writable & { isTTY?: boolean }) | undefined): ProgressReporter {
  if (stream === undefined) return { update: () => undefined, done: () => undefined };
  const describe = (p: JobProgress) => `${p.job}: ${p.state}, pod ${p.podPhase ?? 'not created yet'}`;
  if (stream.isTTY) {
    let live = false;
    return {
      update(p) {
        stream.write(`\r\x1b[2K${describe(p)}, ${formatElapsed(p.elapsedMs)}`);
        live = true;
      },
      done() {
        if (live) stream.write('\n');
        live = false;
      },
    };
  }
  const last = new Map<string, string>();
  return {
    update(p) {
      const line = describe(p);
      if (last.get(p.job) === line) return;
      last.set(p.job, line);
      stream.write(`${line} (after ${formatElapsed(p.elapsedMs)})\n`);
    },
    done: () => undefined,
  };
}
