import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { windowedReportQuery } from '../publish/fault-matrix-cases.ts';
import { COMPLETE, only, renderChart, workerContainer } from '../support/helm-chart.ts';
import { queryFile, summaryOf } from '../support/report-files.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { createTestDatabase } from '../support/test-database.ts';

const ROWS = 300_000;
const MI = 1024 * 1024;

/** The node flags and environment of src/main.ts's #! line: how the image starts the job. */
function shebang(): { flags: string[]; env: Record<string, string> } {
  const words = readFileSync(resolve(import.meta.dirname, '../../src/main.ts'), 'utf8').split('\n')[0]!.replace(/^#!\/usr\/bin\/env -S /, '').split(/\s+/);
  const node = words.indexOf('node');
  return { env: Object.fromEntries(words.slice(0, node).map((w) => w.split('=') as [string, string])), flags: words.slice(node + 1) };
}

describe('a parallel run', () => {
  it(`at REPORT_PARALLELISM=4 peaks under the memory the chart requests for it (${ROWS.toLocaleString('en')} rows, the query parsed for splitting)`, async () => {
    const container = workerContainer(only((await renderChart(inject('kubeTools').helm, [...COMPLETE, '--set', 'parallelism=4'])).objects, 'CronJob'));
    const request = Number(/^(\d+)Mi$/.exec(container.resources.requests.memory)![1]) * MI;
    const db = await createTestDatabase('parmem');
    const sqlFile = await queryFile(db.outDir, 'windowed', windowedReportQuery(ROWS, 20));
    const rssFile = join(db.outDir, 'peak-rss');
    const { flags, env } = shebang();
    const result = await runDailyReport(['run', '--date', '2024-10-05'], {
      env: { ...db.env, ...env, REPORT_SQL_FILE: sqlFile, REPORT_PARALLELISM: '4', REPORT_SPILL_DIR: join(db.outDir, 'spill'), PEAK_RSS_FILE: rssFile },
      nodeOptions: [...flags, '--import', resolve(import.meta.dirname, '../support/peak-rss.ts')],
    });
    expect(result.code, result.stderr.slice(-2000)).toBe(0);
    expect(summaryOf(result).rows).toBe(ROWS);
    const peak = Number(readFileSync(rssFile, 'utf8'));
    process.stderr.write(`[parallel memory] ${ROWS} rows at N=4, peak RSS ${(peak / MI).toFixed(0)} MiB (the chart requests ${request / MI} MiB)\n`);
    expect(peak).toBeGreaterThan(20 * MI);
    expect(peak).toBeLessThan(request);
  }, 300_000);
});
