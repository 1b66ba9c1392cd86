import { beforeAll, describe, expect, inject, it } from 'vitest';
import { ExitCode, ReportAlreadyPublished, ReportIsBeingPublished, TransientFailure } from '../../src/errors.ts';
import type { ProviderName } from '../../src/publish/publish-steps.ts';
import { queryFile } from '../support/report-files.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { azureWorld, localWorld, runInProcess, s3World, type InProcessRun, type World } from '../support/publish-worlds.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';
import { expectI1I2, expectPublishedPair } from './publish-invariants.ts';

/**
 * I3: for one report date, at most one run publishes at a time. Pairs of runs for the same date
 * started together, many times, per provider and per REPORT_IF_EXISTS mode, against the real
 * servers (in this process: fast; and a few pairs of real processes).
 */
const PAIRS = 20;
const ROWS = 300;
const s3 = inject('s3');
const azurite = inject('azurite');
const providers = (['s3', 'azure', 'local'] as const).filter((p) => p !== 's3' || 'url' in s3);

async function newWorld(provider: ProviderName): Promise<World> {
  if (provider === 's3') return s3World((s3 as { url: string }).url);
  if (provider === 'azure') return azureWorld(azurite);
  return localWorld();
}

const published = (run: InProcessRun) => run.summary?.outcome === 'published';

/**
 * The loser met the lock. On moto, whose conditional PutObject is not atomic, both runs can create
 * the lock in the same instant; the later write wins and the other run learns it at its fence
 * ("lost the lock … stopped before changing anything visible") — the safe outcome, worded differently.
 */
const metTheLock = (run: InProcessRun) =>
  run.error instanceof ReportIsBeingPublished || (run.error instanceof TransientFailure && /^lost the lock /.test(run.error.message));

describe('concurrent runs for the same date', () => {
  let db: TestDatabase;
  let sqlFile: string;

  beforeAll(async () => {
    db = await createTestDatabase('concurrent');
    sqlFile = await queryFile(db.outDir, 'pairs', `SELECT :extracted_at::timestamptz AS data_extracao, 'n' || g AS nome_usuario, g AS id_transacao,
      g * 0.01 AS valor_transacao, 'ok' AS status_transacao FROM generate_series(1, ${ROWS}) AS g`);
  });

  describe.concurrent.each(providers)('%s', (provider) => {
    it.each(['fail', 'skip'] as const)(`with REPORT_IF_EXISTS=%s, exactly one of two runs started together publishes, ${PAIRS} pairs out of ${PAIRS}`, async (ifExists) => {
      for (let pair = 0; pair < PAIRS; pair++) {
        const world = await newWorld(provider);
        try {
          const runs = await Promise.all([runInProcess(world, db, { sqlFile, ifExists }), runInProcess(world, db, { sqlFile, ifExists })]);
          const context = `${provider} ${ifExists} pair ${pair}: ${runs.map((r) => (r.error ? (r.error as Error).message : r.summary?.outcome)).join(' | ')}`;
          expect(runs.filter(published), context).toHaveLength(1);
          const loser = runs.find((r) => !published(r))!;
          // The other one either met the lock, or came after and found the report published.
          if (loser.error instanceof ReportIsBeingPublished) {
            expect(loser.error.exitCode).toBe(ExitCode.transient);
            expect(loser.error.message, context).toMatch(/^another run is publishing relatorio_20241005\.csv since \S+, run id [0-9a-f-]{36} on \S+; its lock expires at \S+$/);
          } else if (metTheLock(loser)) {
            expect(provider, context).toBe('s3');
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
        const world = await newWorld(provider);
        try {
          // Over an existing report: both runs want to replace it.
          expect((await runInProcess(world, db, { sqlFile, ifExists: 'overwrite' })).error).toBeUndefined();
          const runs = await Promise.all([runInProcess(world, db, { sqlFile, ifExists: 'overwrite' }), runInProcess(world, db, { sqlFile, ifExists: 'overwrite' })]);
          const context = `${provider} overwrite pair ${pair}: ${runs.map((r) => (r.error ? (r.error as Error).message : r.summary?.outcome)).join(' | ')}`;
          expect(runs.filter(published).length, context).toBeGreaterThanOrEqual(1);
          for (const run of runs.filter((r) => !published(r))) expect(metTheLock(run), context).toBe(true);
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
        const world = await newWorld(provider);
        try {
          const env = { ...db.env, ...world.childEnv(), REPORT_SQL_FILE: sqlFile, REPORT_IF_EXISTS: 'fail' };
          const results = await Promise.all([runDailyReport(['run', '--date', '2024-10-05'], { env }), runDailyReport(['run', '--date', '2024-10-05'], { env })]);
          const codes = results.map((r) => r.code).sort();
          expect(codes[0], results.map((r) => r.stderr).join('\n')).toBe(0);
          expect([1, 5]).toContain(codes[1]);
          const loser = results.find((r) => r.code !== 0)!;
          const error = loser.logs.find((l) => l.level === 'error')!;
          expect(error.err.class).toMatch(/^(ReportIsBeingPublished|ReportAlreadyPublished)$/);
          expectPublishedPair(await world.state(), ROWS, `${provider} processes pair ${pair}`);
        } finally {
          await world.close();
        }
      }
    }, 120_000);
  });
});
