import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runDailyReport } from '../support/run-cli.ts';
import { sourcesEnvironment } from '../support/source-files.ts';
import { createTestDatabase, sql, type TestDatabase } from '../support/test-database.ts';

/**
 * docs/parallel-extraction.md, "Settings": at most N + 2 × sources − 1 connections at once (N
 * workers, each source's coordinator, and the worker each source imports up front until its first
 * shard runs). Two sources that are two databases of one server (a tenant per database), read by a
 * role whose CONNECTION LIMIT is that figure, must be enough: a source whose shards are all under
 * way no longer keeps its idle workers while the next source opens its own.
 */
const ROLE = 'review_limited';
const PASSWORD = 'limited-Secret-9c2e';
const DATA = { users: 40, days: 1, until: "'2024-10-05 00:00:00-03'::timestamptz", transactions: 400 };

let eu: TestDatabase;
let us: TestDatabase;

beforeAll(async () => {
  eu = await createTestDatabase('conn_eu', DATA);
  us = await createTestDatabase('conn_us', DATA);
  await sql(eu, `DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${ROLE}') THEN CREATE ROLE ${ROLE} LOGIN PASSWORD '${PASSWORD}'; END IF; END $$`);
  for (const db of [eu, us]) await sql(db, `GRANT SELECT ON usuarios, transacoes TO ${ROLE}`);
});

describe('several sources on one server at REPORT_PARALLELISM=2', () => {
  it('hold at most N + 2 × sources − 1 connections: the first source\'s idle workers are closed once its last shard runs', async () => {
    const workers = 2;
    await sql(eu, `ALTER ROLE ${ROLE} CONNECTION LIMIT ${workers + 2 * 2 - 1}`);
    const { host, port } = eu.endpoint;
    const services = [{ name: 'eu', host, port, dbname: eu.name }, { name: 'us', host, port, dbname: us.name }];
    const env = await sourcesEnvironment(eu.env, join(eu.outDir, '..'), services, { user: ROLE, password: PASSWORD });
    const result = await runDailyReport(['run', '--date', '2024-10-05'], { env: { ...env, REPORT_PARALLELISM: String(workers) } });
    expect(result.code, result.stderr.slice(-3000)).toBe(0);
  });
});
