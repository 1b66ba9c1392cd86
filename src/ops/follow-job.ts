import type { V1Job } from '@kubernetes/client-node';
import { RunWasTerminated } from '../errors.ts';
import { isFinished, jobState } from './report-run.ts';
import type { ReportJobs } from './report-jobs.ts';

export interface FollowOptions {
  readonly pollMs: number;
  readonly signal: AbortSignal;
  /** Called on every poll with what is known: the Job's state, its newest pod's phase, the time since it was created. */
  readonly onProgress: (progress: JobProgress) => void;
}

export interface JobProgress {
  readonly job: string;
  readonly state: string;
  readonly podPhase: string | undefined;
  readonly elapsedMs: number;
}

/** Polls the Job until it completed or failed, and returns it as last read. */
export async function followJob(jobs: ReportJobs, name: string, options: FollowOptions): Promise<V1Job> {
  for (;;) {
    if (options.signal.aborted) throw new RunWasTerminated(`stopped following Job ${name} (it keeps running in the cluster)`, { phase: 'cluster' });
    const job = await jobs.job(name);
    const pods = await jobs.podsOf(name);
    const newest = pods.sort((a, b) => new Date(a.metadata!.creationTimestamp!).getTime() - new Date(b.metadata!.creationTimestamp!).getTime()).at(-1);
    options.onProgress({
      job: name,
      state: jobState(job),
      podPhase: newest?.status?.phase,
      elapsedMs: Date.now() - new Date(job.metadata!.creationTimestamp!).getTime(),
    });
    if (isFinished(job)) return job;
    await sleep(options.pollMs, options.signal);
  }
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

export function formatElapsed(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(s).padStart(2, '0')}s` : `${s}s`;
}
