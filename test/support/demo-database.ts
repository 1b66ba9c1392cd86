import { readFile } from 'node:fs/promises';
import { adminClient, type PostgresEndpoint } from './postgres-server.ts';

const SQL_DIR = new URL('../../sql/', import.meta.url);
/** The read-only role sql/demo-schema.sql creates (the name the README recommends for production). */
export const READER_ROLE = 'report_reader';

export interface DemoData {
  readonly users: number;
  readonly transactions: number;
  /** Transactions are spread over the `days` days before `until`. */
  readonly days: number;
  /** A SQL timestamptz expression (default `now()`). */
  readonly until?: string;
}

/**
 * Creates `database` with the application's schema (sql/demo-schema.sql) and, optionally, sample
 * data, granting SELECT to `reader`. Never drops anything: CREATE DATABASE fails if the name is taken.
 */
export async function createDemoDatabase(endpoint: PostgresEndpoint, database: string, data?: DemoData, reader = READER_ROLE): Promise<void> {
  const admin = await adminClient(endpoint);
  try {
    await admin.query(`CREATE DATABASE ${quoteIdentifier(database)}`);
  } finally {
    await admin.end();
  }
  const client = await adminClient(endpoint, database);
  try {
    const schema = await readFile(new URL('demo-schema.sql', SQL_DIR), 'utf8');
    await client.query(schema.replaceAll(READER_ROLE, quoteIdentifier(reader)));
    if (data) {
      const text = (await readFile(new URL('demo-data.sql', SQL_DIR), 'utf8'))
        .replaceAll(':users', String(data.users))
        .replaceAll(':transactions', String(data.transactions))
        .replaceAll(':days', String(data.days))
        .replaceAll(':until', data.until ?? 'now()');
      await client.query(text);
    }
  } finally {
    await client.end();
  }
}

/**
 * Sets the password of the read-only role on a private server. Refused on any other server: roles
 * are cluster-wide, and this one may be production's.
 */
export async function setReaderPassword(endpoint: PostgresEndpoint, password: string): Promise<void> {
  if (!endpoint.embedded) throw new Error(`refusing to change the password of ${READER_ROLE} on ${endpoint.host}:${endpoint.port}: not a server this run started`);
  const admin = await adminClient(endpoint);
  try {
    await admin.query(`ALTER ROLE ${READER_ROLE} PASSWORD ${quoteLiteral(password)}`);
  } finally {
    await admin.end();
  }
}

export const quoteIdentifier = (name: string) => `"${name.replaceAll('"', '""')}"`;
export const quoteLiteral = (text: string) => `'${text.replaceAll("'", "''")}'`;
