import { readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it, onTestFinished } from 'vitest';
import { queryFile, summaryOf } from '../support/report-files.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { createTestDatabase } from '../support/test-database.ts';

const ROWS = 5_000_000;
const MI = 1024 * 1024;

describe('a very large day', () => {
  it(`publishes ${ROWS.toLocaleString('en')} rows with a peak RSS under the chart's default memory limit`, async () => {
    const values = parse(readFileSync(resolve(import.meta.dirname, '../../charts/daily-report/values.yaml'), 'utf8'));
    const limit = Number(/^(\d+)Mi$/.exec(values.resources.limits.memory)![1]) * MI;
    const db = await createTestDatabase('large');
    // 400 MB of report: not kept for the rest of the run.
    onTestFinished(() => rmSync(db.outDir, { recursive: true, force: true }));
    // The report's shape (a timestamp, text, bigint, numeric, text) without loading 5M rows into a table first.
    const sqlFile = await queryFile(db.outDir, 'large', `SELECT :extracted_at::timestamptz AS data_extracao, 'Usuário número ' || g AS nome_usuario,
      g::bigint AS id_transacao, (g % 100000) * 0.01 AS valor_transacao, CASE WHEN g % 7 = 0 THEN 'recusada' ELSE 'aprovada' END AS status_transacao
      FROM generate_series(1, ${ROWS}) AS g`);
    const rssFile = join(db.outDir, 'max-rss');
    const result = await runDailyReport(['run', '--date', '2024-10-05'], {
      env: { ...db.env, REPORT_SQL_FILE: sqlFile, MAX_RSS_FILE: rssFile },
      nodeOptions: ['--import', resolve(import.meta.dirname, '../support/max-rss.ts')],
    });
    expect(result.code, result.stderr.slice(-2000)).toBe(0);
    expect(summaryOf(result).rows).toBe(ROWS);
    const peak = Number(readFileSync(rssFile, 'utf8'));
    process.stderr.write(`[large day] ${ROWS} rows, ${(summaryOf(result).bytes / MI).toFixed(0)} MiB of CSV, peak RSS ${(peak / MI).toFixed(0)} MiB (limit ${limit / MI} MiB)\n`);
    expect(peak).toBeGreaterThan(20 * MI);
    expect(peak).toBeLessThan(limit);
  }, 600_000);
});
