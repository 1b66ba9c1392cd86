import yargs from 'yargs';
import { ConfigurationIsInvalid, ExitCode, messageOf, ReportError } from '../errors.ts';
import { VERSION } from '../version.ts';
import type { CommandContext } from './command-context.ts';
import { backfillCommandModule } from './backfill-command.ts';
import { rerunCommandModule } from './rerun-command.ts';
import { runCommandModule } from './run-command.ts';
import { statusCommandModule } from './status-command.ts';
import { validateCommandModule } from './validate-command.ts';

const EPILOGUE = `Configuration comes from environment variables (see the README); secrets may come from files (X_FILE).
rerun, backfill and status use the kubeconfig (KUBECONFIG, ~/.kube/config, or the pod's ServiceAccount).

Exit codes:
  0  published, or already published and REPORT_IF_EXISTS=skip
  1  transient failure: a retry may succeed
  2  invalid configuration, arguments or SQL
  3  the data cannot make a valid report (contract violated, data error)
  4  access denied (database or storage)
  5  already published and REPORT_IF_EXISTS=fail
  130  interrupted by Ctrl-C (SIGINT); nothing published
  143  terminated by SIGTERM; nothing published`;

/** Parses the arguments, runs one command and returns its exit code (usage errors are 2, never yargs' 1). */
export async function runCli(args: readonly string[], context: CommandContext, stderr: NodeJS.WritableStream = process.stderr): Promise<ExitCode> {
  let code: ExitCode = ExitCode.ok;
  const done = (result: ExitCode) => {
    code = result;
  };
  try {
    await yargs(lonelyDashAsValue(args))
      .scriptName('daily-report')
      .usage('$0 <command> [options]\n\nThe nightly PostgreSQL → CSV report job.')
      .command(runCommandModule(context, done))
      .command(validateCommandModule(context, done))
      .command(rerunCommandModule(context, done))
      .command(backfillCommandModule(context, done))
      .command(statusCommandModule(context, done))
      .demandCommand(1, 'Name a command: run, validate, rerun, backfill or status.')
      .strict()
      .fail((message, error) => {
        throw error ?? new ConfigurationIsInvalid([message], { phase: 'cli' });
      })
      .exitProcess(false)
      .help()
      .alias('h', 'help')
      .version(VERSION)
      .epilogue(EPILOGUE)
      .wrap(Math.min(110, process.stdout.columns || 100))
      .parseAsync();
  } catch (error) {
    if (error instanceof ReportError || (error as Error)?.name === 'YError') {
      stderr.write(`daily-report: ${messageOf(error)}\nRun "daily-report --help" for usage.\n`);
      return error instanceof ReportError ? error.exitCode : ExitCode.invalidInput;
    }
    // Not a usage error and not one of ours: a bug. Exit 1 (a retry may not meet it) with its stack.
    stderr.write(`daily-report: unexpected error (a bug in daily-report: please report it with this stack):\n${(error as Error)?.stack ?? String(error)}\n`);
    return ExitCode.transient;
  }
  return code;
}

/**
 * `--out -` is how Unix tools name stdout, but yargs takes a lone `-` for a positional argument
 * (and strict mode then refuses it): hand it over as `--out=-`.
 */
function lonelyDashAsValue(args: readonly string[]): string[] {
  const result: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg.startsWith('--') && arg.length > 2 && !arg.includes('=') && args[i + 1] === '-') {
      result.push(`${arg}=-`);
      i++;
    } else {
      result.push(arg);
    }
  }
  return result;
}
