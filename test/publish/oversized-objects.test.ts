import { readFile, truncate, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { StorageConfig } from '../../src/config/config.ts';
import { createStorage } from '../../src/storage/create-storage.ts';
import { KEYS } from '../support/publish-worlds.ts';
import { queryFile } from '../support/report-files.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';
import { newWorld, reportQuery, SMALL_ROWS, worldsOfThisRun } from './fault-matrix-cases.ts';
import { expectPublishedPair } from './publish-invariants.ts';

/**
 * Something big under the manifest's or the lock's name — a mistaken upload, a hostile writer — is
 * nobody's manifest or lock, but the run read such objects whole: a 600 MB "manifest" took a run to
 * 1.3 GB of RSS (an OOM kill at the chart's limit, on every retry), and locally one over 2 GiB failed
 * every run as "a bug in daily-report". Now at most 1 MiB of either is read; the run takes it for a
 * broken one (a lock that does not parse is expired; a manifest that does not parse describes
 * nothing) and publishes.
 */
const JUNK_BYTES = 256 * 1024 * 1024;

describe('an oversized object under the manifest’s and the lock’s names', () => {
  let db: TestDatabase;
  let sqlFile: string;
  beforeAll(async () => {
    db = await createTestDatabase('oversized');
    sqlFile = await queryFile(db.outDir, 'small', reportQuery(SMALL_ROWS, 5));
  });

  describe.each(worldsOfThisRun())('on $name', (spec) => {
    it('is read no further than 1 MiB: the run takes the lock over, replaces the manifest and publishes in bounded memory', async () => {
      const world = await newWorld(spec);
      try {
        if (spec.provider === 'local') {
          // Sparse files, 3 GiB each: over what one read may hold in Node.
          const dir = world.childEnv().LOCAL_STORAGE_DIR!;
          for (const key of [KEYS.manifest, KEYS.lock]) {
            await writeFile(join(dir, key), '');
            await truncate(join(dir, key), 3 * 1024 ** 3);
          }
        } else {
          const junk = Buffer.alloc(JUNK_BYTES, '{"bytes": 1, ');
          // Stored through a client of its own with a minute per request: the world's 2 s request
          // timeout is for the job's requests, and moto under the suite's load takes longer than
          // that to assemble 256 MB at CompleteMultipartUpload.
          const storage = await createStorage({ ...world.storageConfig, requestTimeoutMs: 60_000 } as StorageConfig);
          try {
            await storage.write(KEYS.manifest, (async function* () { yield junk; })(), { signal: new AbortController().signal, ifExists: 'overwrite', contentType: 'application/json', metadata: {} });
            await storage.write(KEYS.lock, (async function* () { yield junk.subarray(0, 2 * 1024 * 1024); })(), { signal: new AbortController().signal, ifExists: 'overwrite', contentType: 'application/json', metadata: {} });
          } catch (error) {
            // Not the job's failure: the server could not store the junk (seen: moto out of disk for its spool files).
            throw new Error(`the test could not store its oversized objects on ${spec.name} (see .cache/server-logs)`, { cause: error });
          }
        }
        const rssFile = join(db.outDir, `oversized-${spec.name}.rss`);
        const run = await runDailyReport(['run', '--date', '2024-10-05'], {
          env: { ...db.env, ...world.childEnv(), REPORT_SQL_FILE: sqlFile, REPORT_IF_EXISTS: 'fail', PEAK_RSS_FILE: rssFile, STORAGE_REQUEST_TIMEOUT: '60s' },
          nodeOptions: ['--import', resolve(import.meta.dirname, '../support/peak-rss.ts')],
        });
        expect(run.code, run.stderr.slice(-1500)).toBe(0);
        expectPublishedPair(await world.state(), SMALL_ROWS, spec.name);
        expect(Number(await readFile(rssFile, 'utf8')), 'peak RSS').toBeLessThan(JUNK_BYTES);
      } finally {
        await world.close();
      }
    }, 180_000);
  });
});
