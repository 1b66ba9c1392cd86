import type { AlertsConfig, Config, ReportCompression, StorageConfig } from '../config/config.ts';
import { checkKeyCompression } from '../report/report-settings.ts';
import { MIN_SECRET_LENGTH, rememberSecret } from '../config/redaction.ts';
import type { BuildContext, Command, Setting, SettingsDomain, SettingsSpec } from '../config/setting.ts';
import { ConfigurationIsInvalid, RunWasTerminated } from '../errors.ts';
import { closestName } from './did-you-mean.ts';
import { directoryProblem } from './setting-directories.ts';
import { readSettingFile, SettingFileUnreadable, type ReadSettingFile } from './setting-files.ts';
import { DOMAINS, KNOWN_VARIABLES, LIBPQ_VARIABLES, OWN_PREFIXES, settingsFor } from './settings-spec.ts';

export type Env = Readonly<Record<string, string | undefined>>;

/** The bound on a secret read from `X_FILE`: far above any real one, far below the pod's memory. */
export const SECRET_FILE_MAX_BYTES = 64 * 1024;

export interface LoadOptions {
  /** `--date` from the command line; wins over REPORT_DATE. */
  readonly date?: string | undefined;
  /** Aborted on SIGTERM: reading files stops. */
  readonly signal?: AbortSignal;
  /** The clock, for "is this report date's day over". */
  readonly now?: Date;
  readonly readFile?: ReadSettingFile;
  /** False for a dry run: nothing is written to the storage, so its directory is not checked (a read-only root filesystem is fine). */
  readonly publishes?: boolean;
}

type DomainName = keyof typeof DOMAINS;

/** Which domains each command builds; a command reads exactly their settings. */
const COMMAND_DOMAINS: Record<Command, readonly DomainName[]> = {
  run: ['database', 'report', 'storage', 'log', 'alerts', 'telemetry'],
  validate: ['database', 'report', 'storage', 'log', 'alerts', 'telemetry'],
  backfill: ['storage', 'log', 'telemetry'],
  notify: ['alerts', 'log', 'telemetry'],
};

/**
 * The job's configuration (for `run` and `validate`), from the environment and the files it
 * names, validated as a whole. It contacts nothing, and throws `ConfigurationIsInvalid` listing
 * every problem at once rather than the first.
 */
export async function loadConfig(env: Env, options: LoadOptions = {}): Promise<Config> {
  const loaded = await load(env, 'run', options);
  return deepFreeze({
    database: loaded.built.database!.database,
    sources: loaded.built.database!.sources,
    report: loaded.built.report!.report,
    csv: loaded.built.report!.csv,
    storage: loaded.built.storage!,
    log: loaded.built.log!,
    alerts: loaded.built.alerts!,
    telemetry: loaded.built.telemetry!,
    warnings: loaded.warnings,
  });
}

/**
 * Where reports are published (storage and key template), for `backfill --missing-only`, which
 * looks at the bucket without running the job: the same spec, only the settings it needs.
 */
export async function loadStorageConfig(env: Env, options: LoadOptions = {}): Promise<{ storage: StorageConfig; keyTemplate: string; compression: ReportCompression; warnings: readonly string[] }> {
  const loaded = await load(env, 'backfill', options);
  return deepFreeze({
    storage: loaded.built.storage!,
    keyTemplate: loaded.values.get('REPORT_KEY_TEMPLATE') as string,
    compression: loaded.values.get('REPORT_COMPRESSION') as ReportCompression,
    warnings: loaded.warnings,
  });
}

/** The alert settings alone, for telling people about a run whose configuration failed. */
export async function loadAlertsConfig(env: Env, options: LoadOptions = {}): Promise<AlertsConfig> {
  return deepFreeze((await load(env, 'notify', options)).built.alerts!);
}

interface Loaded {
  readonly values: ReadonlyMap<string, unknown>;
  readonly built: {
    -readonly [K in DomainName]?: (typeof DOMAINS)[K] extends SettingsDomain<SettingsSpec, infer C> ? C : never;
  };
  readonly warnings: string[];
}

async function load(rawEnv: Env, command: Command, options: LoadOptions): Promise<Loaded> {
  const signal = options.signal ?? new AbortController().signal;
  try {
    return await loadOrThrow(rawEnv, command, options, signal);
  } catch (error) {
    if (signal.aborted) throw new RunWasTerminated('terminated while reading the configuration', { phase: 'config', cause: error });
    throw error;
  }
}

async function loadOrThrow(rawEnv: Env, command: Command, options: LoadOptions, signal: AbortSignal): Promise<Loaded> {
  const readFile = options.readFile ?? readSettingFile;
  // An empty variable means "unset": that is how Helm renders an empty value.
  const env = Object.fromEntries(Object.entries(rawEnv).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1] !== ''));
  const problems: string[] = [];
  const values = new Map<string, unknown>();
  const given = new Set<string>();
  const failed = new Set<string>();
  const warnings: string[] = [];

  for (const setting of settingsFor(command)) {
    const raw = await rawValue(setting, env, readFile, signal, problems, failed);
    if (raw === undefined) {
      if (setting.required !== undefined && !failed.has(setting.name) && !(setting.requiredUnless !== undefined && env[setting.requiredUnless] !== undefined)) {
        problems.push(`${setting.name}: ${setting.required}`);
        failed.add(setting.name);
      }
      values.set(setting.name, setting.default);
    } else {
      given.add(setting.name);
      if (setting.secret) {
        // Said, not refused: a short password is PostgreSQL's business, but the promise not to print it cannot hold.
        if (!rememberSecret(raw.text))
          warnings.push(`${setting.name} is shorter than ${MIN_SECRET_LENGTH} characters, too short to tell from ordinary text, so it is not redacted from logs, spans and webhooks: use a longer secret`);
        for (const secret of setting.secretParts?.(raw.text) ?? []) rememberSecret(secret);
      }
      const parsed = setting.parse(raw.text);
      if (parsed.ok) values.set(setting.name, parsed.value);
      else {
        const quote = !setting.secret && !raw.fromFile && parsed.quote !== false;
        problems.push(`${setting.name}: ${parsed.problem}${quote ? ` (got ${JSON.stringify(raw.text)})` : ''}`);
        failed.add(setting.name);
        values.set(setting.name, setting.default);
      }
    }
    if (setting.source === 'file' && !failed.has(setting.name) && values.get(setting.name) !== undefined) {
      const { path } = values.get(setting.name) as { path: string };
      try {
        const file = await readFile(path, setting.maxBytes!, signal);
        values.set(setting.name, { path, text: file.text, mode: file.mode });
      } catch (error) {
        if (!(error instanceof SettingFileUnreadable)) throw error;
        problems.push(`${setting.name}: cannot read ${path} (${error.reason})`);
        failed.add(setting.name);
      }
    }
  }
  problems.push(...typoProblems(rawEnv, command));

  const directories: [string, string][] = [];
  const context: BuildContext = {
    env: rawEnv,
    date: options.date,
    now: options.now ?? new Date(),
    given: (name) => given.has(name),
    failed: (name) => failed.has(name),
    problem: (name, text) => void problems.push(`${name}: ${text}`),
    requireDirectory: (name, path) => void directories.push([name, path]),
    warning: (text) => void warnings.push(text),
  };
  const built: Record<string, unknown> = {};
  for (const name of COMMAND_DOMAINS[command]) {
    const domain = DOMAINS[name] as SettingsDomain<SettingsSpec, unknown>;
    built[name] = domain.build(Object.fromEntries(Object.keys(domain.spec).map((key) => [key, values.get(key) ?? domain.spec[key]!.default])) as never, context);
  }
  // The report domain checks its key template against the compression; a command that reads both without building it (backfill) checks here.
  if (!COMMAND_DOMAINS[command].includes('report') && values.has('REPORT_COMPRESSION')) {
    checkKeyCompression(values.get('REPORT_KEY_TEMPLATE') as string, values.get('REPORT_COMPRESSION') as ReportCompression, context);
  }
  for (const [name, path] of options.publishes === false ? [] : directories) {
    signal.throwIfAborted();
    const wrong = await directoryProblem(path);
    if (wrong !== undefined) problems.push(`${name}: ${wrong}`);
  }
  if (problems.length > 0) throw new ConfigurationIsInvalid(problems);
  return { values, built: built as Loaded['built'], warnings: [...warnings, ...unknownVariableWarnings(rawEnv)] };
}

/** The setting's text, from the environment or from the file `X_FILE` names (never both). */
async function rawValue(
  setting: Setting,
  env: Record<string, string>,
  readFile: ReadSettingFile,
  signal: AbortSignal,
  problems: string[],
  failed: Set<string>,
): Promise<{ text: string; fromFile: boolean } | undefined> {
  const fileVariable = `${setting.name}_FILE`;
  const path = setting.fromFile ? env[fileVariable] : undefined;
  if (path === undefined) return env[setting.name] === undefined ? undefined : { text: env[setting.name]!, fromFile: false };
  if (env[setting.name] !== undefined) {
    problems.push(`${setting.name} and ${fileVariable} are both set: keep only one (${fileVariable} is meant for mounted Secrets)`);
    failed.add(setting.name);
    return undefined;
  }
  try {
    // A trailing newline is almost always an artefact of `echo secret > file`, never part of it.
    const text = (await readFile(path, SECRET_FILE_MAX_BYTES, signal)).text.replace(/\r?\n$/, '');
    // An empty file is a Secret key mounted without a value: say so, not "set X or X_FILE" later.
    if (text === '') {
      problems.push(`${fileVariable}: ${path} is empty; put the secret in it (is the Secret's key empty?) or unset ${fileVariable}`);
      failed.add(setting.name);
      return undefined;
    }
    return { text, fromFile: true };
  } catch (error) {
    if (!(error instanceof SettingFileUnreadable)) throw error;
    problems.push(`${fileVariable}: cannot read ${path} (${error.reason}); mount the Secret there as a file, or unset ${fileVariable}`);
    failed.add(setting.name);
    return undefined;
  }
}

/**
 * Unknown variables with one of our prefixes that are one slip from a known setting the command
 * reads: refused, naming it (PGSSLMOD=verify-full would otherwise connect in plaintext, exit 0).
 */
function typoProblems(env: Env, command: Command): string[] {
  const read = new Set(settingsFor(command).flatMap((s) => [s.name, `${s.name}_FILE`]));
  return unknownVariables(env).flatMap((name) => {
    const withoutFile = withoutFileForm(name, command);
    if (withoutFile !== undefined) {
      const how = withoutFile.source === 'file' ? `its value is already a path: set ${withoutFile.name}=<path>` : `set ${withoutFile.name} itself`;
      return [`${name}: ${withoutFile.name} cannot be read from a file (${how}); as written, it is ignored and ${withoutFile.name} keeps its default`];
    }
    const meant = name in LIBPQ_VARIABLES ? undefined : closestName(name, KNOWN_VARIABLES);
    return meant === undefined || !read.has(meant) ? [] : [`${name}: is not a setting of daily-report; did you mean ${meant}? (as written, it is ignored and ${meant} keeps its default)`];
  });
}

/**
 * `X_FILE` where X is a setting the command reads but that has no file form: refused, because X
 * silently keeps its default (PGSSLMODE_FILE holding verify-full would connect in plaintext).
 */
function withoutFileForm(name: string, command: Command): Setting | undefined {
  if (!name.endsWith('_FILE')) return undefined;
  const base = name.slice(0, -'_FILE'.length);
  return settingsFor(command).find((s) => s.name === base && !s.fromFile);
}

/** The other unknown variables with one of our prefixes: logged, probably a leftover. */
function unknownVariableWarnings(env: Env): string[] {
  return unknownVariables(env)
    .filter((name) => !AWS_SDK_PREFIX.test(name))
    .filter((name) => name in LIBPQ_VARIABLES || closestName(name, KNOWN_VARIABLES) === undefined)
    .map((name) => (name in LIBPQ_VARIABLES ? `${name} is ${LIBPQ_VARIABLES[name]}` : `${name} is not a setting of daily-report and is ignored`));
}

/**
 * The AWS SDK reads many AWS_* variables of its own (AWS_PROFILE, AWS_ROLE_ARN …): they are looked at
 * only as possible typos of ours (AWS_REGOIN), never warned about as unknown.
 */
const AWS_SDK_PREFIX = /^AWS_/;

function unknownVariables(env: Env): string[] {
  const known = new Set(KNOWN_VARIABLES);
  return Object.keys(env).filter(
    (name) =>
      env[name] !== undefined &&
      env[name] !== '' &&
      (OWN_PREFIXES.some((prefix) => name.startsWith(prefix)) || AWS_SDK_PREFIX.test(name)) &&
      !known.has(name) &&
      !isServiceLink(name, env),
  );
}

/**
 * Kubernetes injects `<SERVICE>_SERVICE_HOST`, `<SERVICE>_PORT…` for every Service in the
 * namespace (a Service named "pg" gives PG_PORT): those are not typos of ours.
 */
function isServiceLink(name: string, env: Env): boolean {
  const match = /^(.+?)_(SERVICE_HOST|SERVICE_PORT(_.+)?|PORT(_\d+_(TCP|UDP|SCTP)(_PROTO|_PORT|_ADDR)?)?)$/.exec(name);
  return match !== null && env[`${match[1]}_SERVICE_HOST`] !== undefined;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
