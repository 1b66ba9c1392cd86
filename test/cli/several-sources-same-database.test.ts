import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { oneDatabaseTwice, sourcesEnvironment } from '../support/source-files.ts';
import { createTestDatabase, READER_PASSWORD, type TestDatabase } from '../support/test-database.ts';

/**
 * Two services that name one database by different host names (127.0.0.1 and localhost): the
 * literal host:port/dbname comparison of the configuration cannot see it, the servers can
 * (postmaster start and database, as the workers' check does). The report would hold every row twice.
 */
let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('twice', { users: 20, days: 1, until: "'2024-10-05 00:00:00-03'::timestamptz", transactions: 50 });
});

describe('two services that reach one database under two host names', () => {
  it.each(['1', '2'])('are refused at REPORT_PARALLELISM=%s with exit 2, naming both, and nothing is published', async (workers) => {
    const { port } = db.endpoint;
    const env = await sourcesEnvironment(db.env, join(db.outDir, '..'), oneDatabaseTwice(port, db.name), { user: 'report_reader', password: READER_PASSWORD });
    const result = await runDailyReport(['run', '--date', '2024-10-05'], { env: { ...env, REPORT_PARALLELISM: workers } });
    expect(result.code, result.stderr.slice(-2000)).toBe(ExitCode.invalidInput);
    expect(result.stderr).toMatch(/services a and b .*same database/);
    expect((await readdir(db.outDir)).filter((name) => !name.startsWith('.'))).toEqual([]);
  });
});
