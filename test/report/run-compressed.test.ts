import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { BlobServiceClient } from '@azure/storage-blob';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { s3Servers } from '../support/s3-servers.ts';
import { directS3Client } from '../support/s3-test-config.ts';
import { S3_TEST_CREDENTIALS, type S3TestServer } from '../support/storage-servers.ts';
import { DECODERS, decompressWith } from '../support/decompress-tools.ts';
import { expectRefusedBeforeAnyIo } from '../support/refused-run.ts';
import { errorOf, expectNoSecrets, filesIn, queryFile, summaryOf } from '../support/report-files.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';

const azurite = inject('azurite');
const REPORT_DATE = '2024-10-05';
const KEY = 'relatorio_20241005.csv';
const ROWS = 60_000;

/**
 * A fixed extraction instant, so every run of this setup writes the same CSV (:extracted_at would
 * differ per run), and names of hex digits that compress only about 2:1, so a compressed report is
 * still several S3 parts (5 MiB) and Azure blocks (1 MiB): about 18 MB of CSV, 8 MB compressed.
 */
const FIXED_ROWS = `
SELECT '2024-10-05T08:00:00-03:00'::timestamptz AS data_extracao,
       'Usuário "' || g || '", ' || (SELECT string_agg(md5(g || salt), '') FROM unnest(ARRAY['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']) salt) AS nome_usuario,
       g::bigint * 1000003 AS id_transacao, (g % 10000) / 100.0 - 50 AS valor_transacao, 'aprovada' AS status_transacao
FROM generate_series(1, ${ROWS}) g`;

interface Stored {
  readonly bytes: Buffer;
  /** What the service stores as the object's type and encoding (undefined locally). */
  readonly contentType: string | undefined;
  readonly contentEncoding: string | undefined;
  /** S3: how many parts the object was uploaded in (from its ETag's -N), 1 for a single PutObject. */
  readonly parts?: number;
}

interface Target {
  readonly env: Record<string, string>;
  read(key: string): Promise<Stored>;
  keys(): Promise<string[]>;
}

interface Provider {
  readonly name: string;
  readonly available: string | true;
  setup(): Promise<Target>;
}

const providers: Provider[] = [
  {
    name: 'local',
    available: true,
    async setup() {
      const dir = await mkdtemp(join(tmpdir(), 'daily-report-compressed-'));
      return {
        env: { STORAGE_PROVIDER: 'local', LOCAL_STORAGE_DIR: dir },
        read: async (key) => ({ bytes: await readFile(join(dir, key)), contentType: undefined, contentEncoding: undefined }),
        keys: () => filesIn(dir),
      };
    },
  },
  ...s3Servers().map((s3Server: S3TestServer): Provider => ({
    name: `s3 on ${s3Server.name}`,
    available: 'url' in s3Server ? true : s3Server.skipped,
    async setup() {
      const url = (s3Server as { url: string }).url;
      const bucket = `gz-${randomBytes(5).toString('hex')}`;
      const client = directS3Client(url);
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      return {
        env: { STORAGE_PROVIDER: 's3', S3_BUCKET: bucket, S3_PREFIX: 'relatorios', S3_ENDPOINT: url, AWS_REGION: 'us-east-1', ...S3_TEST_CREDENTIALS, S3_PART_SIZE_MB: '5' },
        read: async (key) => {
          const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: `relatorios/${key}` }));
          const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: `relatorios/${key}` }));
          const parts = Number(/-(\d+)"?$/.exec(head.ETag ?? '')?.[1] ?? 1);
          return { bytes: Buffer.from(await object.Body!.transformToByteArray()), contentType: head.ContentType, contentEncoding: head.ContentEncoding, parts };
        },
        keys: async () => ((await client.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key!.replace(/^relatorios\//, '')).sort(),
      };
    },
  })),
  {
    name: 'azure',
    available: true,
    async setup() {
      const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(`gz-${randomBytes(5).toString('hex')}`);
      await container.create();
      return {
        env: { STORAGE_PROVIDER: 'azure', AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString, AZURE_STORAGE_CONTAINER: container.containerName, AZURE_STORAGE_PREFIX: 'relatorios', AZURE_BLOCK_SIZE_MB: '1' },
        read: async (key) => {
          const blob = container.getBlockBlobClient(`relatorios/${key}`);
          const properties = await blob.getProperties();
          return { bytes: await blob.downloadToBuffer(), contentType: properties.contentType, contentEncoding: properties.contentEncoding };
        },
        keys: async () => {
          const names: string[] = [];
          for await (const blob of container.listBlobsFlat()) names.push(blob.name.replace(/^relatorios\//, ''));
          return names.sort();
        },
      };
    },
  },
];

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe.each(providers)('daily-report run with REPORT_COMPRESSION on STORAGE_PROVIDER=$name', (provider) => {
  const skip = provider.available !== true;
  let db: TestDatabase;
  let sqlFile: string;
  /** The uncompressed report of this setup, published by a run with REPORT_COMPRESSION=none. */
  let plain: Buffer;
  let plainManifest: Record<string, unknown>;

  beforeAll(async () => {
    if (skip) return;
    db = await createTestDatabase(`gz_${provider.name.replace(/\W+/g, '_')}`);
    sqlFile = await queryFile(db.outDir, 'fixed', FIXED_ROWS);
    const target = await provider.setup();
    const result = await runDailyReport(['run', '--date', REPORT_DATE], { env: { ...db.env, ...target.env, REPORT_SQL_FILE: sqlFile } });
    expect(result.code, result.stderr).toBe(0);
    const stored = await target.read(KEY);
    plain = stored.bytes;
    plainManifest = JSON.parse((await target.read(`${KEY}.manifest.json`)).bytes.toString('utf8'));
    if (provider.name !== 'local') expect(stored.contentType).toBe('text/csv; charset=utf-8');
    expect(plainManifest).toMatchObject({ key: KEY, compression: 'none', bytes: plain.length, sha256: sha256(plain), uncompressed_bytes: plain.length, uncompressed_sha256: sha256(plain), rows: ROWS });
  }, 120_000);

  it.skipIf(skip).each([
    ['gzip', '.gz', 'application/gzip'],
    ['zstd', '.zst', 'application/zstd'],
  ] as const)(
    `with %s, publishes <key>%s that outside decoders decompress to exactly the uncompressed report, with a manifest of the stored bytes${skip ? ` — SKIPPED: ${provider.available}` : ''}`,
    async (compression, suffix, contentType) => {
      const target = await provider.setup();
      const result = await runDailyReport(['run', '--date', REPORT_DATE], { env: { ...db.env, ...target.env, REPORT_SQL_FILE: sqlFile, REPORT_COMPRESSION: compression } });
      expect(result.code, result.stderr).toBe(0);
      expectNoSecrets(result);
      const key = `${KEY}${suffix}`;
      expect(await target.keys()).toEqual([key, `${key}.manifest.json`]);
      const summary = summaryOf(result);
      expect(summary.key).toBe(key);

      const stored = await target.read(key);
      // Typed as what a download gives, without a Content-Encoding a client would silently undo.
      if (provider.name !== 'local') expect({ type: stored.contentType, encoding: stored.contentEncoding ?? null }).toEqual({ type: contentType, encoding: null });
      expect(stored.bytes.length).toBeLessThan(plain.length * 0.6);
      expect(stored.bytes.length).toBeGreaterThan(5 * 1024 * 1024); // several S3 parts, many Azure blocks
      if (stored.parts !== undefined) expect(stored.parts, 'a multipart upload, verified part by part').toBeGreaterThan(1);
      for (const decoder of DECODERS[compression]) expect(decompressWith(decoder, stored.bytes).equals(plain), `${decoder} gives the uncompressed report`).toBe(true);

      const manifest = JSON.parse((await target.read(`${key}.manifest.json`)).bytes.toString('utf8'));
      expect(manifest).toMatchObject({
        key,
        compression,
        // Of the object as stored: `sha256sum` of the download checks it, as for an uncompressed report.
        bytes: stored.bytes.length,
        sha256: sha256(stored.bytes),
        uncompressed_bytes: plain.length,
        uncompressed_sha256: sha256(plain),
        rows: ROWS,
      });
      expect(summary).toMatchObject({ bytes: stored.bytes.length, sha256: sha256(stored.bytes), rows: ROWS });
    },
    120_000,
  );
});

describe('REPORT_COMPRESSION on the local provider', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('gz_local_more');
  });

  it('with REPORT_IF_EXISTS=skip, a compressed report already published is skipped without database work', async () => {
    const env = { ...db.env, REPORT_COMPRESSION: 'zstd', REPORT_IF_EXISTS: 'skip' };
    expect((await runDailyReport(['run', '--date', REPORT_DATE], { env })).code).toBe(0);
    const again = await runDailyReport(['run', '--date', REPORT_DATE], { env: { ...env, PGPORT: '1' } });
    expect(again.code, again.stderr).toBe(0);
    expect(summaryOf(again)).toMatchObject({ outcome: 'skipped', key: `${KEY}.zst` });
  });

  it('a key template already ending in the matching suffix is used as it is', async () => {
    const result = await runDailyReport(['run', '--date', REPORT_DATE], { env: { ...db.env, REPORT_COMPRESSION: 'gzip', REPORT_KEY_TEMPLATE: 'gz/r_{YYYYMMDD}.csv.gz' } });
    expect(result.code, result.stderr).toBe(0);
    expect(summaryOf(result).key).toBe('gz/r_20241005.csv.gz');
    const stored = await readFile(join(db.outDir, 'gz/r_20241005.csv.gz'));
    expect(decompressWith('gzip CLI', stored).toString('utf8')).toMatch(/^data_extracao,nome_usuario,id_transacao,valor_transacao,status_transacao\r\n/);
  });

  it('validate checks the storage under the compressed key, the one whose lock the run will take', async () => {
    const result = await runDailyReport(['validate', '--date', REPORT_DATE], { env: { ...db.env, REPORT_COMPRESSION: 'zstd' } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^storage: .*relatorio_20241005\.csv\.zst: ok$/m);
  });

  it('a query failing mid-stream fails a compressed run exactly as an uncompressed one (same exit code and error class), publishing nothing', async () => {
    const failing = await queryFile(db.outDir, 'failing', `
      SELECT :extracted_at::timestamptz AS data_extracao, repeat('x', 200) || g AS nome_usuario, g AS id_transacao,
             CASE WHEN g = 40000 THEN 1 / (g - g) ELSE g END AS valor_transacao, 'ok' AS status_transacao
      FROM generate_series(1, 50000) g`);
    const outcome = async (compression: string) => {
      const dir = await mkdtemp(join(tmpdir(), 'daily-report-failing-'));
      const result = await runDailyReport(['run', '--date', REPORT_DATE], { env: { ...db.env, LOCAL_STORAGE_DIR: dir, REPORT_SQL_FILE: failing, REPORT_COMPRESSION: compression } });
      return { code: result.code, class: errorOf(result).err.class, files: (await filesIn(dir)).filter((f) => !f.endsWith('.lock')) };
    };
    const plain = await outcome('none');
    expect(plain.code).not.toBe(0);
    for (const compression of ['gzip', 'zstd']) expect(await outcome(compression), compression).toEqual(plain);
    expect(plain.files).toEqual([]);
  });

  it.each(['gzip', 'zstd'])('on SIGTERM mid-extraction with %s, exits 143 within 10 s and leaves nothing', async (compression) => {
    const slow = await queryFile(db.outDir, 'slow', `
      SELECT :extracted_at::timestamptz AS data_extracao, md5(g::text) || g AS nome_usuario, g AS id_transacao, g * 0.01 AS valor_transacao,
             CASE WHEN g % 1000 = 0 THEN (SELECT 'ok' FROM pg_sleep(0.1 + g * 0)) ELSE 'ok' END AS status_transacao
      FROM generate_series(1, 100000) AS g`);
    const dir = await mkdtemp(join(tmpdir(), 'daily-report-sigterm-'));
    let signalled = 0;
    const result = await runDailyReport(['run', '--date', REPORT_DATE], {
      env: { ...db.env, LOCAL_STORAGE_DIR: dir, REPORT_SQL_FILE: slow, REPORT_COMPRESSION: compression, REPORT_FETCH_ROWS: '200', REPORT_PROGRESS_INTERVAL: '100ms' },
      // Strike once rows are flowing through the compressor (the first progress line with rows).
      onSpawn: (child) =>
        child.stderr!.on('data', (chunk: Buffer) => {
          if (signalled === 0 && /"msg":"extracting"/.test(chunk.toString('utf8')) && /"rows":[1-9]/.test(chunk.toString('utf8'))) {
            signalled = Date.now();
            child.kill('SIGTERM');
          }
        }),
    });
    expect(signalled, 'the run never got to extracting').toBeGreaterThan(0);
    expect(result.code, result.stderr).toBe(143);
    expect(Date.now() - signalled).toBeLessThan(10_000);
    expect(await filesIn(dir)).toEqual([]);
  });

  it('a dry run writes plain CSV whatever REPORT_COMPRESSION says', async () => {
    const result = await runDailyReport(['run', '--date', REPORT_DATE, '--dry-run'], { env: { ...db.env, REPORT_COMPRESSION: 'gzip' } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^data_extracao,/);
  });

  it('refuses an unknown compression with exit 2, naming the choices, before any I/O', async () => {
    await expectRefusedBeforeAnyIo({ REPORT_COMPRESSION: 'brotli' }, /REPORT_COMPRESSION: must be one of none \| gzip \| zstd \(got "brotli"\)/);
    await expectRefusedBeforeAnyIo({ REPORT_COMPRESSION: 'GZIP' }, /REPORT_COMPRESSION: must be one of none \| gzip \| zstd/);
  });

  it('refuses a key template ending in another compression with exit 2, naming the fix, before any I/O', async () => {
    await expectRefusedBeforeAnyIo({ REPORT_KEY_TEMPLATE: 'r_{YYYYMMDD}.csv.gz' }, /REPORT_KEY_TEMPLATE ends in \.gz but REPORT_COMPRESSION is none.*set REPORT_COMPRESSION=gzip/);
    await expectRefusedBeforeAnyIo({ REPORT_KEY_TEMPLATE: 'r_{YYYYMMDD}.csv.gz', REPORT_COMPRESSION: 'zstd' }, /ends in \.gz but REPORT_COMPRESSION is zstd/);
  });
});
