import type { DatabaseConfig, SourceConfig } from '../config/config.ts';
import { rememberSecret } from '../config/redaction.ts';
import { defineSettings, fileText, text, type BuildContext, type FileText, type Parsed } from '../config/setting.ts';
import { parseServiceFile, serviceKeyProblem, SERVICE_NAME, SERVICE_NAME_FORM, type ServiceKey, type ServiceSection } from './pg-service-file.ts';
import { findPgpassEntry, parsePgpass, pgpassModeProblem, type Pgpass } from './pgpass-file.ts';

/**
 * Several source databases, configured the way PostgreSQL users already do: libpq service names
 * (REPORT_SOURCES, defined in PGSERVICEFILE) and their passwords in a pgpass file (PGPASSFILE).
 * Part of the database domain (database-settings.ts spreads these in). Without REPORT_SOURCES the
 * report has one source, the PG* database, as before.
 */

/** The name of the PG* database as a source (logs, the manifest). */
export const DEFAULT_SOURCE = 'default';
const FILE_MAX_BYTES = 1024 * 1024;

export const SOURCE_SETTINGS = defineSettings({
  REPORT_SOURCES: text({
    form: 'comma-separated libpq service names',
    defaultDoc: '*(none: the PG\\* database)*',
    check: (value) => sourceNamesProblem(value),
    doc: 'The report\'s source databases, in report order: service names defined in `PGSERVICEFILE` (e.g. `eu,us`). Each runs the same query; the results are concatenated under one header. Unset: the one database of the PG* variables. See [sources](sources.md).',
  }),
  PGSERVICEFILE: fileText({
    maxBytes: FILE_MAX_BYTES, defaultDoc: '*(none)*',
    doc: "libpq's connection service file (`pg_service.conf`): `[name]` sections of `host`, `port`, `dbname`, `user`, `sslmode`; a PG* variable fills in a key a section leaves out. Required with `REPORT_SOURCES`; `~/.pg_service.conf` is never read.",
  }),
  PGPASSFILE: fileText({
    maxBytes: FILE_MAX_BYTES, defaultDoc: '*(none)*',
    doc: "libpq's password file (`host:port:dbname:user:password`, `*` wildcards, first match wins), for every source whose password `PGPASSWORD` does not give. Refused when other users may read it or its group may write it (mode 0600, 0640, 0400 or 0440). `~/.pgpass` is never read.",
  }),
});

type SourceValues = {
  readonly REPORT_SOURCES: string | undefined;
  readonly PGSERVICEFILE: FileText | undefined;
  readonly PGPASSFILE: FileText | undefined;
};

/** How each service key's value is checked: the PG* setting it stands for parses it. */
export type ServiceKeyParsers = Readonly<Record<ServiceKey, (text: string) => Parsed<unknown>>>;

/** The setting each service key stands for, to say what a section left out falls back to. */
const SETTING_OF: Readonly<Record<ServiceKey, string>> = { host: 'PGHOST', port: 'PGPORT', dbname: 'PGDATABASE', user: 'PGUSER', sslmode: 'PGSSLMODE' };

/**
 * The report's sources. `base` is the PG* database (its database and user may be missing when
 * REPORT_SOURCES is set): libpq's precedence, a service's key wins over the PG* variable.
 */
export function buildSources(given: SourceValues, base: Partial<DatabaseConfig> & Omit<DatabaseConfig, 'database' | 'user'>, context: BuildContext, parsers: ServiceKeyParsers): SourceConfig[] {
  // A file the loader could not read is already a problem; nothing more is said about its contents.
  const values = {
    REPORT_SOURCES: given.REPORT_SOURCES,
    PGSERVICEFILE: context.failed('PGSERVICEFILE') ? undefined : given.PGSERVICEFILE,
    PGPASSFILE: context.failed('PGPASSFILE') ? undefined : given.PGPASSFILE,
  };
  const pgpass = pgpassOf(values.PGPASSFILE, context);
  const password = (db: DatabaseConfig): DatabaseConfig => {
    if (db.password !== undefined || values.PGPASSFILE === undefined) return db;
    const found = pgpass === undefined ? undefined : findPgpassEntry(pgpass, db);
    if (found !== undefined) rememberSecret(found.password);
    return { ...db, password: found?.password, passFile: values.PGPASSFILE.path };
  };

  if (values.REPORT_SOURCES === undefined) {
    if (values.PGSERVICEFILE !== undefined) context.warning('PGSERVICEFILE is set but REPORT_SOURCES is not: the report reads the one database of the PG* variables; list the services to read in REPORT_SOURCES');
    if (base.database === undefined || base.user === undefined) return [];
    return [{ name: DEFAULT_SOURCE, database: password(base as DatabaseConfig) }];
  }
  if (context.failed('REPORT_SOURCES')) return [];
  if (context.given('PGPASSWORD')) {
    context.problem('PGPASSWORD', 'cannot be used with REPORT_SOURCES (it would be every source\'s password): put each source\'s password in the PGPASSFILE file (a line "*:*:*:report_reader:secret" gives one to all), and unset PGPASSWORD');
  }
  const file = values.PGSERVICEFILE;
  if (file === undefined) {
    if (!context.failed('PGSERVICEFILE')) context.problem('PGSERVICEFILE', `is required with REPORT_SOURCES: the path of the pg_service.conf file that defines ${values.REPORT_SOURCES}`);
    return [];
  }
  const services = parseServiceFile(file.text);
  const names = splitNames(values.REPORT_SOURCES);
  const sources: SourceConfig[] = [];
  for (const name of names) {
    const section = services.sections.get(name);
    if (section === undefined) {
      const known = [...services.sections.keys()];
      context.problem('PGSERVICEFILE', `${file.path} has no service [${name}], which REPORT_SOURCES names (${known.length === 0 ? 'it defines none' : `it has: ${known.join(', ')}`})`);
      continue;
    }
    const where = `${file.path}, service [${name}]`;
    for (const line of services.repeated.get(name) ?? []) context.problem('PGSERVICEFILE', `${where}: defined again at line ${line}, which libpq ignores (it reads the first, at line ${section.line}): merge the two sections`);
    const database = sourceDatabase(section, where, base, context, parsers);
    if (database !== undefined) sources.push({ name, database: password(database) });
  }
  const seen = new Map<string, string>();
  for (const source of sources) {
    const target = `${source.database.host}:${source.database.port}/${source.database.database}`;
    const first = seen.get(target);
    if (first !== undefined) context.problem('REPORT_SOURCES', `services ${first} and ${source.name} are the same database (${target}): the report would hold its rows twice; list it once`);
    else seen.set(target, source.name);
  }
  return sources.length === names.length ? sources : [];
}

/** One service's database: its keys checked as the PG* setting each stands for, the rest from the PG* variables. */
function sourceDatabase(section: ServiceSection, where: string, base: Partial<DatabaseConfig>, context: BuildContext, parsers: ServiceKeyParsers): DatabaseConfig | undefined {
  let ok = true;
  const problem = (text: string) => {
    ok = false;
    context.problem('PGSERVICEFILE', `${where}: ${text}`);
  };
  for (const line of section.malformed) problem(`line ${line} is not key=value (libpq: "syntax error in service file")`);
  const given = new Map<ServiceKey, unknown>();
  for (const entry of section.entries) {
    const wrong = serviceKeyProblem(entry.key);
    if (wrong !== undefined) {
      problem(`line ${entry.line}: ${wrong}`);
      continue;
    }
    const key = entry.key as ServiceKey;
    if (given.has(key)) {
      problem(`line ${entry.line}: ${key} is set twice (libpq keeps the first): remove one`);
      continue;
    }
    if (entry.value.trim() === '') {
      problem(`line ${entry.line}: ${key} has no value: give one, or remove the line (then ${SETTING_OF[key]} applies)`);
      continue;
    }
    if (/^\s/.test(entry.value)) {
      problem(`line ${entry.line}: the value of ${key} starts with a space: libpq allows none around "=" (write ${key}=value)`);
      continue;
    }
    const parsed = parsers[key](entry.value);
    // The value is never quoted when the check says so (a URI in host may hold a password).
    if (parsed.ok) given.set(key, parsed.value);
    else problem(`line ${entry.line}: ${key} ${parsed.problem}${parsed.quote === false ? '' : ` (got ${JSON.stringify(entry.value)})`}, as ${SETTING_OF[key]} would`);
  }
  const database = (given.get('dbname') as string | undefined) ?? base.database;
  const user = (given.get('user') as string | undefined) ?? base.user;
  if (database === undefined) problem('sets no dbname and PGDATABASE is not set: add dbname=<database> to the section');
  if (user === undefined) problem('sets no user and PGUSER is not set: add user=<role> to the section');
  if (!ok || database === undefined || user === undefined) return undefined;
  return {
    host: (given.get('host') as string | undefined) ?? base.host!,
    port: (given.get('port') as number | undefined) ?? base.port!,
    database,
    user,
    password: undefined,
    sslMode: (given.get('sslmode') as DatabaseConfig['sslMode'] | undefined) ?? base.sslMode!,
    sslRootCert: base.sslRootCert,
    connectTimeoutMs: base.connectTimeoutMs!,
    service: section.name,
  };
}

/** The pgpass file, checked (mode, malformed lines) before anything is looked up in it. */
function pgpassOf(file: FileText | undefined, context: BuildContext): Pgpass | undefined {
  if (file === undefined) return undefined;
  const modeProblem = pgpassModeProblem(file.mode);
  if (modeProblem !== undefined) context.problem('PGPASSFILE', `${file.path} ${modeProblem}`);
  const pgpass = parsePgpass(file.text);
  for (const line of pgpass.malformed) {
    context.problem('PGPASSFILE', `${file.path}, line ${line}: is not host:port:database:user:password with a non-empty password (":" and "\\" inside a field are written "\\:" and "\\\\"; the line is not shown, it may hold a password)`);
  }
  return modeProblem === undefined ? pgpass : undefined;
}

function splitNames(value: string): string[] {
  return value.split(',').map((name) => name.trim());
}

function sourceNamesProblem(value: string): string | undefined {
  const names = splitNames(value);
  if (names.some((name) => name === '')) return 'must list service names separated by commas, none empty (example: REPORT_SOURCES=eu,us)';
  const bad = names.filter((name) => !SERVICE_NAME.test(name));
  if (bad.length > 0) return `must list service names (${SERVICE_NAME_FORM}); not one: ${bad.map((name) => JSON.stringify(name)).join(', ')}`;
  const repeated = names.filter((name, i) => names.indexOf(name) !== i);
  if (repeated.length > 0) return `names ${[...new Set(repeated)].join(', ')} more than once: the report would hold its rows twice`;
  return undefined;
}
