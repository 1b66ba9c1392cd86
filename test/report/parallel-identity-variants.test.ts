import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SQL_FILE } from '../../src/report/report-settings.ts';
import { newWorld } from '../publish/fault-matrix-cases.ts';
import { KEYS, runInProcess, type World } from '../support/publish-worlds.ts';
import { createTestDatabase, sql, type TestDatabase } from '../support/test-database.ts';

const NOW = () => new Date('2024-10-05T07:00:00Z');

describe('byte identity of N > 1 and N = 1 beyond the shipped settings', () => {
  let db: TestDatabase;
  let world: World;
  beforeAll(async () => {
    db = await createTestDatabase('identity', { users: 60, transactions: 5_000, days: 1, until: "'2024-10-05T00:00:00-03:00'::timestamptz" });
    // Many rows on one instant, which the percentiles will pick as a boundary.
    await sql(db, "UPDATE transacoes SET criado_em = '2024-10-04T12:00:00-03:00' WHERE id % 3 = 0 AND criado_em >= '2024-10-04T00:00:00-03:00'");
    world = await newWorld({ name: 'local', provider: 'local', strict: true });
  });
  afterAll(async () => world?.close());

  async function report(env: Record<string, string>, sqlFile = DEFAULT_SQL_FILE): Promise<Buffer> {
    const run = await runInProcess(world, db, { sqlFile, ifExists: 'overwrite', now: NOW, env });
    expect(run.error).toBeUndefined();
    return (await world.state()).csv!.bytes;
  }

  it.each([
    ['a BOM and ";"', { CSV_BOM: 'true', CSV_DELIMITER: ';' }],
    ['the cursor engine with tiny fetches', { REPORT_ENGINE: 'cursor', REPORT_FETCH_ROWS: '7' }],
    ['UTC', { REPORT_TIMEZONE: 'UTC' }],
  ])('with %s, N = 3 and N = 16 publish N = 1\'s bytes', async (_, env) => {
    const single = await report(env);
    for (const n of ['3', '16']) expect((await report({ ...env, REPORT_PARALLELISM: n })).equals(single), `N = ${n}`).toBe(true);
  });

  it('with an ORDER BY on the window column only (ties broken by nothing), N = 4 holds the same rows', async () => {
    const file = join(db.outDir, '..', `q-${Math.random().toString(36).slice(2)}.sql`);
    await writeFile(file, `SELECT :extracted_at AS data_extracao, u.nome AS nome_usuario, t.id AS id_transacao, t.valor AS valor_transacao, t.status AS status_transacao
FROM transacoes t JOIN usuarios u ON u.id = t.usuario_id
WHERE t.criado_em >= :window_start AND t.criado_em < :window_end ORDER BY t.criado_em`);
    const lines = (b: Buffer) => b.toString('utf8').split('\n').sort();
    const single = await report({}, file);
    expect(lines(await report({ REPORT_PARALLELISM: '4' }, file))).toEqual(lines(single));
  });
});
