import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runDailyReport } from '../support/run-cli.ts';
import { createTestDatabase } from '../support/test-database.ts';

describe('two parallel runs of one date at once', () => {
  it('publish one complete report with a manifest that matches it, and leave no spill file or temporary behind', async () => {
    const db = await createTestDatabase('concurrent', { users: 200, transactions: 40_000, days: 1, until: "'2024-10-05 00:00:00-03'::timestamptz" });
    const spill = join(db.outDir, '..', `spill-${Math.random().toString(36).slice(2)}`);
    const env = { ...db.env, REPORT_PARALLELISM: '4', REPORT_SPILL_DIR: spill, REPORT_COMPRESSION: 'gzip' };
    const [a, b] = await Promise.all([runDailyReport(['run', '--date', '2024-10-05'], { env }), runDailyReport(['run', '--date', '2024-10-05'], { env })]);
    const codes = [a.code, b.code].sort();
    expect(codes[0], a.stderr.slice(-1500) + b.stderr.slice(-1500)).toBe(0);
    const files = (await readdir(db.outDir)).sort();
    expect(files.filter((f) => !f.startsWith('.'))).toEqual(['relatorio_20241005.csv.gz', 'relatorio_20241005.csv.gz.manifest.json']);
    const manifest = JSON.parse(await readFile(join(db.outDir, 'relatorio_20241005.csv.gz.manifest.json'), 'utf8'));
    const stored = await readFile(join(db.outDir, 'relatorio_20241005.csv.gz'));
    expect(manifest.bytes).toBe(stored.length);
    expect(await readdir(spill)).toEqual([]);
  });
});
