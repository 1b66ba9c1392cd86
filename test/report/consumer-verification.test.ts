import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runDailyReport } from '../support/run-cli.ts';
import { createTestDatabase } from '../support/test-database.ts';

const doc = readFileSync(new URL('../../docs/s3-compatible.md', import.meta.url), 'utf8');
// The consumers' check, exactly as docs/s3-compatible.md prints it.
const check = doc.split('\n').find((line) => line.includes('| sha256sum -c -'))!;

it('the documented sha256sum line accepts a published report against its manifest, and rejects it once a byte changed', async () => {
  expect(check).toMatch(/^echo "\$\(jq -r \.sha256 relatorio_20241005\.csv\.manifest\.json\)  relatorio_20241005\.csv" \| sha256sum -c -$/);
  const db = await createTestDatabase('consumer_check');
  const run = await runDailyReport(['run', '--date', '2024-10-05'], { env: db.env });
  expect(run.code, run.stderr).toBe(0);
  expect(execFileSync('bash', ['-c', check], { cwd: db.outDir, encoding: 'utf8' })).toBe('relatorio_20241005.csv: OK\n');

  const report = join(db.outDir, 'relatorio_20241005.csv');
  const bytes = readFileSync(report);
  bytes[bytes.length - 3]! ^= 1;
  writeFileSync(report, bytes);
  const tampered = spawnSync('bash', ['-c', check], { cwd: db.outDir, encoding: 'utf8' });
  expect(tampered.status).toBe(1);
  expect(tampered.stdout).toBe('relatorio_20241005.csv: FAILED\n');
});
