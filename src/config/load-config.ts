import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ConfigurationIsInvalid } from '../errors.ts';
import { unknownParameterNames, PARAMETER_NAMES } from '../extract/named-parameters.ts';
import { DEFAULT_KEY_TEMPLATE, keyTemplateProblems } from '../report/report-key.ts';
import { isReportDate, isTimezone, processTimezone, processTimezoneProblem, REPORT_DATE_RULE } from '../report/report-window.ts';
import type { Config, IfExists, LogFormat, LogLevel, SslMode, StorageConfig } from './config.ts';
import { parseDuration } from './duration.ts';
import { alertShape } from '../alerts/alert-settings.ts';
import { duration, flag, oneOf, wholeNumber } from './schema-helpers.ts';
import { FILE_VARIABLES, resolveFileVariables, type Env, type ReadTextFile } from './secret-files.ts';
import { STORAGE_DEFAULTS, storageConfig, storageProblems, storageShape } from './storage-settings.ts';

/** The query shipped with the product (`sql/report.sql`), resolved from this module so it works from src/ and dist/. */
export const DEFAULT_SQL_FILE = fileURLToPath(new URL('../../sql/report.sql', import.meta.url));

/** Every default in one place; the README's configuration table mirrors it. */
export const DEFAULTS = {
  PGHOST: 'localhost',
  PGPORT: 5432,
  PGSSLMODE: 'disable' as SslMode,
  PGCONNECT_TIMEOUT: 30,
  REPORT_SQL_FILE: DEFAULT_SQL_FILE,
  REPORT_STATEMENT_TIMEOUT: '2h',
  // Measured on 1M rows: 500 to 10,000 rows per fetch run equally fast; above 2,000 peak RSS
  // jumps (167 → 254 MB at 5,000). 2,000 keeps round trips to a remote database few (README, Performance).
  REPORT_FETCH_ROWS: 2_000,
  REPORT_ENGINE: 'copy' as const,
  REPORT_KEY_TEMPLATE: DEFAULT_KEY_TEMPLATE,
  REPORT_IF_EXISTS: 'overwrite' as IfExists,
  REPORT_PROGRESS_INTERVAL: '10s',
  ...STORAGE_DEFAULTS,
  CSV_DELIMITER: ',',
  CSV_BOM: false,
  CSV_ESCAPE_FORMULAS: true,
  LOG_LEVEL: 'info' as LogLevel,
  LOG_FORMAT: 'auto' as LogFormat,
} as const;

// A webhook URL is a credential too: Slack and Teams put the token in the path.
const SECRET_VARIABLES = new Set(['PGPASSWORD', 'AZURE_STORAGE_CONNECTION_STRING', 'ALERT_WEBHOOK_URL']);
const DELIMITERS: Record<string, string> = { ',': ',', ';': ';', '|': '|', '\t': '\t', '\\t': '\t', tab: '\t' };

const envSchema = z.object({
  PGHOST: z.string().optional(),
  PGPORT: wholeNumber(1, 65_535, 5432).optional(),
  PGDATABASE: z.string({ error: 'is required: the database to read (example: PGDATABASE=app)' }),
  PGUSER: z.string({ error: 'is required: a role with SELECT on the report tables (example: PGUSER=report_reader)' }),
  PGPASSWORD: z.string().optional(),
  PGSSLMODE: oneOf(
    ['disable', 'require', 'verify-ca', 'verify-full'],
    ' (node-postgres cannot fall back between TLS and plaintext, so "allow" and "prefer" are not offered; use verify-full in production)',
  ).optional(),
  PGSSLROOTCERT: z.string().optional(),
  PGCONNECT_TIMEOUT: wholeNumber(1, 3_600, 30).optional(),
  REPORT_DATE: z.string().refine(isReportDate, { error: `must be ${REPORT_DATE_RULE} (example: 2024-10-05)` }).optional(),
  REPORT_TIMEZONE: z.string().refine(isTimezone, { error: 'must be an IANA time zone name, not an offset or a POSIX rule (example: America/Sao_Paulo)' }).optional(),
  REPORT_SQL_FILE: z.string().optional(),
  REPORT_STATEMENT_TIMEOUT: duration('2h').optional(),
  REPORT_FETCH_ROWS: wholeNumber(1, 1_000_000, 2_000).optional(),
  REPORT_ENGINE: oneOf(['copy', 'cursor'], ' (cursor is for servers without COPY TO STDOUT)').optional(),
  REPORT_KEY_TEMPLATE: z.string().optional(),
  REPORT_IF_EXISTS: oneOf(['overwrite', 'skip', 'fail']).optional(),
  REPORT_PROGRESS_INTERVAL: duration('10s').optional(),
  ...storageShape,
  CSV_DELIMITER: z
    .string()
    .refine((s) => s in DELIMITERS, { error: 'must be one of "," ";" "|" or tab (write \\t or tab)' })
    .transform((s) => DELIMITERS[s]!)
    .optional(),
  CSV_BOM: flag.optional(),
  CSV_ESCAPE_FORMULAS: flag.optional(),
  LOG_LEVEL: oneOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).optional(),
  LOG_FORMAT: oneOf(['auto', 'json', 'pretty']).optional(),
  // Read by main (telemetry outlives the configuration); validated here so a typo is reported.
  TELEMETRY_FLUSH_TIMEOUT: duration('5s').optional(),
  // Read by the alerts (which must work even when the rest is invalid); validated here too.
  ...alertShape,
});

const KNOWN_VARIABLES = new Set([...Object.keys(envSchema.shape), ...FILE_VARIABLES.map((name) => `${name}_FILE`)]);
const OWN_PREFIXES = ['ALERT_', 'TELEMETRY_', 'REPORT_', 'CSV_', 'STORAGE_', 'LOCAL_STORAGE_', 'LOG_', 'S3_', 'AZURE_STORAGE_', 'AZURE_ENCRYPTION', 'AZURE_BLOCK', 'AZURE_MAX'];

export interface LoadConfigOptions {
  /** `--date` from the command line; wins over REPORT_DATE. */
  readonly date?: string | undefined;
  readonly readTextFile: ReadTextFile;
}

/**
 * The configuration from the environment (and the files it names), validated as a whole.
 * Pure apart from reading those files: it contacts nothing, and it throws
 * `ConfigurationIsInvalid` listing every problem at once rather than the first.
 */
export function loadConfig(rawEnv: Env, options: LoadConfigOptions): Config {
  const problems: string[] = [];
  const { resolved, parsed } = parseEnvironment(rawEnv, envSchema, options.readTextFile, problems);
  if (options.date !== undefined && !isReportDate(options.date)) {
    problems.push(`--date: must be ${REPORT_DATE_RULE} (example: --date 2024-10-05) (got ${JSON.stringify(options.date)})`);
  }

  // Plain-string settings are checked from the raw values, so their problems are listed even
  // when another variable failed the schema.
  const e = parsed.success ? parsed.data : undefined;
  const keyTemplate = resolved.REPORT_KEY_TEMPLATE ?? DEFAULTS.REPORT_KEY_TEMPLATE;
  for (const problem of keyTemplateProblems(keyTemplate)) problems.push(`REPORT_KEY_TEMPLATE: ${problem} (got ${JSON.stringify(keyTemplate)})`);

  const sqlFile = resolved.REPORT_SQL_FILE ?? DEFAULTS.REPORT_SQL_FILE;
  const sqlText = readSetting('REPORT_SQL_FILE', sqlFile, options.readTextFile, problems);
  if (sqlText !== undefined) {
    if (sqlText.trim() === '') problems.push(`REPORT_SQL_FILE: ${sqlFile} is empty; it must hold the report's SELECT`);
    const unknown = unknownParameterNames(sqlText);
    if (unknown.length > 0) {
      problems.push(
        `REPORT_SQL_FILE: ${sqlFile} uses unknown parameter(s) ${unknown.map((n) => `:${n}`).join(', ')}; ` +
          `the job provides ${PARAMETER_NAMES.map((n) => `:${n}`).join(', ')} (write "::" for a cast)`,
      );
    }
  }

  const zoneProblem = resolved.REPORT_TIMEZONE === undefined ? processTimezoneProblem(rawEnv) : undefined;
  if (zoneProblem !== undefined) problems.push(zoneProblem);

  const sslRootCertFile = resolved.PGSSLROOTCERT;
  const sslRootCert = sslRootCertFile === undefined ? undefined : readSetting('PGSSLROOTCERT', sslRootCertFile, options.readTextFile, problems);

  if (problems.length > 0 || e === undefined || sqlText === undefined) throw new ConfigurationIsInvalid(problems);

  const warnings = Object.keys(rawEnv)
    .filter((name) => OWN_PREFIXES.some((prefix) => name.startsWith(prefix)) && !KNOWN_VARIABLES.has(name))
    .map((name) => `${name} is not a setting of daily-report and is ignored (typo?)`);

  return deepFreeze({
    database: {
      host: e.PGHOST ?? DEFAULTS.PGHOST,
      port: e.PGPORT ?? DEFAULTS.PGPORT,
      database: e.PGDATABASE,
      user: e.PGUSER,
      password: e.PGPASSWORD,
      sslMode: e.PGSSLMODE ?? DEFAULTS.PGSSLMODE,
      sslRootCert,
      connectTimeoutMs: (e.PGCONNECT_TIMEOUT ?? DEFAULTS.PGCONNECT_TIMEOUT) * 1_000,
    },
    report: {
      date: options.date ?? e.REPORT_DATE,
      timezone: e.REPORT_TIMEZONE ?? processTimezone(rawEnv),
      query: { file: sqlFile, text: sqlText },
      statementTimeoutMs: e.REPORT_STATEMENT_TIMEOUT ?? parseDuration(DEFAULTS.REPORT_STATEMENT_TIMEOUT)!,
      engine: e.REPORT_ENGINE ?? DEFAULTS.REPORT_ENGINE,
      fetchRows: e.REPORT_FETCH_ROWS ?? DEFAULTS.REPORT_FETCH_ROWS,
      keyTemplate,
      ifExists: e.REPORT_IF_EXISTS ?? DEFAULTS.REPORT_IF_EXISTS,
      progressIntervalMs: e.REPORT_PROGRESS_INTERVAL ?? parseDuration(DEFAULTS.REPORT_PROGRESS_INTERVAL)!,
    },
    csv: {
      delimiter: e.CSV_DELIMITER ?? DEFAULTS.CSV_DELIMITER,
      bom: e.CSV_BOM ?? DEFAULTS.CSV_BOM,
      escapeFormulas: e.CSV_ESCAPE_FORMULAS ?? DEFAULTS.CSV_ESCAPE_FORMULAS,
    },
    storage: storageConfig(e),
    log: { level: e.LOG_LEVEL ?? DEFAULTS.LOG_LEVEL, format: e.LOG_FORMAT ?? DEFAULTS.LOG_FORMAT },
    warnings,
  });
}

const storageEnvSchema = z.object({ ...storageShape, REPORT_KEY_TEMPLATE: z.string().optional() });

/**
 * Only where reports are published (storage and key template), for commands that look at the
 * bucket without running the job (`backfill --missing-only`). Same rules and messages as loadConfig.
 */
export function loadStorageConfig(rawEnv: Env, options: Pick<LoadConfigOptions, 'readTextFile'>): { storage: StorageConfig; keyTemplate: string } {
  const problems: string[] = [];
  const { resolved, parsed } = parseEnvironment(rawEnv, storageEnvSchema, options.readTextFile, problems);
  const keyTemplate = resolved.REPORT_KEY_TEMPLATE ?? DEFAULTS.REPORT_KEY_TEMPLATE;
  for (const problem of keyTemplateProblems(keyTemplate)) problems.push(`REPORT_KEY_TEMPLATE: ${problem} (got ${JSON.stringify(keyTemplate)})`);
  if (problems.length > 0 || !parsed.success) throw new ConfigurationIsInvalid(problems);
  return deepFreeze({ storage: storageConfig(parsed.data), keyTemplate });
}

/**
 * The environment with `X_FILE`s resolved, checked against `schema` and the storage rules; every
 * problem appended. An empty variable means "unset": that is how Helm renders an empty value.
 */
function parseEnvironment<Schema extends z.ZodType>(rawEnv: Env, schema: Schema, readTextFile: ReadTextFile, problems: string[]) {
  const env = Object.fromEntries(Object.entries(rawEnv).filter(([, value]) => value !== undefined && value !== ''));
  const resolved = resolveFileVariables(env, readTextFile, problems);
  const parsed = schema.safeParse(resolved);
  if (!parsed.success) schemaProblems(parsed.error, resolved, problems);
  storageProblems(resolved, problems);
  return { resolved, parsed };
}

/** Schema failures as problems naming the variable; a secret's value is never quoted. */
function schemaProblems(error: z.ZodError, resolved: Record<string, string | undefined>, problems: string[]): void {
  for (const issue of error.issues) {
    const name = String(issue.path[0]);
    const value = resolved[name];
    const got = value === undefined || SECRET_VARIABLES.has(name) ? '' : ` (got ${JSON.stringify(value)})`;
    problems.push(`${name}: ${issue.message}${got}`);
  }
}

/** The SHA-256 of the query text, recorded with every run so a changed query is visible. */
export function querySha256(config: Config): string {
  return createHash('sha256').update(config.report.query.text).digest('hex');
}

function readSetting(name: string, path: string, readTextFile: ReadTextFile, problems: string[]): string | undefined {
  try {
    return readTextFile(path);
  } catch (error) {
    problems.push(`${name}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`);
    return undefined;
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
