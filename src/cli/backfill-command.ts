import type { Argv, CommandModule } from 'yargs';
import { loadStorageConfig } from '../loader/load-config.ts';
import { ExitCode } from '../errors.ts';
import { backfill, type BackfillResult } from '../ops/backfill.ts';
import { datesBetween } from '../ops/date-range.ts';
import { publishedDates } from '../ops/published-dates.ts';
import { compressedKey } from '../report/report-compression.ts';
import { reportKey } from '../report/report-key.ts';
import { createStorage } from '../storage/create-storage.ts';
import { withCluster, type CommandContext } from './command-context.ts';
import { clusterOptions, pollIntervalMs, type CommandDone } from './options.ts';
import { progressReporter } from './progress-reporter.ts';
import { futureProblems, LATEST_ZONE, randomSuffix, rejectFutureDates, type ClusterArgs } from './rerun-command.ts';
import { formatTable } from './text-table.ts';

export interface BackfillArgs extends ClusterArgs {
  readonly from: string;
  readonly to: string;
  readonly parallel: number;
  readonly 'missing-only': boolean;
  readonly 'max-days': number;
  readonly yes: boolean;
}

/** `daily-report backfill --from D1 --to D2`: one Job per date, at most --parallel at once, in date order. */
export async function backfillCommand(args: BackfillArgs, context: CommandContext): Promise<ExitCode> {
  const { dates, problems } = datesBetween(args.from, args.to, args['max-days'], args.yes);
  problems.push(...futureProblems(dates, LATEST_ZONE));
  if (!Number.isInteger(args.parallel) || args.parallel < 1) problems.push(`--parallel: must be a whole number ≥ 1 (got ${args.parallel})`);
  if (!Number.isInteger(args['max-days']) || args['max-days'] < 1) problems.push(`--max-days: must be a whole number ≥ 1 (got ${args['max-days']})`);
  const pollMs = pollIntervalMs(args['poll-interval'], problems);
  return withCluster(context, { ...args, problems }, async (jobs, logger) => {
    // The storage settings are checked before the cluster is contacted, like every other input.
    const where = args['missing-only'] ? await loadStorageConfig(context.env, { signal: context.signal }) : undefined;
    for (const warning of where?.warnings ?? []) logger.warn(warning);
    const cronJob = await jobs.cronJob(args.cronjob);
    rejectFutureDates(dates, cronJob.spec?.timeZone ?? 'Etc/UTC');

    const published = where ? await publishedDates(await createStorage(where.storage), dates, where, context.signal) : new Map<string, string>();
    for (const [date, key] of published) {
      const configured = compressedKey(reportKey(where!.keyTemplate, date), where!.compression);
      if (key !== configured) logger.info({ report_date: date, key, configured_key: configured }, `${date} is published as ${key}, not as ${configured} (REPORT_COMPRESSION=${where!.compression}): not run again; a backfill without --missing-only republishes it`);
    }
    const todo = dates.filter((date) => !published.has(date));
    logger.info({ dates: dates.length, already_published: published.size, to_run: todo.length, parallel: args.parallel }, 'backfill started');

    const progress = progressReporter(context.stderr);
    const results = await backfill(jobs, cronJob, todo, {
      parallel: args.parallel,
      pollMs,
      requestedBy: await jobs.whoAmI(),
      signal: context.signal,
      random: randomSuffix,
      onCreated: (job, date) => logger.info({ job, report_date: date }, 'job created'),
      onProgress: (p) => progress.update(p),
    }).finally(() => progress.done());

    const byDate = new Map(results.map((r) => [r.date, r]));
    const all: BackfillResult[] = dates.map((date) => byDate.get(date) ?? { date, job: null, outcome: 'already published', exitCode: null });
    context.stdout.write(`${formatTable([['DATE', 'JOB', 'OUTCOME', 'EXIT'], ...all.map((r) => [r.date, r.job ?? '-', r.outcome, r.exitCode === null ? '-' : String(r.exitCode)])])}\n`);
    const failed = all.filter((r) => r.outcome !== 'succeeded' && r.outcome !== 'already published');
    return failed.length === 0 ? ExitCode.ok : ExitCode.transient;
  });
}

export function backfillCommandModule(context: CommandContext, done: CommandDone): CommandModule<object, BackfillArgs> {
  return {
    command: 'backfill',
    describe: 'Create one Job per report date from --from to --to (both included), at most --parallel at a time',
    builder: (yargs: Argv) =>
      clusterOptions(yargs)
        .option('from', { type: 'string', demandOption: true, describe: 'First report date YYYY-MM-DD' })
        .option('to', { type: 'string', demandOption: true, describe: 'Last report date YYYY-MM-DD (included)' })
        .option('parallel', { type: 'number', default: 1, describe: 'Jobs active at once (each reads the production database)' })
        .option('missing-only', { type: 'boolean', default: false, describe: 'Skip dates already published, in any REPORT_COMPRESSION (asks the storage configured by STORAGE_PROVIDER & co.)' })
        .option('max-days', { type: 'number', default: 31, describe: 'Refuse longer ranges unless --yes' })
        .option('yes', { type: 'boolean', default: false, describe: 'Confirm a range longer than --max-days' })
        .example('$0 backfill --from 2024-10-01 --to 2024-10-07', 'regenerate a week, one day at a time')
        .example('STORAGE_PROVIDER=s3 AWS_REGION=sa-east-1 $0 backfill --from 2024-09-01 --to 2024-09-30 --missing-only --parallel 2', 'fill the gaps of a month') as unknown as Argv<BackfillArgs>,
    handler: async (argv) => done(await backfillCommand(argv, context)),
  };
}
