import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, PutBucketVersioningCommand } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { queryFile } from '../support/report-files.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { directS3Client } from '../support/s3-test-config.ts';
import { S3_TEST_CREDENTIALS } from '../support/storage-servers.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';

/**
 * What a consumer does (docs/publishing.md): read the manifest, read the CSV it names — by its
 * VersionId and with If-Match its ETag — and check the bytes and sha256. Done here with another
 * client than the job's (boto3), on a versioned bucket, after the real CLI published a multipart
 * report twice (the second run replacing the first), for each S3_CHECKSUM_ALGORITHM.
 */
const s3 = inject('s3');
const PYTHON = fileURLToPath(new URL('../../.cache/moto-venv/bin/python', import.meta.url));
const ROWS = 120_000;

const READ_BACK = `
import boto3, hashlib, json, sys
endpoint, bucket, key = sys.argv[1:4]
s3 = boto3.client('s3', endpoint_url=endpoint, region_name='us-east-1')
manifest = json.loads(s3.get_object(Bucket=bucket, Key=key + '.manifest.json')['Body'].read())
extra = {'IfMatch': manifest['object']['etag']}
if manifest['object']['version_id']: extra['VersionId'] = manifest['object']['version_id']
csv = s3.get_object(Bucket=bucket, Key=key, **extra)
body = csv['Body'].read()
current = s3.head_object(Bucket=bucket, Key=key)
versions = s3.list_object_versions(Bucket=bucket, Prefix=key)
print(json.dumps({
  'manifest': manifest, 'bytes': len(body), 'sha256': hashlib.sha256(body).hexdigest(),
  'etag': csv['ETag'], 'version_id': csv.get('VersionId'), 'current_version_id': current.get('VersionId'),
  'run_id': csv['Metadata'].get('run_id'),
  'csv_versions': len([v for v in versions.get('Versions', []) if v['Key'] == key]),
  'uploads': len(s3.list_multipart_uploads(Bucket=bucket).get('Uploads', [])),
  'lock': any(o['Key'] == key + '.lock' for o in s3.list_objects_v2(Bucket=bucket).get('Contents', [])),
}))
`;

describe.skipIf(!('url' in s3) || !existsSync(PYTHON))('a consumer reading a published report with boto3 (versioned bucket, multipart)', () => {
  let db: TestDatabase;
  let sqlFile: string;

  beforeAll(async () => {
    db = await createTestDatabase('readback');
    sqlFile = await queryFile(db.outDir, 'big', `SELECT :extracted_at::timestamptz AS data_extracao, 'n' || g || repeat('x', 60) AS nome_usuario, g AS id_transacao,
      g * 0.01 AS valor_transacao, 'ok' AS status_transacao FROM generate_series(1, ${ROWS}) AS g`);
  });

  it.each(['CRC32', 'CRC32C', 'SHA256', 'NONE'])('finds the bytes, sha256, ETag and VersionId the manifest names, with S3_CHECKSUM_ALGORITHM=%s', async (algorithm) => {
    const url = (s3 as { url: string }).url;
    const bucket = `readback-${randomBytes(6).toString('hex')}`;
    const client = directS3Client(url);
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    await client.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    const env = {
      ...db.env, ...S3_TEST_CREDENTIALS, REPORT_SQL_FILE: sqlFile, REPORT_DATE: '2024-10-05', REPORT_IF_EXISTS: 'overwrite',
      STORAGE_PROVIDER: 's3', S3_BUCKET: bucket, S3_ENDPOINT: url, S3_FORCE_PATH_STYLE: 'true', AWS_REGION: 'us-east-1',
      S3_PREFIX: 'reports/daily/', S3_PART_SIZE_MB: '5', S3_CHECKSUM_ALGORITHM: algorithm,
    };
    const runs = [];
    for (let i = 0; i < 2; i++) {
      const run = await runDailyReport(['run'], { env });
      expect(run.code, run.stderr.slice(-2000)).toBe(0);
      runs.push(run.logs.find((l) => l.run_id)?.run_id as string);
    }
    const read = spawnSync(PYTHON, ['-c', READ_BACK, url, bucket, 'reports/daily/relatorio_20241005.csv'], {
      encoding: 'utf8', env: { PATH: process.env.PATH, AWS_ACCESS_KEY_ID: S3_TEST_CREDENTIALS.AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: S3_TEST_CREDENTIALS.AWS_SECRET_ACCESS_KEY },
    });
    expect(read.status, read.stderr).toBe(0);
    const seen = JSON.parse(read.stdout) as Record<string, any>;
    expect(seen.bytes, 'a multipart report (more than one 5 MiB part)').toBeGreaterThan(5 * 2 ** 20);
    expect(seen.manifest.run_id, 'the second run published').toBe(runs[1]);
    expect(seen.run_id).toBe(runs[1]);
    expect(seen.sha256).toBe(seen.manifest.sha256);
    expect(seen.bytes).toBe(seen.manifest.bytes);
    expect(seen.etag).toBe(seen.manifest.object.etag);
    expect(seen.manifest.object.version_id, 'a versioned bucket: the manifest names the version').toEqual(expect.any(String));
    expect(seen.version_id).toBe(seen.manifest.object.version_id);
    expect(seen.current_version_id, 'the manifest names the current version').toBe(seen.manifest.object.version_id);
    expect(seen.csv_versions, 'one version per run').toBe(2);
    expect(seen.uploads, 'no multipart upload left open').toBe(0);
    expect(seen.lock, 'no lock left').toBe(false);
  });
});
