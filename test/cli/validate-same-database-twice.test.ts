import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { createTestDatabase, READER_PASSWORD, type TestDatabase } from '../support/test-database.ts';

/**
 * `run` refuses two services that reach one database under
 * two host names (same-database-twice.ts); so does `validate`, from each server's own identity, or it
 * would say "ok" for a configuration whose run exits 2.
 */
let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('vtwice', { users: 10, days: 1, until: "'2024-10-05 00:00:00-03'::timestamptz", transactions: 20 });
});

describe('validate with two services that reach one database under two host names', () => {
  it('exits 2 naming both, as the run does', async () => {
    const { port } = db.endpoint;
    const services = join(db.outDir, '..', `pg_service-vtwice-${Math.random().toString(36).slice(2)}.conf`);
    await writeFile(services, ['[a]', 'host=127.0.0.1', `port=${port}`, `dbname=${db.name}`, 'user=report_reader', '', '[b]', 'host=localhost', `port=${port}`, `dbname=${db.name}`, 'user=report_reader', ''].join('\n'));
    const pgpass = join(db.outDir, '..', `pgpass-vtwice-${Math.random().toString(36).slice(2)}`);
    await writeFile(pgpass, `*:*:*:report_reader:${READER_PASSWORD}\n`, { mode: 0o600 });
    const { PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, ...rest } = db.env;
    const result = await runDailyReport(['validate'], { env: { ...rest, REPORT_SOURCES: 'a,b', PGSERVICEFILE: services, PGPASSFILE: pgpass } });
    expect(result.code, result.stdout + result.stderr.slice(-1500)).toBe(ExitCode.invalidInput);
    expect(result.stdout + result.stderr).toMatch(/services a and b .*same database/);
  });
});
