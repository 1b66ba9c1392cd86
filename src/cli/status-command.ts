import type { Argv, CommandModule } from 'yargs';
import { ExitCode } from '../errors.ts';
import { formatElapsed } from '../ops/follow-job.ts';
import { reportRun, type ReportRun } from '../ops/report-run.ts';
import { withCluster, type CommandContext } from './command-context.ts';
import { clusterOptions, pollIntervalMs, type CommandDone } from './options.ts';
import type { ClusterArgs } from './rerun-command.ts';
import { formatTable } from './text-table.ts';

export interface StatusArgs extends ClusterArgs {
  readonly days: number;
  readonly output: 'table' | 'json';
}

/** `daily-report status`: the CronJob's runs (Jobs) created in the last --days days, newest first. */
export async function statusCommand(args: StatusArgs, context: CommandContext): Promise<ExitCode> {
  const problems: string[] = [];
  if (!Number.isSafeInteger(args.days) || args.days < 1) problems.push(`--days: must be a whole number ≥ 1 (got ${args.days})`);
  pollIntervalMs(args['poll-interval'], problems);
  return withCluster(context, { ...args, problems }, async (jobs) => {
    const cronJob = await jobs.cronJob(args.cronjob);
    const timezone = cronJob.spec?.timeZone ?? 'Etc/UTC';
    // Runs of the last N days, whatever date they published: a rerun of last month today is a recent run.
    const since = Date.now() - args.days * 86_400_000;
    const owned = await jobs.jobsOf(cronJob);
    const events = await jobs.jobEvents();
    const runs = owned.filter((job) => new Date(job.metadata!.creationTimestamp!).getTime() >= since).map((job) => reportRun(job, timezone, events));
    context.stdout.write(args.output === 'json' ? `${JSON.stringify(runs, null, 2)}\n` : formatRuns(runs, cronJob.metadata!.name!, jobs.namespace, args.days));
    return ExitCode.ok;
  });
}

function formatRuns(runs: readonly ReportRun[], cronJob: string, namespace: string, days: number): string {
  if (runs.length === 0) return `no runs of CronJob ${cronJob} in ${namespace} in the last ${days === 1 ? 'day' : `${days} days`}\n`;
  const duration = (run: ReportRun) =>
    run.started_at === null ? '-' : formatElapsed(new Date(run.finished_at ?? Date.now()).getTime() - new Date(run.started_at).getTime());
  const rows = runs.map((run) => [
    run.report_date,
    run.job,
    run.trigger,
    run.state,
    run.started_at ?? '-',
    duration(run),
    run.rows === null ? '-' : String(run.rows),
    run.key ?? '-',
    run.reason ?? '',
  ]);
  return `${formatTable([['REPORT DATE', 'JOB', 'TRIGGER', 'STATE', 'STARTED', 'DURATION', 'ROWS', 'KEY', 'REASON'], ...rows])}\n`;
}

export function statusCommandModule(context: CommandContext, done: CommandDone): CommandModule<object, StatusArgs> {
  return {
    command: 'status',
    describe: "Show the CronJob's last runs: report date, Job, trigger, state, timing, rows, key, failure reason",
    builder: (yargs: Argv) =>
      clusterOptions(yargs)
        .option('days', { type: 'number', default: 7, describe: 'Runs started in the last N days' })
        .option('output', { alias: 'o', choices: ['table', 'json'] as const, default: 'table' as const, describe: 'json: an array of objects for scripts' })
        .example('$0 status', 'the last week of runs')
        .example('$0 status --days 30 -o json', 'for scripts') as unknown as Argv<StatusArgs>,
    handler: async (argv) => done(await statusCommand(argv, context)),
  };
}
