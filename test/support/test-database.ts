import { randomBytes } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import pg from 'pg';
import { createDemoDatabase, setReaderPassword, type DemoData } from './demo-database.ts';
import { adminClient, type PostgresEndpoint } from './postgres-server.ts';

export const READER_PASSWORD = 'reader-Secret-4f1a';

export interface TestDatabase {
  readonly name: string;
  readonly endpoint: PostgresEndpoint;
  /** The environment the job needs to read this database as the read-only role, storing into `outDir`. */
  readonly env: Record<string, string>;
  readonly outDir: string;
  /** A superuser client on this database (closed by the caller). */
  admin(): Promise<pg.Client>;
}

/** A fresh database with the application's schema (and optional sample data), and an empty output folder. */
export async function createTestDatabase(prefix: string, data?: DemoData): Promise<TestDatabase> {
  const endpoint = inject('postgres');
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  await createDemoDatabase(endpoint, name, data);
  await setReaderPassword(endpoint, READER_PASSWORD);
  const outDir = await mkdtemp(join(tmpdir(), `daily-report-out-${prefix}-`));
  return {
    name,
    endpoint,
    outDir,
    env: {
      PGHOST: endpoint.host,
      PGPORT: String(endpoint.port),
      PGDATABASE: name,
      PGUSER: 'report_reader',
      PGPASSWORD: READER_PASSWORD,
      STORAGE_PROVIDER: 'local',
      LOCAL_STORAGE_DIR: outDir,
      REPORT_TIMEZONE: 'America/Sao_Paulo',
    },
    admin: () => adminClient(endpoint, name),
  };
}

/** Runs SQL as the superuser on the database. */
export async function sql(db: TestDatabase, text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = await db.admin();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}
