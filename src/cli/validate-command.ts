import type { Argv, CommandModule } from 'yargs';
import { ExitCode, ReportContractViolated } from '../errors.ts';
import { PostgresReportSource } from '../extract/postgres-report-source.ts';
import { validateReport, type Validation } from '../report/validate-report.ts';
import { withConfig, type CommandContext } from './command-context.ts';
import { dateOption, type CommandDone } from './options.ts';
import { formatTable } from './text-table.ts';

export interface ValidateArgs {
  readonly date?: string | undefined;
}

/** `daily-report validate`: configuration, connection and the query's columns, without reading a row. */
export async function validateCommand(args: ValidateArgs, context: CommandContext): Promise<ExitCode> {
  return withConfig(context, args, async (config, logger) => {
    const validation = await validateReport(config, new PostgresReportSource(config.database, logger), context.signal);
    context.stdout.write(formatValidation(validation));
    if (validation.violation !== undefined) throw new ReportContractViolated(validation.violation, { phase: 'extract' });
    logger.info({ database: validation.database, query_file: validation.queryFile }, 'configuration, connection and query are valid');
    return ExitCode.ok;
  });
}

export function formatValidation(validation: Validation): string {
  const rows = [['column', 'type', 'written as', 'contract'], ...validation.columns.map((c) => [c.name, c.type, c.kind, c.inContract ? 'ok' : 'unexpected'])];
  const table = formatTable(rows);
  const verdict = validation.violation === undefined ? 'contract: ok' : `contract: VIOLATED — ${validation.violation}`;
  return `database: ${validation.database}\nquery: ${validation.queryFile}\n\n${table}\n\n${verdict}\n`;
}

export function validateCommandModule(context: CommandContext, done: CommandDone): CommandModule<object, ValidateArgs> {
  return {
    command: 'validate',
    describe: "Check configuration, connect, and check the query's columns against the report contract (reads no rows, publishes nothing)",
    builder: (yargs: Argv) =>
      dateOption(yargs)
        .example('$0 validate', 'check a deployment before the first night')
        .example('REPORT_SQL_FILE=./my-report.sql $0 validate', 'check a new query'),
    handler: async (argv) => done(await validateCommand(argv, context)),
  };
}
