import { beforeAll, describe, expect, it } from 'vitest';
import { ExitCode, ReportAlreadyPublished, ReportIsBeingPublished, TransientFailure } from '../../src/errors.ts';
import { queryFile } from '../support/report-files.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { runInProcess, type InProcessRun } from '../support/publish-worlds.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';
import { newWorld, worldsOfThisRun } from './fault-matrix-cases.ts';
import { expectI1I2, expectPublishedPair } from './publish-invariants.ts';

/**
 * I3: for one report date, at most one run publishes at a time. Pairs of runs for the same date
 * started together, many times, per world (S3 on moto and on MinIO, Azure, local) and per
 * REPORT_IF_EXISTS mode, against the real servers (in this process: fast; and a few pairs of real
 * processes).
 */
const PAIRS = 20;
const ROWS = 300;
const worlds = worldsOfThisRun();

const published = (run: InProcessRun) => run.summary?.outcome === 'published';

/**
 * The loser lost the lock at its fence. On moto, whose conditional PutObject is not atomic, both
 * runs can create the lock in the same instant; the later write wins and the other run learns it at
 * its fence ("lost the lock … stopped before changing anything visible") — safe, worded differently.
 * A strict server (MinIO, Azurite, a hard link) lets only one create succeed: there the loser meets
 * the lock itself, always.
 */
const lostAtTheFence = (run: InProcessRun) => run.error instanceof TransientFailure && /^lost the lock /.test(run.error.message);

describe('concurrent runs for the same date', () => {
  let db: TestDatabase;
  let sqlFile: string;

  beforeAll(async () => {
    db = await createTestDatabase('concurrent');
    sqlFile = await queryFile(db.outDir, 'pairs', `SELECT :extracted_at::timestamptz AS data_extracao, 'n' || g AS nome_usuario, g AS id_transacao,
      g * 0.01 AS valor_transacao, 'ok' AS status_transacao FROM generate_series(1, ${ROWS}) AS g`);
  });

  describe.concurrent.each(worlds)('$name', (spec) => {
    it.each(['fail', 'skip'] as const)(`with REPORT_IF_EXISTS=%s, exactly one of two runs started together publishes, ${PAIRS} pairs out of ${PAIRS}`, async (ifExists) => {
      for (let pair = 0; pair < PAIRS; pair++) {
        const world = await newWorld(spec);
        try {
          const runs = await Promise.all([runInProcess(world, db, { sqlFile, ifExists }), runInProcess(world, db, { sqlFile, ifExists })]);
          const context = `${spec.name} ${ifExists} pair ${pair}: ${runs.map((r) => (r.error ? (r.error as Error).message : r.summary?.outcome)).join(' | ')}`;
          expect(runs.filter(published), context).toHaveLength(1);
          const loser = runs.find((r) => !published(r))!;
          // The other one either met the lock, or came after and found the report published.
          if (loser.error instanceof ReportIsBeingPublished) {
            expect(loser.error.exitCode).toBe(ExitCode.transient);
            expect(loser.error.message, context).toMatch(/^another run is publishing relatorio_20241005\.csv since \S+, run id [0-9a-f-]{36} on \S+; its lock expires at \S+$/);
          } else if (lostAtTheFence(loser)) {
            expect(spec.strict, `${context}: lost at the fence on a server that enforces If-None-Match atomically`).toBe(false);
          } else if (ifExists === 'fail') {
            expect(loser.error, context).toBeInstanceOf(ReportAlreadyPublished);
          } else {
            expect(loser.summary?.outcome, context).toBe('skipped');
          }
          const state = await world.state();
          expectPublishedPair(state, ROWS, context);
          expect(state.manifest!.run_id, context).toBe(runs.find(published)!.runId);
        } finally {
          await world.close();
        }
      }
    }, 180_000);

    it(`with REPORT_IF_EXISTS=overwrite, the final pair always matches, ${PAIRS} pairs out of ${PAIRS}`, async () => {
      for (let pair = 0; pair < PAIRS; pair++) {
        const world = await newWorld(spec);
        try {
          // Over an existing report: both runs want to replace it.
          expect((await runInProcess(world, db, { sqlFile, ifExists: 'overwrite' })).error).toBeUndefined();
          const runs = await Promise.all([runInProcess(world, db, { sqlFile, ifExists: 'overwrite' }), runInProcess(world, db, { sqlFile, ifExists: 'overwrite' })]);
          const context = `${spec.name} overwrite pair ${pair}: ${runs.map((r) => (r.error ? (r.error as Error).message : r.summary?.outcome)).join(' | ')}`;
          expect(runs.filter(published).length, context).toBeGreaterThanOrEqual(1);
          for (const run of runs.filter((r) => !published(r))) {
            if (spec.strict) expect(run.error, context).toBeInstanceOf(ReportIsBeingPublished);
            else expect(run.error instanceof ReportIsBeingPublished || lostAtTheFence(run), context).toBe(true);
          }
          const state = await world.state();
          expectPublishedPair(state, ROWS, context);
          expectI1I2(state, ROWS, undefined, context);
          expect(runs.filter(published).map((r) => r.runId), context).toContain(state.manifest!.run_id);
        } finally {
          await world.close();
        }
      }
    }, 180_000);

    it('two daily-report processes started together: one publishes (exit 0), the other exits 1 or 5 naming the holder', async () => {
      for (let pair = 0; pair < 2; pair++) {
        const world = await newWorld(spec);
        try {
          const env = { ...db.env, ...world.childEnv(), REPORT_SQL_FILE: sqlFile, REPORT_IF_EXISTS: 'fail' };
          const results = await Promise.all([runDailyReport(['run', '--date', '2024-10-05'], { env }), runDailyReport(['run', '--date', '2024-10-05'], { env })]);
          const codes = results.map((r) => r.code).sort();
          expect(codes[0], results.map((r) => r.stderr).join('\n')).toBe(0);
          expect([1, 5], results.map((r) => r.stderr.slice(-1500)).join('\n')).toContain(codes[1]);
          const loser = results.find((r) => r.code !== 0)!;
          const error = loser.logs.find((l) => l.level === 'error')!;
          expect(error.err.class).toMatch(/^(ReportIsBeingPublished|ReportAlreadyPublished)$/);
          expectPublishedPair(await world.state(), ROWS, `${spec.name} processes pair ${pair}`);
        } finally {
          await world.close();
        }
      }
    }, 120_000);
  });
});
