import { CreateBucketCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { BlobServiceClient } from '@azure/storage-blob';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { directS3Client } from '../support/s3-test-config.ts';
import { FaultProxy } from '../support/fault-proxy.ts';
import { errorOf } from '../support/report-files.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { makeTestCertificates, type TestCertificates } from '../support/test-ca.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';

const s3Server = inject('s3');
const azurite = inject('azurite');
const REPORT = ['run', '--date', '2024-10-05'];

interface Endpoint {
  readonly name: string;
  readonly skipped: string | undefined;
  /** Storage settings pointing at `https://localhost:<tls front>`, and a check that the report landed. */
  prepare(tlsFront: FaultProxy): Promise<{ env: Record<string, string>; published(): Promise<boolean> }>;
  readonly origin: () => string;
}

const endpoints: Endpoint[] = [
  {
    name: 's3',
    skipped: 'url' in s3Server ? undefined : s3Server.skipped,
    origin: () => (s3Server as { url: string }).url,
    async prepare(front) {
      const bucket = `net-${randomBytes(5).toString('hex')}`;
      process.env.AWS_ACCESS_KEY_ID = 'test';
      process.env.AWS_SECRET_ACCESS_KEY = 'test';
      const direct = directS3Client((s3Server as { url: string }).url);
      await direct.send(new CreateBucketCommand({ Bucket: bucket }));
      return {
        env: { STORAGE_PROVIDER: 's3', S3_BUCKET: bucket, S3_ENDPOINT: front.localhostUrl, S3_FORCE_PATH_STYLE: 'true', AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' },
        published: () => direct.send(new HeadObjectCommand({ Bucket: bucket, Key: 'relatorio_20241005.csv.manifest.json' })).then(() => true, () => false),
      };
    },
  },
  {
    name: 'azure',
    skipped: undefined,
    origin: () => new URL(azurite.url).origin,
    async prepare(front) {
      const direct = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(`net-${randomBytes(5).toString('hex')}`);
      await direct.create();
      const connectionString = azurite.connectionString.replace('DefaultEndpointsProtocol=http', 'DefaultEndpointsProtocol=https').replace(new URL(azurite.url).origin, front.localhostUrl);
      return {
        env: { STORAGE_PROVIDER: 'azure', AZURE_STORAGE_CONNECTION_STRING: connectionString, AZURE_STORAGE_CONTAINER: direct.containerName },
        published: () => direct.getBlockBlobClient('relatorio_20241005.csv.manifest.json').exists(),
      };
    },
  },
];

describe.each(endpoints)('daily-report run to $name over TLS with a private CA', (endpoint) => {
  let db: TestDatabase;
  let certificates: TestCertificates;
  let front: FaultProxy;
  let forwardProxy: FaultProxy;

  beforeAll(async () => {
    if (endpoint.skipped) return;
    db = await createTestDatabase(`net_${endpoint.name}`);
    certificates = makeTestCertificates();
    front = await FaultProxy.start(endpoint.origin(), { key: certificates.key, cert: certificates.cert });
    forwardProxy = await FaultProxy.start();
  });
  afterAll(async () => {
    await front?.close();
    await forwardProxy?.close();
  });

  it.skipIf(endpoint.skipped)('publishes when NODE_EXTRA_CA_CERTS names the CA', async () => {
    const target = await endpoint.prepare(front);
    const result = await runDailyReport(REPORT, { env: { ...db.env, ...target.env, NODE_EXTRA_CA_CERTS: certificates.caFile } });
    expect(result.code, result.stderr).toBe(0);
    expect(await target.published()).toBe(true);
  });

  it.skipIf(endpoint.skipped)('refuses an endpoint it cannot verify: exit 4, pointing at NODE_EXTRA_CA_CERTS', async () => {
    const target = await endpoint.prepare(front);
    const result = await runDailyReport(REPORT, { env: { ...db.env, ...target.env, STORAGE_MAX_ATTEMPTS: '1' } });
    expect(result.code, result.stderr).toBe(4);
    expect(errorOf(result).msg).toMatch(/TLS verification .* failed .*NODE_EXTRA_CA_CERTS/);
    expect(await target.published()).toBe(false);
  });

  it.skipIf(endpoint.skipped)('tunnels through HTTPS_PROXY, and goes direct for hosts in NO_PROXY', async () => {
    const target = await endpoint.prepare(front);
    const env = { ...db.env, ...target.env, NODE_EXTRA_CA_CERTS: certificates.caFile, HTTPS_PROXY: forwardProxy.url };
    const viaProxy = await runDailyReport(REPORT, { env });
    expect(viaProxy.code, viaProxy.stderr).toBe(0);
    const tunnels = () => forwardProxy.requests.filter((r) => r.method === 'CONNECT' && r.url === new URL(front.localhostUrl).host).length;
    const tunnelled = tunnels();
    expect(tunnelled).toBeGreaterThan(0);

    const direct = await runDailyReport(REPORT, { env: { ...env, NO_PROXY: 'localhost' } });
    expect(direct.code, direct.stderr).toBe(0);
    expect(tunnels()).toBe(tunnelled);
  });
});
