import { beforeAll, describe, expect, it } from 'vitest';
import { PUBLISH_STEPS } from '../../src/publish/publish-steps.ts';
import { runInProcess, type FaultKind } from '../support/publish-worlds.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';
import { ALL_WORLDS, fullMatrixSize, matrixCases, newWorld, parallelCases, ROWS_OF, sizedQueryFiles, worldsOfThisRun, type MatrixCase, type Size } from './fault-matrix-cases.ts';
import { expectI1I2, expectI5, expectPublishedPair, type Previous } from './publish-invariants.ts';

/**
 * The fault matrix, generated from the protocol's own list of steps (PUBLISH_STEPS): for every
 * step, world (S3 on moto and on MinIO, Azure on Azurite, local), fault and starting state, one real
 * run (this process, the real database, the server through the fault proxy, or a folder through a
 * faulting file-system seam), then the
 * storage's real state checked against the invariants, then a rerun that must converge to a
 * correct published pair. SIGKILL, which needs a process to kill, is in fault-matrix-kill.test.ts.
 */

const FAULTS: readonly FaultKind[] = ['persistent 5xx', 'response lost', 'SIGTERM while held'];
const worlds = worldsOfThisRun();

describe('the publishing fault matrix', () => {
  let db: TestDatabase;
  let singleSqlFiles: Record<Size, string>;
  // The same rows spread over the report's window, so the parallel runs can split it.
  let windowedSqlFiles: Record<Size, string>;

  beforeAll(async () => {
    db = await createTestDatabase('matrix');
    singleSqlFiles = await sizedQueryFiles(db.outDir);
    windowedSqlFiles = await sizedQueryFiles(db.outDir, true);
  });

  const cases = matrixCases(FAULTS, worlds);

  it('covers every step of the protocol, for every world it applies to', () => {
    for (const step of PUBLISH_STEPS) {
      for (const { name, provider } of worlds) {
        if (step.requests[provider] === undefined) continue;
        expect(cases.some((c) => c.step.name === step.name && c.world.name === name), `${step.name} on ${name}`).toBe(true);
      }
    }
    // The sizes docs/publishing.md quotes (every world; S3 twice: moto and MinIO).
    expect(ALL_WORLDS).toEqual(['s3-moto', 's3-minio', 'azure', 'local']);
    expect(fullMatrixSize(FAULTS)).toBe(246);
    expect(fullMatrixSize([...FAULTS, 'SIGKILL while held'])).toBe(328);
  });

  /** One case: a run with the fault at the step, the storage checked against the invariants, then a rerun that converges. */
  async function keepsTheInvariants({ world: spec, provider, step, fault, prior, size }: MatrixCase, parallelism: number): Promise<void> {
    const sqlFiles = parallelism === 1 ? singleSqlFiles : windowedSqlFiles;
    const env = { REPORT_PARALLELISM: String(parallelism) };
    const world = await newWorld(spec);
    const rows = ROWS_OF[size];
    const ifExists = prior === 'over an existing report' ? 'overwrite' : 'fail';
    try {
      let previous: Previous | undefined;
      if (prior === 'over an existing report') {
        const first = await runInProcess(world, db, { sqlFile: sqlFiles[size], ifExists: 'overwrite', env });
        expect(first.error, 'the run that makes the previous report').toBeUndefined();
        const state = await world.state();
        previous = { csv: state.csv!.bytes, manifest: state.manifest! };
      }

      const controller = new AbortController();
      const injected = world.inject(step.requests[provider]!, fault, {
        released: controller.signal,
        ...(fault === 'SIGTERM while held' ? { onHeld: () => setTimeout(() => controller.abort(new Error('received SIGTERM')), 20) } : {}),
      });
      const run = await runInProcess(world, db, { sqlFile: sqlFiles[size], ifExists, signal: controller.signal, env });
      const context = `${spec.name} ${step.name} ${fault} ${prior} ${size} N=${parallelism}: ${run.error ? `failed: ${(run.error as Error).message}` : run.summary?.outcome}`;
      // The fault really met the step's request.
      expect(injected.hits(), `${context}: the fault never met the step's request`).toBeGreaterThan(0);
      const after = await world.state();
      expectI1I2(after, rows, previous, context);
      expectI5(run, after, context);
      if (run.error === undefined) expect(run.summary?.outcome).toBe('published');
      // A run that failed says what it left (the previous pair, or a CSV without a manifest).
      if (run.error !== undefined && previous && after.manifest?.run_id === previous.manifest.run_id) {
        expect(after.csv!.bytes.equals(previous.csv), `${context}: the previous manifest stands beside another CSV`).toBe(true);
      }

      world.clear();
      const rerun = await runInProcess(world, db, { sqlFile: sqlFiles[size], ifExists, env });
      const converged = await world.state();
      const rerunContext = `${context} → rerun: ${rerun.error ? `failed: ${(rerun.error as Error).message}` : rerun.summary?.outcome}`;
      if (rerun.error !== undefined) expect((rerun.error as Error).name, rerunContext).toBe('ReportAlreadyPublished');
      expectPublishedPair(converged, rows, rerunContext);
    } finally {
      await world.close();
    }
  }

  describe.concurrent.each(cases)('$world.name › $step.name › $fault › $prior › $size', (matrixCase) => {
    it('keeps I1, I2 and I5, and a rerun converges to a correct pair', () => keepsTheInvariants(matrixCase, 1), 120_000);
  });

  // The parallel path (REPORT_PARALLELISM=4: segments, spill, the ordered merge) hands the publisher
  // the same one body: a representative subset of the rows shows the invariants hold there too.
  describe.concurrent.each(parallelCases(worlds))('$world.name › $step.name › $fault › $prior › $size › parallel (N=4)', (matrixCase) => {
    it('keeps I1, I2 and I5, and a rerun converges to a correct pair', () => keepsTheInvariants(matrixCase, 4), 120_000);
  });
});
