import { beforeAll, describe, expect, inject, it } from 'vitest';
import { TransientFailure } from '../../src/errors.ts';
import { queryFile } from '../support/report-files.ts';
import { KEYS, runInProcess, s3World } from '../support/publish-worlds.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';
import { expectI1I2 } from './publish-invariants.ts';

/**
 * I1 when the storage says it stored something else than we sent (a wrong checksum on the verifying
 * HEAD): the run fails, and the object that failed verification does not stay under the final name.
 */
const s3 = inject('s3');

describe.skipIf(!('url' in s3))('a CSV that fails verification after it became visible', () => {
  let db: TestDatabase;
  let sqlFile: string;

  beforeAll(async () => {
    db = await createTestDatabase('verify');
    sqlFile = await queryFile(db.outDir, 'v', `SELECT :extracted_at::timestamptz AS data_extracao, 'n' || g AS nome_usuario, g AS id_transacao,
      g * 0.01 AS valor_transacao, 'ok' AS status_transacao FROM generate_series(1, 30) AS g`);
  });

  it.each(['over an existing report', 'over an empty key'])('is removed, and the run exits 1 (%s)', async (prior) => {
    const world = await s3World((s3 as { url: string }).url);
    try {
      if (prior === 'over an existing report') expect((await runInProcess(world, db, { sqlFile, ifExists: 'overwrite' })).error).toBeUndefined();
      // The verifying HEAD (S3_VERIFY asks for the checksum) reports another CRC32 than the bytes sent.
      world.proxy!.inject({
        match: (r) => r.method === 'HEAD' && r.url.endsWith(`/${KEYS.csv}`) && r.headers['x-amz-checksum-mode'] === 'ENABLED',
        fault: { rewriteResponse: (headers) => ({ ...headers, 'x-amz-checksum-crc32': 'AAAAAA==' }) },
      });
      const run = await runInProcess(world, db, { sqlFile, ifExists: 'overwrite' });
      expect(run.error).toBeInstanceOf(TransientFailure);
      expect((run.error as Error).message).toMatch(/verification of s3:\/\/.*CRC32 AAAAAA== ≠/);
      const state = await world.state();
      expect(state.csv, 'the object that failed verification stays under the final name').toBeUndefined();
      expect(state.manifest).toBeUndefined();
      expect(state.lock).toBeUndefined();
      expectI1I2(state, 30, undefined, prior);
    } finally {
      await world.close();
    }
  });
});
