import { mkdtemp, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SQL_FILE } from '../../src/report/report-settings.ts';
import { queryFile } from '../support/report-files.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';

/**
 * A run killed with SIGKILL (or by the OOM killer) cannot remove its spill files: report rows, in
 * REPORT_SPILL_DIR — TMPDIR by default, which outside Kubernetes' emptyDir nobody else cleans. The
 * next parallel run removes those nobody can still be using.
 */
describe('spill files a killed run left', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('spill_left', { users: 200, transactions: 40_000, days: 1, until: "'2024-10-05T00:00:00-03:00'::timestamptz" });
  });

  it('are removed by the next parallel run once older than REPORT_STATEMENT_TIMEOUT (and nothing else is)', async () => {
    const spill = await mkdtemp(join(tmpdir(), 'spill-left-'));
    // The first hours are slow (a sleep per row): the later segments finish first and wait on disk.
    const slow = await queryFile(db.outDir, 'slow', (await readFile(DEFAULT_SQL_FILE, 'utf8')).replace('ORDER BY', "AND (t.criado_em::time >= '03:00' OR pg_sleep(0.02) IS NOT NULL) ORDER BY"));
    const env = { ...db.env, REPORT_PARALLELISM: '4', REPORT_SPILL_DIR: spill, REPORT_STATEMENT_TIMEOUT: '1h' };
    const killed = await runDailyReport(['run', '--date', '2024-10-05'], {
      env: { ...env, REPORT_SQL_FILE: slow },
      onSpawn: (child) => {
        const watch = setInterval(async () => {
          if ((await readdir(spill)).some((name) => name.endsWith('.spill'))) {
            clearInterval(watch);
            child.kill('SIGKILL');
          }
        }, 20);
        child.once('exit', () => clearInterval(watch));
      },
    });
    expect(killed.signal, killed.stderr.slice(-1000)).toBe('SIGKILL');
    const left = (await readdir(spill)).filter((name) => name.endsWith('.spill'));
    expect(left.length).toBeGreaterThan(0);

    // Two hours on (their mtime set back), beside a live run's fresh file and a file that is not ours.
    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
    for (const name of left) await utimes(join(spill, name), twoHoursAgo, twoHoursAgo);
    const fresh = 'daily-report-0f0e0d0c-0b0a-4908-8706-050403020100-3-00112233aabb.spill';
    const notOurs = 'notes.spill';
    await writeFile(join(spill, fresh), 'x');
    await writeFile(join(spill, notOurs), 'x');
    await utimes(join(spill, notOurs), twoHoursAgo, twoHoursAgo);

    // (Its report's lock, which the killed run left too, is not this test's subject: another folder.)
    const next = await runDailyReport(['run', '--date', '2024-10-05'], { env: { ...env, REPORT_SQL_FILE: DEFAULT_SQL_FILE, LOCAL_STORAGE_DIR: await mkdtemp(join(tmpdir(), 'spill-left-out-')) } });
    expect(next.code, next.stderr.slice(-1500)).toBe(0);
    expect((await readdir(spill)).sort()).toEqual([fresh, notOurs].sort());
  }, 120_000);
});
