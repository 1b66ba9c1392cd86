import type { V1CronJob, V1Job } from '@kubernetes/client-node';
import { ExitCode } from '../errors.ts';
import { sleep, type JobProgress } from './follow-job.ts';
import { rerunJob } from './rerun-job.ts';
import { isFinished, jobState, workerExitCode } from './report-run.ts';
import type { ReportJobs } from './report-jobs.ts';

export interface BackfillOptions {
  /** At most this many Jobs active at once: each one reads the production database. */
  readonly parallel: number;
  readonly pollMs: number;
  readonly requestedBy: string;
  readonly signal: AbortSignal;
  readonly random: () => string;
  readonly onCreated?: (job: string, date: string) => void;
  readonly onProgress?: (progress: JobProgress) => void;
}

export interface BackfillResult {
  readonly date: string;
  readonly job: string | null;
  /** `already published`: skipped by --missing-only; `running`: still running when we were stopped. */
  readonly outcome: 'succeeded' | 'failed' | 'running' | 'not started' | 'already published';
  readonly exitCode: number | null;
}

/**
 * One Job per date, in date order, never more than `parallel` active: a Job is created only when
 * an earlier one has finished. On SIGTERM no new Job is created; those running keep running.
 */
export async function backfill(jobs: ReportJobs, cronJob: V1CronJob, dates: readonly string[], options: BackfillOptions): Promise<BackfillResult[]> {
  const results = new Map<string, BackfillResult>(dates.map((date) => [date, { date, job: null, outcome: 'not started', exitCode: null }]));
  const queue = [...dates];
  const active = new Map<string, string>(); // job name → date
  while (queue.length > 0 || active.size > 0) {
    while (queue.length > 0 && active.size < options.parallel && !options.signal.aborted) {
      const date = queue.shift()!;
      const job = await jobs.createJob(rerunJob(cronJob, date, options.requestedBy, options.random()));
      active.set(job.metadata!.name!, date);
      options.onCreated?.(job.metadata!.name!, date);
    }
    if (options.signal.aborted) break;
    await sleep(options.pollMs, options.signal);
    for (const [name, date] of active) {
      const job: V1Job = await jobs.job(name);
      options.onProgress?.({ job: name, state: jobState(job), podPhase: undefined, elapsedMs: Date.now() - new Date(job.metadata!.creationTimestamp!).getTime() });
      if (!isFinished(job)) continue;
      active.delete(name);
      const succeeded = jobState(job) === 'succeeded';
      const exitCode = succeeded ? ExitCode.ok : (workerExitCode(await jobs.podsOf(name)) ?? ExitCode.transient);
      results.set(date, { date, job: name, outcome: succeeded ? 'succeeded' : 'failed', exitCode });
    }
  }
  for (const [name, date] of active) results.set(date, { date, job: name, outcome: 'running', exitCode: null });
  return [...results.values()];
}
