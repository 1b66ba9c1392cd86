import { SSL_MODES, type DatabaseConfig } from '../config/config.ts';
import { defineSettings, fileText, oneOf, text, unquotedProblem, wholeNumber, type SettingsDomain } from '../config/setting.ts';

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
    required: 'is required: the database to read (example: PGDATABASE=app)', fromFile: true, form: 'database name',
    check: (s) =>
      DATABASE_AS_CONNECTION_STRING.test(s)
        ? unquotedProblem('must be a database name, not a connection URI or "key=value" string (its credentials would be logged): set PGHOST, PGPORT, PGDATABASE, PGUSER and PGPASSWORD separately')
        : undefined,
    doc: 'Database to read, e.g. `app`. A connection URI or `key=value` string (which libpq would expand) is refused.',
  }),
  PGUSER: text({ required: 'is required: a role with SELECT on the report tables (example: PGUSER=report_reader)', fromFile: true, form: 'role name', doc: "Role with `SELECT` on the report's tables only, e.g. `report_reader`." }),
  PGPASSWORD: text({ secret: true, fromFile: true, form: 'password', defaultDoc: '*(none)*', doc: 'Its password.' }),
  PGSSLMODE: oneOf({
    values: SSL_MODES, default: 'disable',
    hint: ' (node-postgres cannot fall back between TLS and plaintext, so "allow" and "prefer" are not offered; use verify-full in production)',
    doc: "libpq's meanings. `allow`/`prefer` are refused: node-postgres cannot fall back between TLS and plaintext. Use `verify-full` in production.",
  }),
  PGSSLROOTCERT: fileText({ maxBytes: 1024 * 1024, defaultDoc: '*(system CAs)*', doc: "Path to the CA bundle that signs the server's certificate (node-postgres does not read this variable itself; the job does)." }),
  PGCONNECT_TIMEOUT: wholeNumber({ min: 1, max: 3_600, example: 30, default: '30', doc: 'Seconds to wait for a connection.' }),
});

export const databaseSettings: SettingsDomain<typeof DATABASE_SETTINGS, DatabaseConfig> = {
  spec: DATABASE_SETTINGS,
  build: (v) => ({
    host: v.PGHOST,
    port: v.PGPORT,
    database: v.PGDATABASE,
    user: v.PGUSER,
    password: v.PGPASSWORD,
    sslMode: v.PGSSLMODE,
    sslRootCert: v.PGSSLROOTCERT?.text,
    connectTimeoutMs: v.PGCONNECT_TIMEOUT * 1_000,
  }),
};
