import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { BlobServiceClient } from '@azure/storage-blob';
import { parse } from 'csv-parse/sync';
import { createHash, randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { REPORT_COLUMNS } from '../../src/csv/report-contract.ts';
import { s3Servers } from '../support/s3-servers.ts';
import { directS3Client } from '../support/s3-test-config.ts';
import { S3_TEST_CREDENTIALS, type S3TestServer } from '../support/storage-servers.ts';
import { errorOf, expectNoSecrets, queryFile, summaryOf } from '../support/report-files.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { createTestDatabase, sql, type TestDatabase } from '../support/test-database.ts';

const azurite = inject('azurite');
const REPORT_DATE = '2024-10-05';
const KEY = 'relatorio_20241005.csv';

/** What a provider needs for the CLI, and how a test reads back what it published. */
interface Provider {
  /** STORAGE_PROVIDER, and the server for S3 (moto, minio). */
  readonly name: string;
  readonly available: string | true;
  setup(): Promise<{
    env: Record<string, string>;
    read(key: string): Promise<Buffer | undefined>;
    leftovers(): Promise<string[]>;
    /** True once the server holds part of an unfinished upload (an open multipart upload, uncommitted blocks). */
    inFlight(): Promise<boolean>;
  }>;
}

const providers: Provider[] = [
  ...s3Servers().map((s3Server: S3TestServer): Provider => ({
    name: `s3 on ${s3Server.name}`,
    available: 'url' in s3Server ? true : s3Server.skipped,
    async setup() {
      const url = (s3Server as { url: string }).url;
      const bucket = `e2e-${randomBytes(5).toString('hex')}`;
      // Path style is the default with S3_ENDPOINT: not set here, so that default is what these runs use.
      const env = { STORAGE_PROVIDER: 's3', S3_BUCKET: bucket, S3_PREFIX: 'relatorios', S3_ENDPOINT: url, AWS_REGION: 'us-east-1', ...S3_TEST_CREDENTIALS, S3_PART_SIZE_MB: '5' };
      const client = directS3Client(url);
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      return {
        env,
        read: async (key) => {
          try {
            const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: `relatorios/${key}` }));
            const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: `relatorios/${key}` }));
            expect(head.ServerSideEncryption).toBe('AES256');
            return Buffer.from(await object.Body!.transformToByteArray());
          } catch (error) {
            if ((error as Error).name === 'NoSuchKey') return undefined;
            throw error;
          }
        },
        leftovers: async () => [
          ...((await client.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key!),
          ...((await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).map((u) => `multipart:${u.Key}`),
        ],
        inFlight: async () => ((await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).length > 0,
      };
    },
  })),
  {
    name: 'azure',
    available: true,
    async setup() {
      const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(`e2e-${randomBytes(5).toString('hex')}`);
      await container.create();
      return {
        env: { STORAGE_PROVIDER: 'azure', AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString, AZURE_STORAGE_CONTAINER: container.containerName, AZURE_STORAGE_PREFIX: 'relatorios', AZURE_BLOCK_SIZE_MB: '1' },
        read: async (key) => {
          const blob = container.getBlockBlobClient(`relatorios/${key}`);
          return (await blob.exists()) ? blob.downloadToBuffer() : undefined;
        },
        leftovers: async () => {
          const names: string[] = [];
          for await (const blob of container.listBlobsFlat()) names.push(blob.name);
          return names;
        },
        inFlight: async () => {
          const blocks = await container.getBlockBlobClient(`relatorios/${KEY}`).getBlockList('uncommitted').catch(() => undefined);
          return (blocks?.uncommittedBlocks?.length ?? 0) > 0;
        },
      };
    },
  },
];

/** 30,000 rows, about 2 MB of CSV: several S3 parts and Azure blocks. */
const MANY_ROWS = `
SELECT :extracted_at::timestamptz AS data_extracao, 'Usuário "' || g || '", vírgula' AS nome_usuario, g::bigint * 1000003 AS id_transacao,
       (g % 10000) / 100.0 - 50 AS valor_transacao, 'aprovada' AS status_transacao
FROM generate_series(1, 30000) g`;

const SLOW_ROWS = `
SELECT :extracted_at::timestamptz AS data_extracao, repeat('x', 400) || g AS nome_usuario, g AS id_transacao, g * 0.01 AS valor_transacao,
       CASE WHEN g % 1000 = 0 THEN (SELECT 'ok' FROM pg_sleep(0.1 + g * 0)) ELSE 'ok' END AS status_transacao
FROM generate_series(1, 40000) AS g`;

describe.each(providers)('daily-report run with STORAGE_PROVIDER=$name', (provider) => {
  const skip = provider.available !== true;
  let db: TestDatabase;
  beforeAll(async () => {
    if (!skip) db = await createTestDatabase(`cloud_${provider.name.replace(/\W+/g, '_')}`);
  });

  it.skipIf(skip)(`publishes the report and its manifest, byte-exact against the database${skip ? ` — SKIPPED: ${provider.available}` : ''}`, async () => {
    const target = await provider.setup();
    const sqlFile = await queryFile(db.outDir, 'many', MANY_ROWS);
    const result = await runDailyReport(['run', '--date', REPORT_DATE], { env: { ...db.env, ...target.env, REPORT_SQL_FILE: sqlFile } });
    expect(result.code, result.stderr).toBe(0);
    expectNoSecrets(result);
    expect(result.stderr).not.toContain('test-secret');

    const csv = (await target.read(KEY))!;
    const records: string[][] = parse(csv);
    expect(records[0]).toEqual([...REPORT_COLUMNS]);
    const expected = await sql(db, `SELECT 'Usuário "' || g || '", vírgula' AS nome, (g::bigint * 1000003)::text AS id, ((g % 10000) / 100.0 - 50)::text AS valor FROM generate_series(1, 30000) g`);
    expect(records.slice(1).map((r) => [r[1], r[2], r[3]])).toEqual(expected.rows.map((r) => [r.nome, r.id, r.valor]));

    const manifest = JSON.parse((await target.read(`${KEY}.manifest.json`))!.toString('utf8'));
    expect(manifest).toMatchObject({ key: KEY, rows: 30_000, bytes: csv.length, sha256: createHash('sha256').update(csv).digest('hex') });
    expect(summaryOf(result).location).toMatch(new RegExp(`relatorios/${KEY}$`));
  });

  it.skipIf(skip)('with REPORT_IF_EXISTS=skip, a published day costs no database work; fail exits 5', async () => {
    const target = await provider.setup();
    const env = { ...db.env, ...target.env, REPORT_IF_EXISTS: 'skip' };
    expect((await runDailyReport(['run', '--date', REPORT_DATE], { env })).code).toBe(0);
    const again = await runDailyReport(['run', '--date', REPORT_DATE], { env: { ...env, PGPORT: '1' } });
    expect(again.code, again.stderr).toBe(0);
    expect(summaryOf(again).outcome).toBe('skipped');
    const failed = await runDailyReport(['run', '--date', REPORT_DATE], { env: { ...env, REPORT_IF_EXISTS: 'fail', PGPORT: '1' } });
    expect(failed.code).toBe(5);
  });

  it.skipIf(skip)('when the database connection is killed mid-run, leaves no object, no manifest and no unfinished upload', async () => {
    const target = await provider.setup();
    const sqlFile = await queryFile(db.outDir, 'slow', SLOW_ROWS);
    const running = runDailyReport(['run', '--date', REPORT_DATE], { env: { ...db.env, ...target.env, REPORT_SQL_FILE: sqlFile, REPORT_FETCH_ROWS: '200' } });
    // Strike only once part of the upload is on the server, so there is something to abort.
    let pid: number | undefined;
    for (let attempt = 0; attempt < 300 && pid === undefined; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (!(await target.inFlight())) continue;
      const { rows } = await sql(db, `SELECT pid FROM pg_stat_activity WHERE application_name = 'daily-report' AND datname = $1 AND state = 'active'`, [db.name]);
      pid = rows[0]?.pid;
    }
    expect(pid, 'the upload never got under way').toBeDefined();
    await sql(db, 'SELECT pg_terminate_backend($1)', [pid]);
    const result = await running;
    expect(result.code, result.stderr).toBe(1);
    expect(errorOf(result).err.class).toBe('TransientFailure');
    expect(await target.leftovers()).toEqual([]);
  });

  /** Starts a slow run and resolves once part of its upload is on the server, so a signal strikes mid-upload. */
  async function slowRunMidUpload() {
    const target = await provider.setup();
    const sqlFile = await queryFile(db.outDir, 'slow', SLOW_ROWS);
    let child: { kill(signal: NodeJS.Signals): boolean } | undefined;
    const running = runDailyReport(['run', '--date', REPORT_DATE], {
      env: { ...db.env, ...target.env, REPORT_SQL_FILE: sqlFile, REPORT_FETCH_ROWS: '200' },
      onSpawn: (spawned) => (child = spawned),
    });
    for (let attempt = 0; attempt < 300 && !(await target.inFlight()); attempt++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await target.inFlight(), 'the upload never got under way').toBe(true);
    return { target, running, kill: (signal: NodeJS.Signals) => child!.kill(signal) };
  }

  it.skipIf(skip)('on SIGTERM mid-upload, aborts the upload and exits 143 within 10 s, leaving nothing', async () => {
    const { target, running, kill } = await slowRunMidUpload();
    const signalled = Date.now();
    kill('SIGTERM');
    const result = await running;
    expect(result.code, result.stderr).toBe(143);
    expect(Date.now() - signalled).toBeLessThan(10_000);
    expect(await target.leftovers()).toEqual([]);
  });

  it.skipIf(skip)('on SIGKILL mid-upload (nothing can clean up), no object appears under any name', async () => {
    const { target, running, kill } = await slowRunMidUpload();
    kill('SIGKILL');
    const result = await running;
    expect(result.signal).toBe('SIGKILL');
    // An S3 multipart upload stays open (the lifecycle rule aborts it after a day); Azure drops uncommitted blocks after 7 days.
    // Neither is an object a reader can see.
    expect((await target.leftovers()).filter((name) => !name.startsWith('multipart:'))).toEqual([]);
  });
});
