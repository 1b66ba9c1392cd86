import type { ClientConfig } from 'pg';
import type { ConnectionOptions } from 'node:tls';
import type { DatabaseConfig } from '../config/config.ts';

export const APPLICATION_NAME = 'daily-report';

/**
 * node-postgres settings for the libpq-style configuration. libpq's PGSSLMODE semantics are
 * reproduced here because node-postgres only understands them inside a connection string:
 * - require: encrypted, not verified (verified against PGSSLROOTCERT when one is given, as libpq does);
 * - verify-ca: the chain is verified, the host name is not;
 * - verify-full: chain and host name verified.
 */
export function pgClientConfig(db: DatabaseConfig): ClientConfig {
  return {
    host: db.host,
    port: db.port,
    database: db.database,
    user: db.user,
    // A source whose password was looked up in PGPASSFILE and not found has none: node-postgres must
    // not then look in PGPASSFILE or ~/.pgpass itself (by its own rules, at connect time).
    password: db.password ?? (db.passFile !== undefined || db.service !== undefined ? noPassword : undefined),
    ssl: tlsOptions(db),
    application_name: APPLICATION_NAME,
    connectionTimeoutMillis: db.connectTimeoutMs,
    // A night-long extraction crosses NATs and load balancers that drop idle-looking flows.
    keepAlive: true,
    keepAliveInitialDelayMillis: 30_000,
  };
}

function tlsOptions(db: DatabaseConfig): false | ConnectionOptions {
  const ca = db.sslRootCert;
  switch (db.sslMode) {
    case 'disable':
      return false;
    case 'require':
      return ca === undefined ? { rejectUnauthorized: false } : { ca, rejectUnauthorized: true, checkServerIdentity: () => undefined };
    case 'verify-ca':
      return { ca, rejectUnauthorized: true, checkServerIdentity: () => undefined };
    case 'verify-full':
      return { ca, rejectUnauthorized: true };
  }
}

/** node-postgres's password callback saying "none" (the server then says a password is needed). */
const noPassword = (() => undefined) as unknown as () => string;

/**
 * "host:port/database", and "(service eu)" for a REPORT_SOURCES source — how the database is named
 * in logs and errors (never with credentials).
 */
export function databaseLabel(db: DatabaseConfig): string {
  return `${db.host}:${db.port}/${db.database}${db.service === undefined ? '' : ` (service ${db.service})`}`;
}

/** What to set for this database's password, for the error that says one is missing or wrong. */
export function passwordHint(db: DatabaseConfig): string {
  // pgpass escapes ":" and "\\" inside a field (an IPv6 host).
  const field = (text: string | number) => String(text).replace(/[:\\]/g, '\\$&');
  if (db.passFile !== undefined && db.password === undefined) return `add a line ${[db.host, db.port, db.database, db.user].map(field).join(':')}:<password> to PGPASSFILE (${db.passFile})`;
  if (db.passFile !== undefined) return `check the line for it in PGPASSFILE (${db.passFile})`;
  if (db.service !== undefined) return 'set PGPASSFILE to a pgpass file with a line for it';
  return 'set PGPASSWORD or PGPASSWORD_FILE';
}
