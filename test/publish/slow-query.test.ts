import { beforeAll, describe, expect, it } from 'vitest';
import { queryFile } from '../support/report-files.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';
import { newWorld, reportQuery, worldsOfThisRun } from './fault-matrix-cases.ts';
import { expectPublishedPair } from './publish-invariants.ts';

/**
 * The upload's stall watchdog (twice STORAGE_REQUEST_TIMEOUT: 4 s here, 4 min by default) is for a
 * hung upload, not a slow query: a query that sorts or aggregates for longer than that before its
 * first row (bounded by REPORT_STATEMENT_TIMEOUT) used to fail every retry with "made no progress".
 * The test worlds' STORAGE_REQUEST_TIMEOUT is 2 s; the query gives its first row after 7 s.
 */
const ROWS = 300;

describe('a query slower to give its first row than the upload’s stall timeout', () => {
  let db: TestDatabase;
  let sqlFile: string;
  beforeAll(async () => {
    db = await createTestDatabase('slowquery');
    sqlFile = await queryFile(db.outDir, 'slow', reportQuery(ROWS, 1, 7));
  });

  const cases = worldsOfThisRun()
    .filter((world) => world.provider !== 'local')
    .flatMap((world) => (['none', 'gzip'] as const).map((compression) => ({ world, compression })));
  describe.concurrent.each(cases)('on $world.name, compression $compression', ({ world: spec, compression }) => {
    it('is published: the time the database takes is not the upload’s stall', async () => {
      const world = await newWorld(spec);
      try {
        const run = await runDailyReport(['run', '--date', '2024-10-05'], {
          env: { ...db.env, ...world.childEnv(), REPORT_SQL_FILE: sqlFile, REPORT_COMPRESSION: compression },
        });
        expect(run.code, JSON.stringify(run.logs.filter((line) => line.level === 'error'))).toBe(0);
        if (compression === 'none') expectPublishedPair(await world.state(), ROWS, spec.name);
        else expect((await world.state()).lock, 'no lock left').toBeUndefined();
      } finally {
        await world.close();
      }
    }, 60_000);
  });
});
