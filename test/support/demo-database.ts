import { readFile } from 'node:fs/promises';
import { adminClient, type PostgresEndpoint } from './postgres-server.ts';

const SQL_DIR = new URL('../../sql/', import.meta.url);

export interface DemoData {
  readonly users: number;
  readonly transactions: number;
  /** Transactions are spread over the `days` days before `until`. */
  readonly days: number;
  /** A SQL timestamptz expression (default `now()`). */
  readonly until?: string;
}

/** Creates `database` with the application's schema (sql/demo-schema.sql) and, optionally, sample data. */
export async function createDemoDatabase(endpoint: PostgresEndpoint, database: string, data?: DemoData): Promise<void> {
  const admin = await adminClient(endpoint);
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${database}"`);
  } finally {
    await admin.end();
  }
  const client = await adminClient(endpoint, database);
  try {
    await client.query(await readFile(new URL('demo-schema.sql', SQL_DIR), 'utf8'));
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

/** Sets the password of the read-only role the job runs as. */
export async function setReaderPassword(endpoint: PostgresEndpoint, password: string): Promise<void> {
  const admin = await adminClient(endpoint);
  try {
    await admin.query(`ALTER ROLE report_reader PASSWORD '${password.replaceAll("'", "''")}'`);
  } finally {
    await admin.end();
  }
}
