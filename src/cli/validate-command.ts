import type { Argv, CommandModule } from 'yargs';
import type { Config, StorageConfig } from '../config/config.ts';
import { redactUrl } from '../config/redaction.ts';
import { exitCodeOf, ExitCode, messageOf, PERMANENT_EXIT_CODES, ReportContractViolated } from '../errors.ts';
import { createReportSources } from '../extract/report-sources.ts';
import { preflightStorage } from '../publish/storage-preflight.ts';
import { compressedKey } from '../report/report-compression.ts';
import { reportKey } from '../report/report-key.ts';
import { requestBoundMs } from '../report/run-report.ts';
import { refuseSameDatabaseTwice } from '../report/same-database-twice.ts';
import { todayIn } from '../report/report-window.ts';
import { typeDisagreement } from '../report/column-type-agreement.ts';
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
 * `daily-report validate`: configuration, then every source database (connect, describe the query,
 * the contract) and the storage (its preflight), all checked and printed in one run, so a wrong
 * password on one source and a missing bucket are found together. Exit code: a source's failure if
 * any (a permanent one before a transient one, then report order), else the storage's, else 3 for
 * a broken contract, else 0.
 */
export async function validateCommand(args: ValidateArgs, context: CommandContext): Promise<ExitCode> {
  return withConfig(context, args, async (config, logger) => {
    const sources = createReportSources(config, logger);
    const [databases, storage] = await Promise.all([
      Promise.all(
        sources.map(({ source }) =>
          validateReport(config, source, context.signal).then(
            (validation): DatabaseCheck => ({ ok: true, validation }),
            (error: unknown): DatabaseCheck => ({ ok: false, label: source.label, error }),
          ),
        ),
      ),
      checkStorage(config, context.signal, context.createStorage),
    ]);
    context.stdout.write(formatValidation(databases, storage));
    const failed = databases.filter((database) => !database.ok);
    if (failed.length > 0) {
      const first = failed.find((database) => PERMANENT_EXIT_CODES.includes(exitCodeOf(database.error))) ?? failed[0]!;
      for (const other of failed) if (other !== first) logFailure(logger, other.error);
      if (storage.state === 'failed') logFailure(logger, storage.error);
      throw first.error;
    }
    if (storage.state === 'failed') throw storage.error;
    const validations = databases.map((database) => (database as Extract<DatabaseCheck, { ok: true }>).validation);
    refuseSameDatabaseTwice(validations.flatMap((validation, i) => (validation.identity === undefined ? [] : [{ name: sources[i]!.name, identity: validation.identity, server: validation.database }])));
    const violated = validations.filter((validation) => validation.violation !== undefined);
    if (violated.length > 0) {
      const violation = violated.map((validation) => (validations.length === 1 ? validation.violation! : `${validation.database}: ${validation.violation!}`)).join('; ');
      throw new ReportContractViolated(violation, { phase: 'extract' });
    }
    const disagreement = typeDisagreement(validations);
    if (disagreement !== undefined) throw new ReportContractViolated(disagreement, { phase: 'extract' });
    logger.info(
      { database: validations.map((validation) => validation.database).join(', '), query_file: config.report.query.file, storage: storage.location },
      `configuration, ${validations.length === 1 ? 'connection' : `connections to all ${validations.length} sources`}, query and storage are valid`,
    );
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

export function formatValidation(databases: readonly DatabaseCheck[], storage: StorageCheck): string {
  const lines: string[] = [];
  databases.forEach((database, i) => {
    if (i > 0) lines.push('');
    lines.push(...databaseLines(database));
  });
  const disagreement = databases.every((database) => database.ok) ? typeDisagreement(databases.map((database) => (database as Extract<DatabaseCheck, { ok: true }>).validation)) : undefined;
  if (disagreement !== undefined) lines.push('', `sources: VIOLATED — ${disagreement}`);
  if (databases.length > 1) lines.push('');
  lines.push(
    storage.state === 'ok'
      ? `storage: ${storage.location}: ok${storage.note === undefined ? '' : ` (${storage.note})`}`
      : `storage: ${storage.location}: FAILED (exit ${exitCodeOf(storage.error)}) — ${messageOf(storage.error)}`,
  );
  return `${lines.join('\n')}\n`;
}

function databaseLines(database: DatabaseCheck): string[] {
  const lines: string[] = [];
  if (database.ok) {
    const { validation } = database;
    const rows = [['column', 'type', 'written as', 'contract'], ...validation.columns.map((c) => [c.name, c.type, c.kind, c.inContract ? 'ok' : 'unexpected'])];
    const verdict = validation.violation === undefined ? 'contract: ok' : `contract: VIOLATED — ${validation.violation}`;
    lines.push(`database: ${validation.database}`, `query: ${validation.queryFile}`, '', formatTable(rows), '', verdict);
  } else {
    lines.push(`database: ${database.label}: FAILED (exit ${exitCodeOf(database.error)}) — ${messageOf(database.error)}`);
  }
  return lines;
}

export function validateCommandModule(context: CommandContext, done: CommandDone): CommandModule<object, ValidateArgs> {
  return {
    command: 'validate',
    describe: "Check configuration, every source database (connect, the query's columns against the report contract) and the storage; reads no rows, publishes nothing",
    builder: (yargs: Argv) =>
      dateOption(yargs)
        .example('$0 validate', 'check a deployment before the first night')
        .example('REPORT_SQL_FILE=./my-report.sql $0 validate', 'check a new query'),
    handler: async (argv) => done(await validateCommand(argv, context)),
  };
}
