import { beforeAll, describe, expect, it } from 'vitest';
import { queryFile } from '../support/report-files.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';
import { newWorld, worldsOfThisRun } from './fault-matrix-cases.ts';

/**
 * slow-query.test.ts, for the other ways a report is read: zstd (one frame over the whole report),
 * the cursor engine, and REPORT_PARALLELISM=2 with every shard slower than the stall timeout (4 s
 * here) to its first row — so the upload also waits for the database mid-stream, after parts went.
 */
const DAY = { users: 50, transactions: 3_000, days: 1, until: "'2024-10-05 00:00:00-03'::timestamptz" };

describe('a query slower to give rows than the upload’s stall timeout, read other ways', () => {
  let db: TestDatabase;
  let sqlFile: string;
  beforeAll(async () => {
    db = await createTestDatabase('slowvariants', DAY);
    sqlFile = await queryFile(db.outDir, 'slow', `SELECT :extracted_at::timestamptz AS data_extracao, u.nome AS nome_usuario, t.id AS id_transacao,
      t.valor AS valor_transacao, t.status AS status_transacao
      FROM transacoes AS t JOIN usuarios AS u ON u.id = t.usuario_id CROSS JOIN (SELECT pg_sleep(6)) AS sorting
      WHERE t.criado_em >= :window_start::timestamptz AND t.criado_em < :window_end::timestamptz ORDER BY t.criado_em, t.id`);
  });

  const variants = [
    { name: 'zstd', env: { REPORT_COMPRESSION: 'zstd' } },
    { name: 'the cursor engine', env: { REPORT_ENGINE: 'cursor', REPORT_FETCH_ROWS: '100' } },
    { name: 'REPORT_PARALLELISM=2, gzip', env: { REPORT_PARALLELISM: '2', REPORT_COMPRESSION: 'gzip' } },
  ];
  const cases = worldsOfThisRun()
    .filter((world) => world.provider !== 'local')
    .flatMap((world) => variants.map((variant) => ({ world, variant })));
  describe.concurrent.each(cases)('on $world.name, $variant.name', ({ world: spec, variant }) => {
    it('is published: the time the database takes is not the upload’s stall', async () => {
      const world = await newWorld(spec);
      try {
        const run = await runDailyReport(['run', '--date', '2024-10-05'], { env: { ...db.env, ...world.childEnv(), REPORT_SQL_FILE: sqlFile, ...variant.env } });
        expect(run.code, JSON.stringify(run.logs.filter((line) => line.level === 'error'))).toBe(0);
        const summary = run.logs.find((line) => line.phase === 'summary');
        expect(summary?.rows).toBeGreaterThan(0);
        expect(summary?.outcome).toBe('published');
        const state = await world.state();
        const key = `relatorio_20241005.csv${variant.env.REPORT_COMPRESSION === 'zstd' ? '.zst' : variant.env.REPORT_COMPRESSION === 'gzip' ? '.gz' : ''}`;
        // The world's back door names the plain key's objects; a compressed report's are among the others.
        if (key === 'relatorio_20241005.csv') expect(state.manifest?.run_id).toBe(summary?.run_id);
        else expect([...state.others].sort()).toEqual([key, `${key}.manifest.json`]);
        expect(state.lock, 'no lock left').toBeUndefined();
      } finally {
        await world.close();
      }
    }, 120_000);
  });
});
