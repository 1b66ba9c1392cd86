import { randomBytes } from 'node:crypto';
import type { Argv, CommandModule } from 'yargs';
import { ConfigurationIsInvalid, ExitCode } from '../errors.ts';
import { futureDates, reportDateProblems } from '../ops/date-range.ts';
import { followJob, sleep } from '../ops/follow-job.ts';
import { rerunJob } from '../ops/rerun-job.ts';
import { reportRun, workerExitCode, type ReportRun } from '../ops/report-run.ts';
import type { ReportJobs } from '../ops/report-jobs.ts';
import { withCluster, type CommandContext } from './command-context.ts';
import { clusterOptions, pollIntervalMs, type CommandDone } from './options.ts';
import { progressReporter } from './progress-reporter.ts';

export interface ClusterArgs {
  readonly namespace?: string | undefined;
  readonly cronjob: string;
  readonly context?: string | undefined;
  readonly 'poll-interval': string;
}

export interface RerunArgs extends ClusterArgs {
  readonly date?: string | undefined;
  readonly wait: boolean;
}

/** `daily-report rerun --date D [--wait]`: one Job from the CronJob's template with REPORT_DATE=D. */
export async function rerunCommand(args: RerunArgs, context: CommandContext): Promise<ExitCode> {
  const problems = reportDateProblems('--date', args.date);
  if (problems.length === 0) problems.push(...futureProblems([args.date!], LATEST_ZONE));
  const pollMs = pollIntervalMs(args['poll-interval'], problems);
  return withCluster(context, { ...args, problems }, async (jobs, logger) => {
    const date = args.date!;
    const cronJob = await jobs.cronJob(args.cronjob);
    const timezone = cronJob.spec?.timeZone ?? 'Etc/UTC';
    rejectFutureDates([date], timezone);
    const job = await jobs.createJob(rerunJob(cronJob, date, await jobs.whoAmI(), randomSuffix()));
    const name = job.metadata!.name!;
    logger.info({ job: name, namespace: jobs.namespace, report_date: date }, 'rerun job created');
    context.stdout.write(`job.batch/${name} created in ${jobs.namespace} for report date ${date}\n`);
    if (!args.wait) return ExitCode.ok;

    const progress = progressReporter(context.stderr);
    const finished = await followJob(jobs, name, { pollMs, signal: context.signal, onProgress: (p) => progress.update(p) }).finally(() => progress.done());
    let run = reportRun(finished, timezone, await jobs.jobEvents());
    if (run.state === 'succeeded' && run.key === null) {
      // Events are written asynchronously; give the worker's one poll interval to show up.
      await sleep(pollMs, context.signal);
      run = reportRun(finished, timezone, await jobs.jobEvents());
    }
    context.stdout.write(`${describeOutcome(run)}\n`);
    return run.state === 'succeeded' ? ExitCode.ok : await failedExitCode(jobs, name);
  });
}

/** A finished run in one sentence: what was published, or why it failed. */
export function describeOutcome(run: ReportRun): string {
  if (run.state === 'succeeded') {
    const facts = [run.key ? `published ${run.key}` : 'completed', run.rows === null ? undefined : `${run.rows} rows`].filter(Boolean).join(', ');
    return `${run.job}: ${facts}`;
  }
  return `${run.job}: FAILED${run.reason ? ` — ${run.reason}` : ''}`;
}

/** The worker's own exit code when its pod still says it, else 1. */
export async function failedExitCode(jobs: ReportJobs, job: string): Promise<ExitCode> {
  const code = workerExitCode(await jobs.podsOf(job));
  // A failed Job whose pod says 0 (or no longer exists) still failed.
  return (code === undefined || code === 0 ? ExitCode.transient : code) as ExitCode;
}

/** The zone where the day starts first (UTC+14): a date in the future there is in the future everywhere, checked before any I/O. */
export const LATEST_ZONE = 'Pacific/Kiritimati';

export function futureProblems(dates: readonly string[], timezone: string): string[] {
  const future = futureDates(dates, timezone);
  return future.length === 0 ? [] : [`${future.join(', ')} ${future.length === 1 ? 'is' : 'are'} in the future in ${timezone}: a report covers a day that has ended`];
}

/** After reading the CronJob: a date after today in its time zone (the worker's REPORT_TIMEZONE) is refused. */
export function rejectFutureDates(dates: readonly string[], timezone: string): void {
  const problems = futureProblems(dates, timezone);
  if (problems.length > 0) throw new ConfigurationIsInvalid(problems.map((p) => `${p} (the CronJob's time zone)`), { phase: 'cli' });
}

export function randomSuffix(): string {
  // Lowercase letters and digits: valid in a Job name and in its pods' labels.
  return Array.from(randomBytes(5), (byte) => 'bcdfghjklmnpqrstvwxz2456789'[byte % 27]).join('');
}

export function rerunCommandModule(context: CommandContext, done: CommandDone): CommandModule<object, RerunArgs> {
  return {
    command: 'rerun',
    describe: 'Create a Job from the CronJob that publishes the report of --date (kubectl create job --from, with REPORT_DATE)',
    builder: (yargs: Argv) =>
      clusterOptions(yargs)
        .option('date', { type: 'string', demandOption: true, describe: 'Report date YYYY-MM-DD to publish (the report covers the day before)' })
        .option('wait', { type: 'boolean', default: false, describe: "Follow the Job until it finishes; exit with the worker's exit code" })
        .example('$0 rerun --date 2024-10-05 --wait', 'republish relatorio_20241005.csv and wait for the outcome')
        .example('$0 rerun --date 2024-10-05 -n reports --context prod', 'in another namespace and cluster') as unknown as Argv<RerunArgs>,
    handler: async (argv) => done(await rerunCommand(argv, context)),
  };
}
