/**
 * How REPORT_COMPRESSION's levels were chosen (docs/compression.md, "Levels"): the shipped query's
 * CSV over the bench data set, compressed whole at each gzip and zstd level with Node's zlib, the
 * size and the time of one pass (after a warm-up pass) on this machine.
 *
 *   npm exec -- node test/bench/compression-levels.ts [--rows 1000000]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { constants, gzipSync, zstdCompressSync } from 'node:zlib';
import { createDemoDatabase } from '../support/demo-database.ts';
import { startPostgres } from '../support/postgres-server.ts';

const { values: args } = parseArgs({ options: { rows: { type: 'string', default: '1000000' } } });
const rows = Number(args.rows);
const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'daily-report-levels-'));
const out = join(work, 'report.csv');

const postgres = await startPostgres((line) => process.stderr.write(`${line}\n`));
try {
  // The bench's data set: every transaction in the window of 2024-10-05 in São Paulo.
  await createDemoDatabase(postgres.endpoint, 'levels', { users: 100_000, transactions: rows, days: 1, until: "'2024-10-05T00:00:00.000-03:00'::timestamptz" });
  const { host, port, user, password } = postgres.endpoint;
  const env = { ...process.env, PGHOST: host, PGPORT: String(port), PGUSER: user, PGPASSWORD: password, PGDATABASE: 'levels', REPORT_TIMEZONE: 'America/Sao_Paulo', LOG_LEVEL: 'warn' };
  const run = spawnSync(process.execPath, [MAIN, 'run', '--date', '2024-10-05', '--dry-run', '--out', out], { env, stdio: 'inherit' });
  if (run.status !== 0) throw new Error(`the dry run failed (${run.status})`);

  const csv = readFileSync(out);
  process.stdout.write(`the shipped query's CSV, ${rows.toLocaleString('en')} rows: ${csv.length.toLocaleString('en')} bytes\n\nformat level  bytes        ratio   ms     MB/s\n`);
  const measure = (name: string, compress: () => Buffer) => {
    compress();
    const started = performance.now();
    const size = compress().length;
    const ms = performance.now() - started;
    process.stdout.write(`${name.padEnd(12)} ${String(size).padEnd(12)} ${(csv.length / size).toFixed(2).padEnd(7)} ${ms.toFixed(0).padEnd(6)} ${(csv.length / 1e6 / (ms / 1000)).toFixed(0)}\n`);
  };
  for (const level of [1, 3, 6, 9]) measure(`gzip ${level}`, () => gzipSync(csv, { level }));
  for (const level of [1, 2, 3, 5, 7, 9, 12, 19]) {
    measure(`zstd ${level}`, () => zstdCompressSync(csv, { params: { [constants.ZSTD_c_compressionLevel]: level, [constants.ZSTD_c_checksumFlag]: 1 } }));
  }
} finally {
  await postgres.stop();
  rmSync(work, { recursive: true, force: true });
}
