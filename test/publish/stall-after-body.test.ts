import { beforeAll, describe, expect, it } from 'vitest';
import { queryFile } from '../support/report-files.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';
import { newWorld, worldsOfThisRun } from './fault-matrix-cases.ts';
import { expectPublishedPair } from './publish-invariants.ts';

/**
 * The stall watchdog after the body ended counts the upload's silence, and a part the SDK retries
 * is not silence it must act on. STORAGE_REQUEST_TIMEOUT is 6 s here (stall 12 s), every part takes
 * 4 s, the body (three parts) ends at once, and the last part's first attempt is never answered:
 * the SDK gives it up after 6 s and its retry takes 4 s, so the last part is stored 10 s after the
 * body ended — within one timeout and a retry, the budget the watchdog's 2 × timeout is for.
 */
const ROWS = 45_000;
const isUploadPart = (request: { method: string; url: string }) => request.method === 'PUT' && request.url.includes('partNumber=');

describe('the upload’s stall watchdog after the body ended', () => {
  let db: TestDatabase;
  let sqlFile: string;
  beforeAll(async () => {
    db = await createTestDatabase('stallafter');
    // About 12 MiB: three 5 MiB parts, the last one short; the whole body fits in the three part buffers.
    sqlFile = await queryFile(db.outDir, 'wide', `SELECT :extracted_at::timestamptz AS data_extracao, repeat('n', 240) || g AS nome_usuario, g AS id_transacao,
      g * 0.01 AS valor_transacao, 'ok' AS status_transacao FROM generate_series(1, ${ROWS}) AS g`);
  });

  describe.concurrent.each(worldsOfThisRun().filter((world) => world.provider === 's3'))('on $name', (spec) => {
    it('a last part retried after the body ended (one SDK timeout, then a slow retry) is published, not taken for a stall', async () => {
      const world = await newWorld(spec);
      try {
        let stalled = 0;
        let slowed = 0;
        world.proxy!.inject({ match: (request) => isUploadPart(request) && request.url.includes('partNumber=3'), times: 1, fault: { stall: true }, onMatch: () => stalled++ });
        world.proxy!.inject({
          match: isUploadPart,
          get fault() {
            return { hold: new Promise<void>((resolve) => setTimeout(resolve, 4_000)) };
          },
          onMatch: () => slowed++,
        });
        const run = await runDailyReport(['run', '--date', '2024-10-05'], {
          env: { ...db.env, ...world.childEnv(), REPORT_SQL_FILE: sqlFile, STORAGE_REQUEST_TIMEOUT: '6s', S3_PART_SIZE_MB: '5', S3_QUEUE_SIZE: '2' },
        });
        expect(stalled, 'the last part’s first attempt, never answered').toBe(1);
        expect(slowed, 'parts stored slowly (the retry included)').toBe(3);
        expect(run.code, JSON.stringify(run.logs.filter((line) => line.level === 'error'))).toBe(0);
        expectPublishedPair(await world.state(), ROWS, spec.name);
      } finally {
        await world.close();
      }
    }, 120_000);
  });
});
