import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LocalCall } from '../../src/publish/publish-steps.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { KEYS, runInProcess, type StorageState } from '../support/publish-worlds.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';
import { matrixCases, newWorld, ROWS_OF, sizedQueryFiles, worldsOfThisRun, type Size } from './fault-matrix-cases.ts';
import { expectI1I2, isCompleteReport, type Previous } from './publish-invariants.ts';

/**
 * The SIGKILL rows of the fault matrix: a real `daily-report run` process killed while a step's
 * request is held (S3, Azure: the proxy holds it; local: the process kills itself at the step's
 * file-system call). Afterwards the storage's real state keeps I1 and I2; the dead run's lock stays
 * until it expires, and a run after that takes it over and converges.
 */
const KILL_AT = fileURLToPath(new URL('../support/kill-at-step.ts', import.meta.url));
describe('the publishing fault matrix, SIGKILL while held', () => {
  let db: TestDatabase;
  let sqlFiles: Record<Size, string>;

  beforeAll(async () => {
    db = await createTestDatabase('killmatrix');
    sqlFiles = await sizedQueryFiles(db.outDir);
  });

  const cases = matrixCases(['SIGKILL while held'], worldsOfThisRun());

  describe.concurrent.each(cases)('$world.name › $step.name › $fault › $prior › $size', ({ world: spec, provider, step, prior, size }) => {
    it('keeps I1 and I2; once the dead run’s lock expires, a rerun converges', async () => {
      const world = await newWorld(spec);
      const rows = ROWS_OF[size];
      try {
        let previous: Previous | undefined;
        if (prior === 'over an existing report') {
          expect((await runInProcess(world, db, { sqlFile: sqlFiles[size], ifExists: 'overwrite' })).error).toBeUndefined();
          const state = await world.state();
          previous = { csv: state.csv!.bytes, manifest: state.manifest! };
        }
        const shape = step.requests[provider]!;
        let child: { kill(signal: NodeJS.Signals): boolean } | undefined;
        let hits = { hits: () => 1 };
        const local = provider === 'local';
        if (!local) hits = world.inject(shape, 'SIGKILL while held', { onHeld: () => child?.kill('SIGKILL') });
        const env = {
          ...db.env, ...world.childEnv(), REPORT_SQL_FILE: sqlFiles[size], REPORT_IF_EXISTS: prior === 'over an existing report' ? 'overwrite' : 'fail',
          REPORT_STATEMENT_TIMEOUT: '60s', PGCONNECT_TIMEOUT: '10',
          ...(local ? { DAILY_REPORT_TEST_KILL_AT: JSON.stringify({ dir: world.childEnv().LOCAL_STORAGE_DIR, keys: KEYS, call: shape as LocalCall }) } : {}),
        };
        const result = await runDailyReport(['run', '--date', '2024-10-05'], { env, nodeOptions: local ? ['--import', KILL_AT] : [], onSpawn: (spawned) => (child = spawned) });
        const context = `${spec.name} ${step.name} SIGKILL ${prior} ${size}`;
        expect(result.signal, `${context}: the run was not killed (exit ${result.code}): ${result.stderr.slice(-600)}`).toBe('SIGKILL');
        expect(hits.hits()).toBeGreaterThan(0);
        const after: StorageState = await world.state();
        expectI1I2(after, rows, previous, context);

        // After the lock's lifetime (an hour on, for this run's clock), the next run takes over.
        world.clear();
        const later = new Date(Date.now() + 3_600_000);
        const rerun = await runInProcess(world, db, { sqlFile: sqlFiles[size], ifExists: 'overwrite', now: () => later });
        expect(rerun.error, `${context} → rerun`).toBeUndefined();
        const converged = await world.state();
        expect(converged.manifest?.run_id).toBe(rerun.runId);
        expect(isCompleteReport(converged.csv!.bytes, rows)).toBe(true);
        expectI1I2(converged, rows, undefined, `${context} → rerun`);
        expect(converged.lock).toBeUndefined();
        // Locally the dead run's temporary CSV (a whole report, `.<key>.<uuid>.partial`) is the rerun's to remove, under
        // the lock (its lock's and manifest's temporaries once five minutes old: local-storage.test.ts); an S3 upload
        // left open is the lifecycle rule's, Azure's uncommitted blocks expire on their own.
        if (provider === 'local') {
          const csvTemporaries = converged.leftovers.filter((name) => !/\.csv\.(lock|manifest\.json)\./.test(name));
          expect(csvTemporaries, `${context} → rerun: the dead run's temporary CSV is left`).toEqual([]);
        }
      } finally {
        await world.close();
      }
    }, 120_000);
  });
});
