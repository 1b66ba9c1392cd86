/**
 * `npm run bench`: the product's cost next to the physical limit, PostgreSQL's own
 * `COPY (query) TO STDOUT (FORMAT csv)` through psql, measured in one run on the same data.
 *
 *   npm run bench -- [--rows 1000000,5000000] [--runs 3] [--no-s3] [--huge-mb 16,64,256 | --huge-mb 0]
 *
 * For each size it builds the benchmark data set (the application schema, every transaction in
 * one report window, quoting-heavy names), then alternates the variants run after run so that
 * machine noise hits all of them alike, and prints median wall time, rows/s, MB/s, peak RSS (from
 * the OS via /usr/bin/time) and the ratio to the baseline measured in the same run. Then, for each
 * `--huge-mb` size, one row holding a single text field of that many MiB (quotes, a delimiter and a
 * newline in it) through both engines: MB/s should stay flat as the field grows (linear time).
 * Figures are also written as JSON under .cache/bench/.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { directS3Client } from '../support/s3-test-config.ts';
import { createDemoDatabase } from '../support/demo-database.ts';
import { startPostgres, type PostgresEndpoint } from '../support/postgres-server.ts';
import { ensureMoto, startMoto } from '../support/storage-servers.ts';

const REPORT_DATE = '2024-10-05';
const TIMEZONE = 'America/Sao_Paulo';
const WINDOW = { start: '2024-10-04T00:00:00.000-03:00', end: '2024-10-05T00:00:00.000-03:00' };
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const UPLOAD_STDIN = fileURLToPath(new URL('./upload-stdin.ts', import.meta.url));

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000,5000000' },
    runs: { type: 'string', default: '3' },
    's3': { type: 'boolean', default: true },
    'no-s3': { type: 'boolean', default: false },
    'huge-mb': { type: 'string', default: '16,64,256' },
  },
});
const sizes = args.rows!.split(',').map((n) => Number(n.replaceAll('_', ''))).filter((n) => n > 0);
const hugeSizes = args['huge-mb']!.split(',').map(Number).filter((n) => n > 0);
const runs = Number(args.runs);
const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

// Time what ships: the compiled CLI started as the image starts it, as an executable, so the V8
// flags in its #! line apply (not the type-stripped sources, not `node dist/main.js`).
const build = spawnSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' });
if (build.status !== 0) process.exit(1);
const CLI = join(ROOT, 'dist', 'main.js');
// The #! line finds `node` on PATH: this Node (24), not the machine's own.
const PATH = `${dirname(process.execPath)}${delimiter}${process.env.PATH}`;

for (const tool of ['psql', '/usr/bin/time']) {
  if (spawnSync(tool, ['--version']).error) {
    log(`${tool} is required (Debian: apt-get install postgresql-client time)`);
    process.exit(2);
  }
}

interface Measurement {
  readonly seconds: number;
  readonly peakRssMb: number;
  /** User + system CPU seconds of the measured process: steadier than wall time on a shared machine. */
  readonly cpuSeconds: number;
  /** Bytes stored (compressed, for a REPORT_COMPRESSION variant). */
  readonly bytes: number;
  /** A compressed variant: the CSV's bytes, from its manifest. */
  readonly uncompressedBytes?: number;
}
interface Variant {
  readonly name: string;
  /** What its ratio is taken against. */
  readonly baseline?: string;
  run(): Promise<Measurement>;
}

const postgres = await startPostgres(log);
const motoBin = args['no-s3'] ? undefined : ensureMoto(log);
const moto = typeof motoBin === 'string' ? await startMoto(motoBin) : undefined;
if (!args['no-s3'] && !moto) log('S3 variants skipped: moto_server unavailable');
const work = join(tmpdir(), `daily-report-bench-${randomBytes(4).toString('hex')}`);
mkdirSync(work, { recursive: true });
const results: Record<string, unknown>[] = [];

try {
  for (const rows of sizes) {
    const database = `bench_${rows}`;
    log(`creating ${rows.toLocaleString('en')} transactions in one report window…`);
    const started = performance.now();
    await createDemoDatabase(postgres.endpoint, database, { users: 100_000, transactions: rows, days: 1, until: `'${WINDOW.end}'::timestamptz` });
    log(`data ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const variants = await makeVariants(postgres.endpoint, database, rows);

    const samples = new Map<string, Measurement[]>(variants.map((v) => [v.name, []]));
    const failed = new Map<string, number>(variants.map((v) => [v.name, 0]));
    for (let run = 1; run <= runs; run++) {
      for (const variant of variants) {
        try {
          const measurement = await variant.run();
          samples.get(variant.name)!.push(measurement);
          log(`${rows} rows, run ${run}/${runs}, ${variant.name}: ${measurement.seconds.toFixed(2)} s, ${measurement.peakRssMb.toFixed(0)} MB RSS`);
        } catch (error) {
          // A failed run is reported, not hidden, and left out of the median.
          failed.set(variant.name, failed.get(variant.name)! + 1);
          log(`${rows} rows, run ${run}/${runs}, ${variant.name}: FAILED — ${(error as Error).message}`);
        }
      }
    }
    for (const variant of variants) {
      const list = samples.get(variant.name)!;
      const baseList = variant.baseline ? samples.get(variant.baseline)! : [];
      const m = list.length > 0 ? median(list) : undefined;
      const base = baseList.length > 0 ? median(baseList).seconds : undefined;
      results.push({
        rows,
        variant: variant.name,
        median_seconds: m ? round(m.seconds) : null,
        rows_per_second: m ? Math.round(rows / m.seconds) : null,
        // MB of CSV per second: a compressed variant produces the same CSV, whatever it stores.
        mb_per_second: m ? round((m.uncompressedBytes ?? m.bytes) / 1e6 / m.seconds) : null,
        peak_rss_mb: m ? Math.round(m.peakRssMb) : null,
        peak_rss_max_mb: m ? Math.round(m.peakRssMaxMb) : null,
        bytes: m?.bytes ?? null,
        uncompressed_bytes: m?.uncompressedBytes ?? null,
        cpu_seconds: list.length > 0 ? round(middle(list.map((l) => l.cpuSeconds))) : null,
        baseline: variant.baseline ?? null,
        ratio: m && base ? round(m.seconds / base) : null,
        runs: list.map((s) => round(s.seconds)),
        failed_runs: failed.get(variant.name),
      });
    }
  }
  if (hugeSizes.length > 0) results.push(...(await hugeFieldRuns(postgres.endpoint)));
} finally {
  await moto?.stop();
  await postgres.stop();
  rmSync(work, { recursive: true, force: true });
}

printTable(results);
printCompression(results);
printFlatness(results);
const outDir = join(ROOT, '.cache', 'bench');
mkdirSync(outDir, { recursive: true });
const outFile = join(outDir, `bench-${new Date().toISOString().replaceAll(':', '-')}.json`);
writeFileSync(outFile, JSON.stringify({ machine: { cores: (await import('node:os')).cpus().length, node: process.version }, runs, results }, null, 2));
log(`figures written to ${outFile}`);

/** One row with one field of each size, through both engines, to a local file: MB/s and peak RSS. */
async function hugeFieldRuns(pg: PostgresEndpoint): Promise<Record<string, unknown>[]> {
  const database = 'bench_huge';
  await createDemoDatabase(pg, database);
  const pgEnv = { PGHOST: pg.host, PGPORT: String(pg.port), PGUSER: pg.user, PGPASSWORD: pg.password, PGDATABASE: database };
  const unit = 'ab"c,\\nd!'; // doubled quote, delimiter, newline: the scanner's worst case
  const out: Record<string, unknown>[] = [];
  for (const mb of hugeSizes) {
    const sqlFile = join(work, `huge-${mb}.sql`);
    const psql = spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', `DROP TABLE IF EXISTS huge; CREATE TABLE huge AS SELECT 1 AS id, repeat(E'${unit}', ${(mb * 1024 * 1024) / 8}) AS nome, timestamptz '2024-10-04 12:00-03' AS at`], { env: { PATH, ...pgEnv }, encoding: 'utf8' });
    if (psql.status !== 0) throw new Error(`creating the ${mb} MiB field failed: ${psql.stderr}`);
    writeFileSync(sqlFile, `SELECT at AS data_extracao, nome AS nome_usuario, id AS id_transacao, 1 AS valor_transacao, 'ok' AS status_transacao FROM huge`);
    for (const engine of ['copy', 'cursor']) {
      const name = `one ${mb} MiB field, ${engine} engine → local`;
      const dir = join(work, `huge-${mb}-${engine}`);
      const list: Measurement[] = [];
      for (let run = 1; run <= runs; run++) {
        rmSync(dir, { recursive: true, force: true });
        const env = { ...pgEnv, REPORT_TIMEZONE: TIMEZONE, LOG_LEVEL: 'warn', REPORT_SQL_FILE: sqlFile, REPORT_ENGINE: engine, STORAGE_PROVIDER: 'local', LOCAL_STORAGE_DIR: dir };
        const measurement = timed([CLI, 'run', '--date', REPORT_DATE], env, () => statSync(join(dir, 'relatorio_20241005.csv')).size);
        list.push(measurement);
        log(`${name}, run ${run}/${runs}: ${measurement.seconds.toFixed(2)} s, ${measurement.peakRssMb.toFixed(0)} MB RSS`);
      }
      const m = median(list);
      out.push({
        rows: 1, variant: name, median_seconds: round(m.seconds), cpu_seconds: round(middle(list.map((l) => l.cpuSeconds))), rows_per_second: null, mb_per_second: round(m.bytes / 1e6 / m.seconds),
        peak_rss_mb: Math.round(m.peakRssMb), peak_rss_max_mb: Math.round(m.peakRssMaxMb), bytes: m.bytes, baseline: null, ratio: null,
        runs: list.map((s) => round(s.seconds)), failed_runs: 0,
      });
    }
  }
  return out;
}

async function makeVariants(pg: PostgresEndpoint, database: string, rows: number): Promise<Variant[]> {
  const pgEnv = { PGHOST: pg.host, PGPORT: String(pg.port), PGUSER: pg.user, PGPASSWORD: pg.password, PGDATABASE: database };
  const baseQuery = readFileSync(join(ROOT, 'sql', 'report.sql'), 'utf8')
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('--'))
    .join(' ')
    .replaceAll(':report_date', `'${REPORT_DATE}'`)
    .replaceAll(':window_start', `'${WINDOW.start}'`)
    .replaceAll(':window_end', `'${WINDOW.end}'`)
    .replaceAll(':extracted_at', `'${new Date().toISOString()}'`)
    .replace(/\s+/g, ' ')
    .trim();
  const localDir = join(work, `local-${rows}`);
  const psqlFile = join(work, `psql-${rows}.csv`);
  const product = (extra: Record<string, string>) => ({
    ...pgEnv,
    PGUSER: pg.user,
    REPORT_TIMEZONE: TIMEZONE,
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
    ...extra,
  });
  const variants: Variant[] = [
    {
      name: 'psql \\copy → local file',
      run: async () => timed(['psql', '-X', '-q', '-c', `\\copy (${baseQuery}) TO '${psqlFile}' WITH (FORMAT csv, HEADER)`], pgEnv, () => statSync(psqlFile).size),
    },
    {
      name: 'daily-report → local',
      baseline: 'psql \\copy → local file',
      run: async () => timed([CLI, 'run', '--date', REPORT_DATE], product({ STORAGE_PROVIDER: 'local', LOCAL_STORAGE_DIR: localDir }), () => statSync(join(localDir, 'relatorio_20241005.csv')).size),
    },
    // REPORT_COMPRESSION at N = 1, against the uncompressed run of the same run (docs/compression.md).
    ...(['gzip', 'zstd'] as const).map((compression) => compressedVariant(compression, 'daily-report → local', {})),
  ];
  if (moto) {
    const bucket = `bench-${rows}`;
    // moto was seen to hang on an upload now and then: a short storage timeout turns that into a
    // retry within the run (counted in its time) instead of a stalled benchmark.
    const s3Env = { AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench', S3_ENDPOINT: moto.url, S3_FORCE_PATH_STYLE: 'true', S3_BUCKET: bucket, STORAGE_REQUEST_TIMEOUT: '30s' };
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'bench', AWS_SECRET_ACCESS_KEY: 'bench' });
    const direct = directS3Client(moto.url);
    await direct.send(new CreateBucketCommand({ Bucket: bucket }));
    // Each S3 run is measured, then its object is read back for its size and deleted, so the
    // server holds one report at a time and no run pays for the previous ones' memory.
    const uploaded = async (key: string, measurement: Measurement): Promise<Measurement> => {
      const head = await direct.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      await direct.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      if (!/\.(gz|zst)$/.test(key)) return { ...measurement, bytes: head.ContentLength ?? 0 };
      const manifest = await direct.send(new GetObjectCommand({ Bucket: bucket, Key: `${key}.manifest.json` }));
      const { uncompressed_bytes } = JSON.parse(await manifest.Body!.transformToString()) as { uncompressed_bytes: number };
      return { ...measurement, bytes: head.ContentLength ?? 0, uncompressedBytes: uncompressed_bytes };
    };
    variants.push(
      {
        name: 'psql \\copy | S3 upload',
        baseline: 'psql \\copy → local file',
        run: () =>
          uploaded(
            'psql.csv',
            timed(['bash', '-o', 'pipefail', '-c', `psql -X -q -c "\\\\copy (${baseQuery.replaceAll('"', '\\"')}) TO STDOUT WITH (FORMAT csv, HEADER)" | "${process.execPath}" "${UPLOAD_STDIN}" ${bucket} psql.csv`], { ...pgEnv, ...s3Env }, () => 0),
          ),
      },
      {
        name: 'daily-report → S3',
        baseline: 'daily-report → local',
        run: () => uploaded('relatorio_20241005.csv', timed([CLI, 'run', '--date', REPORT_DATE], product({ STORAGE_PROVIDER: 's3', ...s3Env }), () => 0)),
      },
      ...(['gzip', 'zstd'] as const).map((compression): Variant => ({
        name: `daily-report → S3, ${compression}`,
        baseline: 'daily-report → S3',
        run: () =>
          uploaded(`relatorio_20241005.csv${compression === 'gzip' ? '.gz' : '.zst'}`, timed([CLI, 'run', '--date', REPORT_DATE], product({ STORAGE_PROVIDER: 's3', ...s3Env, REPORT_COMPRESSION: compression }), () => 0)),
      })),
    );
    variants.push(...parallelVariants('S3', 'psql \\copy | S3 upload', (extra) => uploaded('relatorio_20241005.csv', timed([CLI, 'run', '--date', REPORT_DATE], product({ STORAGE_PROVIDER: 's3', ...s3Env, ...extra }), () => 0))));
  }
  variants.push(...parallelVariants('local', 'psql \\copy → local file', async (extra) => timed([CLI, 'run', '--date', REPORT_DATE], product({ STORAGE_PROVIDER: 'local', LOCAL_STORAGE_DIR: localDir, ...extra }), () => statSync(join(localDir, 'relatorio_20241005.csv')).size)));
  // REPORT_COMPRESSION at N = 4, against the uncompressed N = 4 run (issue 18's goal: gzip at most 1.3× of it).
  variants.push(...(['gzip', 'zstd'] as const).map((compression) => compressedVariant(compression, 'daily-report N=4 → local', { REPORT_PARALLELISM: '4', REPORT_SPILL_DIR: join(work, 'spill') })));
  return variants;

  /** A compressed local run, its stored size, and the CSV's size from its manifest. */
  function compressedVariant(compression: 'gzip' | 'zstd', baseline: string, extra: Record<string, string>): Variant {
    const n = extra.REPORT_PARALLELISM;
    return {
      name: n ? `daily-report N=${n} → local, ${compression}` : `daily-report → local, ${compression}`,
      baseline,
      run: async () => {
        const key = `relatorio_20241005.csv${compression === 'gzip' ? '.gz' : '.zst'}`;
        const measurement = timed([CLI, 'run', '--date', REPORT_DATE], product({ STORAGE_PROVIDER: 'local', LOCAL_STORAGE_DIR: localDir, REPORT_COMPRESSION: compression, ...extra }), () => statSync(join(localDir, key)).size);
        const manifest = JSON.parse(readFileSync(join(localDir, `${key}.manifest.json`), 'utf8')) as { uncompressed_bytes: number };
        return { ...measurement, uncompressedBytes: manifest.uncompressed_bytes };
      },
    };
  }
}

/**
 * Issue 18, parallel extraction: the shipped sorted query at REPORT_PARALLELISM = 1, 2, 4, each
 * against psql's \copy of the whole window (the target: N = 2 or 4 at most 0.8× of it).
 */
function parallelVariants(where: string, baseline: string, run: (extra: Record<string, string>) => Promise<Measurement>): Variant[] {
  return [1, 2, 4].map((n) => ({ name: `daily-report N=${n} → ${where}`, baseline, run: () => run({ REPORT_PARALLELISM: String(n), REPORT_SPILL_DIR: join(work, 'spill') }) }));
}

/** Runs a command under /usr/bin/time; wall seconds and the peak RSS the OS saw (the largest process of the run). */
function timed(command: string[], env: Record<string, string>, bytes: () => number): Measurement {
  const result = spawnSync('/usr/bin/time', ['-f', '%e %M %U %S', ...command], { env: { PATH, ...env }, encoding: 'utf8', maxBuffer: 64 << 20 });
  const last = result.stderr.trim().split('\n').at(-1) ?? '';
  if (result.status !== 0) throw new Error(`${command.join(' ').slice(0, 200)} failed (${result.status}):\n${result.stderr.slice(-2000)}`);
  const [seconds, kb, user, system] = last.split(' ').map(Number);
  return { seconds: seconds!, peakRssMb: kb! / 1024, cpuSeconds: user! + system!, bytes: bytes() };
}

function middle(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}

/** The median run's time and bytes, and the median and the largest of the runs' peak RSS. */
function median(list: Measurement[]): Measurement & { peakRssMaxMb: number } {
  const middle = <T>(values: T[], by: (v: T) => number) => [...values].sort((a, b) => by(a) - by(b))[Math.floor(values.length / 2)]!;
  const run = middle(list, (m) => m.seconds);
  const rss = list.map((m) => m.peakRssMb);
  return { ...run, peakRssMb: middle(rss, (v) => v), peakRssMaxMb: Math.max(...rss), bytes: Math.max(...list.map((m) => m.bytes)) };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

function printTable(rows: Record<string, unknown>[]): void {
  const header = ['rows', 'variant', 'median s', 'rows/s', 'MB/s', 'peak RSS MB (median/max)', 'ratio', 'to', 'runs ok'];
  const shown = (value: unknown, format: (v: number) => string = String) => (value === null || value === undefined ? '—' : format(Number(value)));
  const lines = rows.map((r) => [
    Number(r.rows).toLocaleString('en'),
    String(r.variant),
    shown(r.median_seconds),
    shown(r.rows_per_second, (v) => v.toLocaleString('en')),
    shown(r.mb_per_second),
    r.peak_rss_mb === null ? '—' : `${r.peak_rss_mb} / ${r.peak_rss_max_mb}`,
    r.baseline === null ? (r.rows === 1 ? '—' : '1.00 (baseline)') : shown(r.ratio, (v) => `${v.toFixed(2)}×`),
    String(r.baseline ?? ''),
    `${(r.runs as number[]).length}/${(r.runs as number[]).length + Number(r.failed_runs)}`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const format = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  process.stdout.write(`\n${format(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${lines.map(format).join('\n')}\n`);
  process.stdout.write('median s: the median run; peak RSS (from /usr/bin/time): the median and the largest of the runs; ratio: median to median, same run.\n');
}

/** Per compressed variant: stored size against the CSV's, and CPU next to its uncompressed baseline. */
function printCompression(rows: Record<string, unknown>[]): void {
  for (const row of rows.filter((r) => r.uncompressed_bytes !== null && r.uncompressed_bytes !== undefined && r.bytes)) {
    const base = rows.find((r) => r.rows === row.rows && r.variant === row.baseline);
    const ratio = Number(row.uncompressed_bytes) / Number(row.bytes);
    process.stdout.write(
      `compression, ${row.variant} (${Number(row.rows).toLocaleString('en')} rows): ${(Number(row.bytes) / 1e6).toFixed(1)} MB stored for ${(Number(row.uncompressed_bytes) / 1e6).toFixed(1)} MB of CSV (${ratio.toFixed(2)}:1); ` +
        `${row.cpu_seconds} CPU s against ${base?.cpu_seconds ?? '—'} uncompressed; time ${row.ratio === null ? '—' : `${Number(row.ratio).toFixed(2)}×`} the uncompressed run\n`,
    );
  }
}

function printFlatness(rows: Record<string, unknown>[]): void {
  for (const engine of hugeSizes.length > 1 ? ['copy', 'cursor'] : []) {
    const found = hugeSizes.map((mb) => rows.find((r) => r.variant === `one ${mb} MiB field, ${engine} engine → local`));
    // The start-up (~0.4 s) weighs on small fields: the rate between two sizes is the field's own cost.
    const marginal = found.slice(1).map((r, i) => {
      const [a, b] = [found[i], r];
      if (!a || !b) return '—';
      const mb = (Number(b.bytes) - Number(a.bytes)) / 1e6;
      const rate = (key: string) => round(mb / (Number(b[key]) - Number(a[key])));
      return `${hugeSizes[i]}→${hugeSizes[i + 1]} MiB ${rate('median_seconds')} MB/s wall, ${rate('cpu_seconds')} MB per CPU-second`;
    });
    process.stdout.write(
      `one huge field, ${engine} engine: ${found.map((r, i) => `${hugeSizes[i]} MiB in ${r?.median_seconds ?? '—'} s (${r?.cpu_seconds ?? '—'} s CPU)`).join(', ')}; ` +
        `per extra MB: ${marginal.join('; ')} (the same rate at every size = linear time)\n`,
    );
  }
  if (sizes.length < 2) return;
  const [small, large] = [Math.min(...sizes), Math.max(...sizes)];
  for (const variant of new Set(rows.filter((r) => String(r.variant).startsWith('daily-report')).map((r) => r.variant))) {
    const row = (n: number) => rows.find((r) => r.rows === n && r.variant === variant)!;
    const [at, to] = [row(small), row(large)];
    if (at.peak_rss_mb === null || to.peak_rss_mb === null) continue;
    const growth = (Number(to.peak_rss_mb) / Number(at.peak_rss_mb) - 1) * 100;
    process.stdout.write(
      `memory flatness, ${variant}: median peak ${at.peak_rss_mb} MB at ${small.toLocaleString('en')} rows, ${to.peak_rss_mb} MB at ${large.toLocaleString('en')} rows ` +
        `(${growth >= 0 ? '+' : ''}${growth.toFixed(1)} %); largest ${at.peak_rss_max_mb} → ${to.peak_rss_max_mb} MB\n`,
    );
  }
}

// A variant without a single successful run has no figures: that is a failed benchmark.
if (!existsSync(outFile) || results.some((r) => r.median_seconds === null)) process.exitCode = 1;
