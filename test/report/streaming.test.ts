import { createHash } from 'node:crypto';
import { createReadStream, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { queryFile, summaryOf } from '../support/report-files.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { createTestDatabase } from '../support/test-database.ts';

const ROWS = 1_000_000;

describe('daily-report run on a large day', () => {
  it(`streams ${ROWS.toLocaleString('en')} rows (~80 MB of CSV) through a 48 MB heap: nothing holds the whole result`, async () => {
    const db = await createTestDatabase('stream');
    onTestFinished(() => rmSync(db.outDir, { recursive: true, force: true }));
    const sqlFile = await queryFile(db.outDir, 'million', `
      SELECT :extracted_at::timestamptz AS data_extracao,
             'Usuário "' || g || '", com vírgula' AS nome_usuario,
             g::bigint * 1000003 AS id_transacao,
             (g % 100000) / 100.0 - 500 AS valor_transacao,
             (ARRAY['aprovada','pendente','recusada'])[1 + g % 3] AS status_transacao
      FROM generate_series(1, ${ROWS}) AS g`);

    const result = await runDailyReport(['run', '--date', '2024-10-05'], {
      env: { ...db.env, REPORT_SQL_FILE: sqlFile },
      // The CSV is larger than this heap: buffering it (or the rows) would crash with "heap out of memory".
      nodeOptions: ['--max-old-space-size=48'],
    });
    expect(result.code, result.stderr.slice(-2000)).toBe(0);

    // Count records and hash the file as a stream too.
    const hash = createHash('sha256');
    let lines = 0;
    for await (const chunk of createReadStream(join(db.outDir, 'relatorio_20241005.csv')) as AsyncIterable<Buffer>) {
      hash.update(chunk);
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
    }
    expect(lines).toBe(ROWS + 1);
    const summary = summaryOf(result);
    expect(summary.rows).toBe(ROWS);
    expect(summary.sha256).toBe(hash.digest('hex'));
  });
});
