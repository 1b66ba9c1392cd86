import type { Argv } from 'yargs';
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
