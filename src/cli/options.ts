import type { Argv } from 'yargs';
import { parseDuration } from '../config/duration.ts';
import type { ExitCode } from '../errors.ts';

/** How a command hands its exit code back to the CLI (yargs handlers return nothing). */
export type CommandDone = (code: ExitCode) => void;

/** `--date`, shared by the commands that work on one report date. */
export function dateOption<T>(yargs: Argv<T>) {
  return yargs.option('date', {
    type: 'string',
    describe: "Report date YYYY-MM-DD (default: today in REPORT_TIMEZONE); the report covers the day before. Wins over REPORT_DATE",
  });
}

/** Where the CronJob is: shared by rerun, backfill and status. */
export function clusterOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('namespace', { alias: 'n', type: 'string', describe: "Namespace of the CronJob (default: the kube context's, in a pod its own)" })
    .option('cronjob', { type: 'string', default: 'daily-report', describe: "Name of the CronJob (the chart's default name)" })
    .option('context', { type: 'string', describe: 'kubeconfig context (default: the current one)' })
    .option('poll-interval', { type: 'string', default: '2s', describe: 'How often to read the Jobs while waiting', hidden: true });
}

/** `--poll-interval` in milliseconds, or a problem. */
export function pollIntervalMs(text: string, problems: string[]): number {
  const ms = parseDuration(text);
  if (ms === undefined || ms < 10) problems.push(`--poll-interval: must be a duration such as 2s (got ${JSON.stringify(text)})`);
  return ms ?? 2_000;
}
