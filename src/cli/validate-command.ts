import type { Argv, CommandModule } from 'yargs';
import type { Config, StorageConfig } from '../config/config.ts';
import { redactUrl } from '../config/redaction.ts';
import { exitCodeOf, ExitCode, messageOf, ReportContractViolated } from '../errors.ts';
import { PostgresReportSource } from '../extract/postgres-report-source.ts';
import { preflightStorage } from '../publish/storage-preflight.ts';
import { compressedKey } from '../report/report-compression.ts';
import { reportKey } from '../report/report-key.ts';
import { requestBoundMs } from '../report/run-report.ts';
import { todayIn } from '../report/report-window.ts';
import { validateReport, type Validation } from '../report/validate-report.ts';
import { createStorage } from '../storage/create-storage.ts';
import type { ReportStorage } from '../storage/report-storage.ts';
import { logFailure, withConfig, type CommandContext } from './command-context.ts';
import { dateOption, type CommandDone } from './options.ts';
import { formatTable } from './text-table.ts';

export interface ValidateArgs {
  readonly date?: string | undefined;
}

export type StorageCheck =
  | { readonly state: 'ok'; readonly location: string; readonly note?: string }
  | { readonly state: 'failed'; readonly location: string; readonly error: unknown };

type DatabaseCheck = { readonly ok: true; readonly validation: Validation } | { readonly ok: false; readonly label: string; readonly error: unknown };

/**
 * `daily-report validate`: configuration, then the database (connect, describe the query, the
 * contract) and the storage (its preflight), both checked and printed in one run, so a wrong
 * password and a missing bucket are found together. Exit code: the database's failure if any,
 * else the storage's, else 3 for a broken contract, else 0.
 */
export async function validateCommand(args: ValidateArgs, context: CommandContext): Promise<ExitCode> {
  return withConfig(context, args, async (config, logger) => {
    const source = new PostgresReportSource(config.database, logger);
    const [database, storage] = await Promise.all([
      validateReport(config, source, context.signal).then(
        (validation): DatabaseCheck => ({ ok: true, validation }),
        (error: unknown): DatabaseCheck => ({ ok: false, label: source.label, error }),
      ),
      checkStorage(config, context.signal, context.createStorage),
    ]);
    context.stdout.write(formatValidation(database, storage));
    if (!database.ok) {
      if (storage.state === 'failed') logFailure(logger, storage.error);
      throw database.error;
    }
    if (storage.state === 'failed') throw storage.error;
    if (database.validation.violation !== undefined) throw new ReportContractViolated(database.validation.violation, { phase: 'extract' });
    logger.info({ database: database.validation.database, query_file: database.validation.queryFile, storage: storage.location }, 'configuration, connection, query and storage are valid');
    return ExitCode.ok;
  });
}

/**
 * The storage preflight (src/publish/storage-preflight.ts): the report's lock taken and released,
 * so a missing bucket or container, a wrong region or a denied write is found before any night's
 * extraction. A lock another run holds is not a failure of the storage: it is printed as a note.
 */
export async function checkStorage(config: Config, signal: AbortSignal, create: (config: StorageConfig) => Promise<ReportStorage> = createStorage): Promise<StorageCheck> {
  // The key (and so the lock) the run will publish under, compressed suffix included.
  const key = compressedKey(reportKey(config.report.keyTemplate, config.report.date ?? todayIn(config.report.timezone)), config.report.compression);
  let location: string = config.storage.provider;
  try {
    const storage = await create(config.storage);
    location = redactUrl(storage.locate(key));
    const result = await preflightStorage(storage, key, { signal, requestBoundMs: requestBoundMs(config) });
    return result.lock === 'free' ? { state: 'ok', location } : { state: 'ok', location, note: result.message };
  } catch (error) {
    return { state: 'failed', location, error };
  }
}

export function formatValidation(database: DatabaseCheck, storage: StorageCheck): string {
  const lines: string[] = [];
  if (database.ok) {
    const { validation } = database;
    const rows = [['column', 'type', 'written as', 'contract'], ...validation.columns.map((c) => [c.name, c.type, c.kind, c.inContract ? 'ok' : 'unexpected'])];
    const verdict = validation.violation === undefined ? 'contract: ok' : `contract: VIOLATED — ${validation.violation}`;
    lines.push(`database: ${validation.database}`, `query: ${validation.queryFile}`, '', formatTable(rows), '', verdict);
  } else {
    lines.push(`database: ${database.label}: FAILED (exit ${exitCodeOf(database.error)}) — ${messageOf(database.error)}`);
  }
  lines.push(
    storage.state === 'ok'
      ? `storage: ${storage.location}: ok${storage.note === undefined ? '' : ` (${storage.note})`}`
      : `storage: ${storage.location}: FAILED (exit ${exitCodeOf(storage.error)}) — ${messageOf(storage.error)}`,
  );
  return `${lines.join('\n')}\n`;
}

export function validateCommandModule(context: CommandContext, done: CommandDone): CommandModule<object, ValidateArgs> {
  return {
    command: 'validate',
    describe: "Check configuration, the database (connect, the query's columns against the report contract) and the storage; reads no rows, publishes nothing",
    builder: (yargs: Argv) =>
      dateOption(yargs)
        .example('$0 validate', 'check a deployment before the first night')
        .example('REPORT_SQL_FILE=./my-report.sql $0 validate', 'check a new query'),
    handler: async (argv) => done(await validateCommand(argv, context)),
  };
}
