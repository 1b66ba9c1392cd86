import { SSL_MODES, type DatabaseConfig, type SourceConfig } from '../config/config.ts';
import { defineSettings, fileText, oneOf, text, unquotedProblem, wholeNumber, type SettingsDomain } from '../config/setting.ts';
import { buildSources, SOURCE_SETTINGS } from './source-settings.ts';

/**
 * The database's settings, libpq's variable names. PG* values may come from files (`PGPASSWORD_FILE` …)
 * because database operators (CloudNativePG, Zalando, Crunchy) put all of them in Secrets.
 */

// A URL (postgres://user:password@host/db) or user@host in PGHOST is refused without being echoed:
// node-postgres would take it as a host name, and the password would reach every log line and span.
const HOST_WITH_CREDENTIALS = /^[a-z][a-z0-9+.-]*:\/\/|@/i;
// libpq expands a dbname holding "=" or a URI prefix into a whole connection string (password
// included); node-postgres takes it as a name, and the name is in every log line, span and error.
const DATABASE_AS_CONNECTION_STRING = /^[a-z][a-z0-9+.-]*:\/\/|=/i;

export const DATABASE_SETTINGS = defineSettings({
  PGHOST: text({
    default: 'localhost', fromFile: true, form: 'host name, IP address or socket directory',
    check: (s) =>
      HOST_WITH_CREDENTIALS.test(s)
        ? unquotedProblem('must be a host name, not a connection URI (its credentials would be logged): set PGHOST, PGPORT, PGDATABASE, PGUSER and PGPASSWORD separately')
        : s.includes(',')
          ? "must be one host: libpq's host list (h1,h2) is not supported by node-postgres, which would look the whole text up in DNS on every retry (point it at the replica's service name)"
          : /\s/.test(s)
            ? 'must not contain spaces (a host name never does; is there a stray space or newline?)'
            : undefined,
    doc: 'Database host. Point it at a **read replica** (see Operations). A `postgres://` URI is refused: give its parts in the other PG* variables.',
  }),
  PGPORT: wholeNumber({ min: 1, max: 65_535, example: 5432, default: '5432', fromFile: true, doc: 'Database port.' }),
  PGDATABASE: text({
    required: 'is required: the database to read (example: PGDATABASE=app)', requiredUnless: 'REPORT_SOURCES', fromFile: true, form: 'database name',
    check: (s) =>
      DATABASE_AS_CONNECTION_STRING.test(s)
        ? unquotedProblem('must be a database name, not a connection URI or "key=value" string (its credentials would be logged): set PGHOST, PGPORT, PGDATABASE, PGUSER and PGPASSWORD separately')
        : undefined,
    doc: 'Database to read, e.g. `app`. A connection URI or `key=value` string (which libpq would expand) is refused. With `REPORT_SOURCES`: only the default for a service that sets no `dbname`.',
  }),
  PGUSER: text({ required: 'is required: a role with SELECT on the report tables (example: PGUSER=report_reader)', requiredUnless: 'REPORT_SOURCES', fromFile: true, form: 'role name', doc: "Role with `SELECT` on the report's tables only, e.g. `report_reader`. With `REPORT_SOURCES`: only the default for a service that sets no `user`." }),
  PGPASSWORD: text({ secret: true, fromFile: true, form: 'password', defaultDoc: '*(none)*', doc: 'Its password (wins over `PGPASSFILE`). Refused with `REPORT_SOURCES`: their passwords are in `PGPASSFILE`.' }),
  PGSSLMODE: oneOf({
    values: SSL_MODES, default: 'disable',
    hint: ' (node-postgres cannot fall back between TLS and plaintext, so "allow" and "prefer" are not offered; use verify-full in production)',
    doc: "libpq's meanings. `allow`/`prefer` are refused: node-postgres cannot fall back between TLS and plaintext. Use `verify-full` in production.",
  }),
  PGSSLROOTCERT: fileText({ maxBytes: 1024 * 1024, defaultDoc: '*(system CAs)*', doc: "Path to the CA bundle that signs the server's certificate (node-postgres does not read this variable itself; the job does)." }),
  PGCONNECT_TIMEOUT: wholeNumber({ min: 1, max: 3_600, example: 30, default: '30', doc: 'Seconds to wait for a connection.' }),
  ...SOURCE_SETTINGS,
});

/** The PG* database, and the report's sources (that database alone, or REPORT_SOURCES's services). */
export interface DatabaseSettings {
  readonly database: DatabaseConfig;
  readonly sources: readonly SourceConfig[];
}

export const databaseSettings: SettingsDomain<typeof DATABASE_SETTINGS, DatabaseSettings> = {
  spec: DATABASE_SETTINGS,
  build: (v, context) => {
    const base = {
      host: v.PGHOST,
      port: v.PGPORT,
      database: v.PGDATABASE as string | undefined,
      user: v.PGUSER as string | undefined,
      password: v.PGPASSWORD,
      sslMode: v.PGSSLMODE,
      sslRootCert: v.PGSSLROOTCERT?.text,
      connectTimeoutMs: v.PGCONNECT_TIMEOUT * 1_000,
    };
    const parsers = { host: DATABASE_SETTINGS.PGHOST.parse, port: DATABASE_SETTINGS.PGPORT.parse, dbname: DATABASE_SETTINGS.PGDATABASE.parse, user: DATABASE_SETTINGS.PGUSER.parse, sslmode: DATABASE_SETTINGS.PGSSLMODE.parse };
    const sources = buildSources(v, base, context, parsers);
    // With REPORT_SOURCES the PG* database may be incomplete: what stands for it is the first source.
    return { database: sources[0]?.database ?? (base as DatabaseConfig), sources };
  },
};
