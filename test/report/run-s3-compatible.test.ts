import { CreateBucketCommand, HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { ExitCode } from '../../src/errors.ts';
import { MINIO_KMS_KEY_NAME } from '../support/minio-server.ts';
import { s3Servers } from '../support/s3-servers.ts';
import { directS3Client } from '../support/s3-test-config.ts';
import { errorOf, summaryOf } from '../support/report-files.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { S3_TEST_CREDENTIALS } from '../support/storage-servers.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';

/** The job against MinIO as users run it on premises: without a KMS, with one, behind a host name. */
const withoutKms = inject('minioWithoutKms');
const minio = s3Servers().find((server) => server.name === 'minio')!;
const skipped = 'skipped' in withoutKms ? withoutKms.skipped : 'skipped' in minio ? minio.skipped : undefined;
const KEY = 'relatorio_20241005.csv';

async function bucketOn(url: string) {
  const client = directS3Client(url);
  const bucket = `compat-${randomBytes(5).toString('hex')}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  const everything = async () => [
    ...((await client.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((o) => o.Key!),
    ...((await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).map((u) => `multipart:${u.Key}`),
  ];
  return { client, bucket, everything, env: { STORAGE_PROVIDER: 's3', S3_BUCKET: bucket, S3_ENDPOINT: url, AWS_REGION: 'us-east-1', ...S3_TEST_CREDENTIALS } };
}

describe.skipIf(skipped !== undefined)(`daily-report run on MinIO${skipped ? ` — SKIPPED: ${skipped}` : ''}`, () => {
  let db: TestDatabase;
  beforeAll(async () => {
    if (skipped) process.stderr.write(`\n!!! the MinIO runs are SKIPPED: ${skipped}\n\n`);
    else db = await createTestDatabase('s3_compatible');
  });
  const run = (env: Record<string, string>) => runDailyReport(['run', '--date', '2024-10-05'], { env: { ...db.env, ...env } });

  it('without a KMS, refuses the default S3_SSE=AES256 with exit 2, naming S3_SSE and the server-side fix, and publishes nothing', async () => {
    const target = await bucketOn((withoutKms as { url: string }).url);
    const result = await run(target.env);
    expect(result.code, result.stderr).toBe(ExitCode.invalidInput);
    expect(errorOf(result).err).toMatchObject({ class: 'ConfigurationIsInvalid', exit_code: 2 });
    expect(result.stderr).toMatch(/does not support the server-side encryption S3_SSE asks for \(NotImplemented \(HTTP 501\): Server side encryption specified but KMS is not configured/);
    expect(result.stderr).toMatch(/MinIO: MINIO_KMS_SECRET_KEY/);
    expect(result.stderr).toMatch(/S3_SSE=none/);
    expect(await target.everything()).toEqual([]);
  });

  it('without a KMS, publishes with S3_SSE=none, sending no encryption header and warning about it in the log', async () => {
    const target = await bucketOn((withoutKms as { url: string }).url);
    const result = await run({ ...target.env, S3_SSE: 'none' });
    expect(result.code, result.stderr).toBe(0);
    expect(summaryOf(result).outcome).not.toBe('skipped');
    expect(result.logs.filter((line) => line.level === 'warn').map((line) => line.msg)).toContainEqual(expect.stringMatching(/^S3_SSE=none: reports are sent to http:\/\/127\.0\.0\.1:\d+ without a server-side encryption header/));
    const head = await target.client.send(new HeadObjectCommand({ Bucket: target.bucket, Key: KEY }));
    expect(head.ServerSideEncryption).toBeUndefined();
    expect((await target.everything()).sort()).toEqual([KEY, `${KEY}.manifest.json`]);
  });

  it('with a KMS, refuses a KMS key it does not have (S3_SSE_KMS_KEY_ID=no-such-key) with exit 2, naming the setting', async () => {
    const target = await bucketOn((minio as { url: string }).url);
    const result = await run({ ...target.env, S3_SSE: 'aws:kms', S3_SSE_KMS_KEY_ID: 'no-such-key' });
    expect(result.code, result.stderr).toBe(ExitCode.invalidInput);
    expect(result.stderr).toMatch(/the KMS key in S3_SSE_KMS_KEY_ID was not found by the server \(kms:KeyNotFound \(HTTP 404\)/);
    expect(await target.everything()).toEqual([]);
    const named = await run({ ...target.env, S3_SSE: 'aws:kms', S3_SSE_KMS_KEY_ID: MINIO_KMS_KEY_NAME });
    expect(named.code, named.stderr).toBe(0);
  });

  it('reaches a server named by host name with path-style requests, without S3_FORCE_PATH_STYLE', async () => {
    const url = (minio as { url: string }).url.replace('127.0.0.1', 'localhost');
    const target = await bucketOn((minio as { url: string }).url);
    const result = await run({ ...target.env, S3_ENDPOINT: url });
    expect(result.code, result.stderr).toBe(0);
    expect(await target.everything()).toContain(KEY);
  });
});
