import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { oneDatabaseTwice, sourcesEnvironment } from '../support/source-files.ts';
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
    const env = await sourcesEnvironment(db.env, join(db.outDir, '..'), oneDatabaseTwice(port, db.name), { user: 'report_reader', password: READER_PASSWORD });
    const result = await runDailyReport(['validate'], { env });
    expect(result.code, result.stdout + result.stderr.slice(-1500)).toBe(ExitCode.invalidInput);
    expect(result.stdout + result.stderr).toMatch(/services a and b .*same database/);
  });
});
