import { formatDuration, parseDuration } from './duration.ts';

/**
 * One entry of the settings spec: everything the loader, the documentation and the chart test
 * need to know about an environment variable. Each domain declares its own (`storage/storage-settings.ts`,
 * `report/report-settings.ts` …); the loader above them composes the lists. Nothing here does I/O.
 */

/** The commands that read configuration; a setting names those that need it. */
export type Command = 'run' | 'validate' | 'backfill' | 'notify';
export const JOB_COMMANDS: readonly Command[] = ['run', 'validate'];

/** What the loader does with the value besides parsing it (the only I/O it does). */
export type SettingSource =
  /** The value itself. */
  | 'value'
  /** A path whose file's text (bounded by `maxBytes`) is what the domain receives. */
  | 'file';

/** `quote: false` when the value must not be echoed even though the setting is not a secret (a URL in PGHOST). */
export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly problem: string; readonly quote?: boolean };

/** The value of a `fileText` setting: the path, and the file's text (read by the loader). */
export interface FileText {
  readonly path: string;
  readonly text: string;
  /** Its mode bits, after following symlinks (0 until the loader has read it). */
  readonly mode: number;
}

export interface Setting<T = unknown, V = T | undefined> {
  /** Filled in by `defineSettings` from the key the domain declares it under. */
  readonly name: string;
  /** One line for people: the form of the value ("duration from 1s to 24h", "one of a | b"). */
  readonly form: string;
  readonly doc: string;
  /** The default as it would be written in the environment, for the docs; undefined when none. */
  readonly defaultText: string | undefined;
  /** How the docs describe a default that is not a constant ("the process's zone"). */
  readonly defaultDoc?: string | undefined;
  readonly default: V;
  /** Set when the setting has no default and must be given; the message says what to set. */
  readonly required?: string | undefined;
  /** Not required after all when this other variable is set (PGDATABASE when REPORT_SOURCES names services). */
  readonly requiredUnless?: string | undefined;
  /** Never quoted in a problem, redacted from logs, webhooks and spans. */
  readonly secret: boolean;
  /**
   * The pieces of a secret value that travel on their own and must be redacted too (a connection
   * string's AccountKey and SAS token, which the SDK puts into every blob URL).
   */
  readonly secretParts?: (value: string) => string[];
  /** May come from a file named by `<NAME>_FILE` (a mounted Kubernetes Secret). */
  readonly fromFile: boolean;
  readonly source: SettingSource;
  /** With source 'file': the largest file read (a bound against /dev/zero and the like). */
  readonly maxBytes?: number;
  readonly commands: readonly Command[];
  /** The values a chart enum may offer (every one must parse). */
  readonly values?: readonly string[];
  parse(text: string): Parsed<T>;
}

/** The options every builder takes. */
export interface SettingOptions {
  readonly doc: string;
  readonly default?: string;
  readonly defaultDoc?: string;
  readonly required?: string;
  readonly requiredUnless?: string;
  readonly secret?: boolean;
  readonly fromFile?: boolean;
  readonly commands?: readonly Command[];
  readonly secretParts?: (value: string) => string[];
}

type ValueOf<T, O> = O extends { default: string } ? T : O extends { required: string } ? T : T | undefined;

/** A spec: settings keyed by their variable names. */
export type SettingsSpec = Readonly<Record<string, Setting<any, any>>>;

/** The values a domain receives: parsed, defaults applied. */
export type SettingValues<S extends SettingsSpec> = { readonly [K in keyof S]: S[K] extends Setting<any, infer V> ? V : never };

/** Names every entry after its key, so a name is written once. */
export function defineSettings<S extends Record<string, Omit<Setting<any, any>, 'name'>>>(spec: S): { readonly [K in keyof S]: S[K] & { readonly name: K & string } } {
  return Object.fromEntries(Object.entries(spec).map(([name, setting]) => [name, Object.freeze({ ...setting, name })])) as never;
}

function setting<T, O extends SettingOptions>(options: O, form: string, parse: (text: string) => Parsed<T>, extra: Partial<Pick<Setting<T>, 'source' | 'maxBytes' | 'values'>> = {}): Omit<Setting<T, ValueOf<T, O>>, 'name'> {
  let value: T | undefined;
  if (options.default !== undefined) {
    const parsed = parse(options.default);
    if (!parsed.ok) throw new TypeError(`the default ${JSON.stringify(options.default)} does not parse: ${parsed.problem}`);
    value = parsed.value;
  }
  return {
    form,
    doc: options.doc,
    defaultText: options.default,
    defaultDoc: options.defaultDoc,
    default: value as unknown as ValueOf<T, O>,
    required: options.required,
    requiredUnless: options.requiredUnless,
    secret: options.secret ?? false,
    secretParts: options.secretParts,
    fromFile: options.fromFile ?? false,
    source: 'value',
    commands: options.commands ?? JOB_COMMANDS,
    parse,
    ...extra,
  };
}

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const problem = (text: string): Parsed<never> => ({ ok: false, problem: text });

/** Free text, with an optional check returning what is wrong (or undefined). */
export function text<O extends SettingOptions>(options: O & { form?: string; check?: (value: string) => string | Parsed<never> | undefined }) {
  return setting<string, O>(options, options.form ?? 'text', (value) => {
    const wrong = options.check?.(value);
    return wrong === undefined ? ok(value) : typeof wrong === 'string' ? problem(wrong) : wrong;
  });
}

/** A problem whose value must not be quoted back (it may hold a credential). */
export function unquotedProblem(text: string): Parsed<never> {
  return { ok: false, problem: text, quote: false };
}

/**
 * What a domain's build step gets besides its values: the raw environment (for settings read
 * from outside the spec, such as TZ), the command line's facts, the clock, and where to report.
 */
export interface BuildContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** `--date`, when the command line gave one (it wins over REPORT_DATE). */
  readonly date: string | undefined;
  readonly now: Date;
  /** True when the variable was set (to a non-empty value, or through its _FILE). */
  given(name: string): boolean;
  /** True when the variable's value was refused (checks that build on it would only add noise). */
  failed(name: string): boolean;
  problem(name: string, text: string): void;
  /**
   * The domain will write into this directory: the loader checks (after every build, before anything
   * is contacted) that it is a writable directory or can be created, so a file there is exit 2 at once
   * rather than ENOTDIR after the extraction.
   */
  requireDirectory(name: string, path: string): void;
  /** A line every command logs as a warning, for a valid setting whose consequence must not go unnoticed. */
  warning(text: string): void;
}

/** A domain's settings: the spec, and the step that turns its values into its part of the configuration. */
export interface SettingsDomain<S extends SettingsSpec, C> {
  readonly spec: S;
  build(values: SettingValues<S>, context: BuildContext): C;
}

export function wholeNumber<O extends SettingOptions>(options: O & { min: number; max: number; example: number }) {
  const { min, max, example } = options;
  return setting<number, O>(options, `whole number from ${min} to ${max}`, (value) =>
    /^\d+$/.test(value) && Number(value) >= min && Number(value) <= max ? ok(Number(value)) : problem(`must be a whole number from ${min} to ${max} (example: ${example})`),
  );
}

/** A duration in milliseconds, bounded: an unbounded one overflows timers or times every request out. */
export function duration<O extends SettingOptions>(options: O & { min: string; max: string; example: string }) {
  const min = parseDuration(options.min)!;
  const max = parseDuration(options.max)!;
  const range = `from ${formatDuration(min)} to ${formatDuration(max)}`;
  return setting<number, O>(options, `duration ${range}`, (value) => {
    const ms = parseDuration(value);
    if (ms === undefined) return problem(`must be a duration such as 90s, 5m, 2h or 1h30m, ${range} (example: ${options.example})`);
    if (ms < min || ms > max) return problem(`must be ${range} (example: ${options.example})`);
    return ok(ms);
  });
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

export function flag<O extends SettingOptions>(options: O) {
  return setting<boolean, O>(
    options,
    'true or false',
    (value) => (TRUE.has(value.toLowerCase()) ? ok(true) : FALSE.has(value.toLowerCase()) ? ok(false) : problem('must be true or false')),
    { values: ['true', 'false'] },
  );
}

export function oneOf<const V extends string, O extends SettingOptions>(options: O & { values: readonly V[]; hint?: string }) {
  const { values, hint = '' } = options;
  return setting<V, O>(options, `one of ${values.join(' | ')}`, (value) => ((values as readonly string[]).includes(value) ? ok(value as V) : problem(`must be one of ${values.join(' | ')}${hint}`)), {
    values,
  });
}

/** A path to a file whose text the domain receives as `{ path, text }`. */
/** A path to a file whose text the domain receives (the loader reads it, bounded, before the domain sees it). */
export function fileText<O extends SettingOptions>(options: O & { maxBytes: number }) {
  return setting<FileText, O>(options, `path of a file (at most ${options.maxBytes >= 1024 * 1024 ? `${options.maxBytes / (1024 * 1024)} MiB` : `${options.maxBytes / 1024} KiB`})`, (value) => ok({ path: value, text: '', mode: 0 }), {
    source: 'file',
    maxBytes: options.maxBytes,
  });
}

/** An http(s) URL; `allowSecrets: false` refuses user:password@ and query strings, which would be logged. */
export function url<O extends SettingOptions>(options: O & { allowSecrets?: boolean }) {
  return setting<string, O>(options, 'http(s) URL', (value) => {
    if (!URL.canParse(value) || !/^https?:$/.test(new URL(value).protocol)) return problem('must be an http(s) URL');
    const parsed = new URL(value);
    if (options.allowSecrets !== true && (parsed.username !== '' || parsed.password !== '' || parsed.search !== '')) {
      return unquotedProblem('must not carry credentials (user:password@ or a ?query such as a SAS token): they would be logged with the URL');
    }
    return ok(value);
  });
}

/**
 * Problems of a key or prefix under which reports are written: it must stay inside the bucket,
 * container or directory it is written to, whatever the provider does with `/`.
 */
export function keyPathProblems(value: string, kind: 'key' | 'prefix'): string[] {
  const problems: string[] = [];
  if (value.startsWith('/')) problems.push('must not start with "/"');
  if (kind === 'key' && value.endsWith('/')) problems.push('must not end with "/" (it names an object, not a folder)');
  const segments = value.replace(/\/$/, '').split('/');
  if (value !== '' && segments.some((segment) => segment === '..' || segment === '.')) problems.push('must not contain "." or ".." segments');
  if (value !== '' && !value.startsWith('/') && segments.some((segment) => segment === '')) problems.push('must not contain an empty segment ("//")');
  if (value.includes('\\')) problems.push('must use "/" to separate folders, not "\\"');
  if (/[\u0000-\u001f\u007f]/.test(value)) problems.push('must not contain control characters');
  // S3 keys and Azure blob names end at 1024 bytes, file names at 255, and the report's manifest and
  // temporary file add up to 60 bytes to the name: past these the run fails only when it publishes.
  const limit = KEY_PATH_MAX_BYTES[kind];
  if (Buffer.byteLength(value) > limit) problems.push(`must be at most ${limit} bytes long (prefix and key together stay under the 1024 of S3 and Azure)`);
  if (segments.some((segment) => Buffer.byteLength(segment) > SEGMENT_MAX_BYTES)) problems.push(`must not have a folder or file name longer than ${SEGMENT_MAX_BYTES} bytes (file systems stop at 255)`);
  return problems;
}

const KEY_PATH_MAX_BYTES = { key: 880, prefix: 120 } as const;
const SEGMENT_MAX_BYTES = 180;

/** The same, as a `check` for `text()`. */
export function keyPathCheck(kind: 'key' | 'prefix', example: string): (value: string) => string | undefined {
  return (value) => {
    const problems = keyPathProblems(value, kind);
    return problems.length === 0 ? undefined : `${problems.join('; ')} (example: ${example})`;
  };
}

/** Every setting of some specs, in order. */
export function settingsOf(...specs: readonly SettingsSpec[]): Setting[] {
  return specs.flatMap((spec) => Object.values(spec) as Setting[]);
}
