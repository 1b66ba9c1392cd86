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
    password: db.password,
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

/** "host:port/database" — how the database is named in logs and errors (never with credentials). */
export function databaseLabel(db: DatabaseConfig): string {
  return `${db.host}:${db.port}/${db.database}`;
}
