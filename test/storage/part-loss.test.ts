import { BlobServiceClient } from '@azure/storage-blob';
import { CreateBucketCommand, GetObjectCommand, ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { TransientFailure } from '../../src/errors.ts';
import { classifyAzureError } from '../../src/storage/azure-errors.ts';
import { AzureStorage } from '../../src/storage/azure-storage.ts';
import { azureServiceClient } from '../../src/storage/azure-client.ts';
import { s3Client } from '../../src/storage/s3-client.ts';
import { S3Storage } from '../../src/storage/s3-storage.ts';
import { FaultProxy, s3ErrorBody, type SeenRequest } from '../support/fault-proxy.ts';
import { s3TestConfig } from '../support/s3-test-config.ts';

/**
 * Issue 13, failure 1, reproduced exactly: a part fails every attempt while the body is still being
 * read. The old upload loop lost that rejection (the failed part left the set of parts in flight
 * before anyone raced it) and completed the object without the part: a truncated report under the
 * final name, replacing yesterday's. Now the upload fails before anything becomes visible.
 */
const MiB = 1024 * 1024;
const server = inject('s3');
const azurite = inject('azurite');
process.env.AWS_ACCESS_KEY_ID = 'test-access-key';
process.env.AWS_SECRET_ACCESS_KEY = 'test-secret-key';

let proxy: FaultProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

/**
 * 4 parts of 5 MiB (the last one short). Once part 3 has started, the body waits until `partFailed`
 * says part 2 has failed its last attempt, then goes on: the failure lands while the body is read.
 */
async function* bodyThatOutlivesAFailedPart(data: Buffer, partFailed: () => boolean): AsyncGenerator<Buffer> {
  const chunk = 256 * 1024;
  for (let offset = 0; offset < data.length; offset += chunk) {
    if (offset === 11 * MiB) {
      for (let i = 0; i < 600 && !partFailed(); i++) await sleep(50);
      await sleep(300); // the SDK hands the last attempt's 503 to the upload loop
    }
    yield data.subarray(offset, offset + chunk);
  }
}

const isPart2 = (r: SeenRequest) => r.method === 'PUT' && /[?&]partNumber=2(&|$)/.test(r.url);
const isComplete = (r: SeenRequest) => r.method === 'POST' && r.url.includes('uploadId=');

async function readS3(client: S3Client, bucket: string, key: string): Promise<Buffer> {
  const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await object.Body!.transformToByteArray());
}

describe.skipIf(!('url' in server))('a part that fails every attempt while the body is still being read', () => {
  it.each([true, false])('S3 (S3_VERIFY=%s): fails with exit 1 before CompleteMultipartUpload, leaving the previous report untouched', async (verify) => {
    const upstream = (server as { url: string }).url;
    proxy = await FaultProxy.start(upstream);
    const settings = s3TestConfig(proxy.url, { bucket: `loss-${randomBytes(5).toString('hex')}`, verify, queueSize: 4, maxAttempts: 3 });
    const direct = s3Client({ ...settings, endpoint: upstream });
    await direct.send(new CreateBucketCommand({ Bucket: settings.bucket }));
    const storage = new S3Storage(s3Client(settings), { ...settings, stallTimeoutMs: 60_000 });
    const previous = Buffer.from('yesterday,complete\r\n');
    await storage.write('r.csv', (async function* () { yield previous; })(), { signal: new AbortController().signal, ifExists: 'overwrite', contentType: 'text/csv', metadata: {} });

    proxy.inject({ match: isPart2, fault: { status: 503, body: s3ErrorBody('SlowDown', 'Reduce your request rate') } });
    const data = randomBytes(16 * MiB);
    const failure = storage.write('r.csv', bodyThatOutlivesAFailedPart(data, () => proxy!.requests.filter(isPart2).length >= 3), {
      signal: new AbortController().signal, ifExists: 'overwrite', contentType: 'text/csv', metadata: { run_id: 'r2' },
    });

    await expect(failure).rejects.toBeInstanceOf(TransientFailure);
    expect(proxy.requests.filter(isPart2)).toHaveLength(3);
    expect(proxy.requests.some(isComplete)).toBe(false);
    expect((await readS3(direct, settings.bucket, 'r.csv')).equals(previous)).toBe(true);
    const uploads = await direct.send(new ListMultipartUploadsCommand({ Bucket: settings.bucket }));
    expect(uploads.Uploads ?? []).toEqual([]);
  }, 60_000);
});

describe('Azure, a block that fails every attempt while the body is still being read', () => {
  it('fails with exit 1 (not 2) before Put Block List, leaving the previous report untouched', async () => {
    const upstream = azurite.url.replace(/\/devstoreaccount1$/, '');
    proxy = await FaultProxy.start(upstream);
    const container = `loss-${randomBytes(5).toString('hex')}`;
    const connectionString = azurite.connectionString.replace(/BlobEndpoint=[^;]+/, `BlobEndpoint=${proxy.url}/devstoreaccount1`);
    const settings = { provider: 'azure' as const, connectionString, accountUrl: undefined, container, prefix: '', encryptionScope: undefined, blockSizeBytes: 5 * MiB, maxConcurrency: 4, requestTimeoutMs: 10_000, maxAttempts: 2 };
    const direct = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(container);
    await direct.create();
    const storage = new AzureStorage(azureServiceClient(settings).getContainerClient(container), settings);
    const previous = Buffer.from('yesterday,complete\r\n');
    await storage.write('r.csv', (async function* () { yield previous; })(), { signal: new AbortController().signal, ifExists: 'overwrite', contentType: 'text/csv', metadata: {} });

    // The second Put Block of the upload, every attempt.
    let blocks = 0;
    const secondBlockUrls = new Set<string>();
    const isSecondBlock = (r: SeenRequest) => {
      if (!(r.method === 'PUT' && r.url.includes('comp=block&'))) return false;
      const id = new URL(r.url, 'http://x').searchParams.get('blockid')!;
      if (secondBlockUrls.has(id)) return true;
      if (++blocks === 2) {
        secondBlockUrls.add(id);
        return true;
      }
      return false;
    };
    proxy.inject({ match: isSecondBlock, fault: { status: 503, body: '<Error><Code>ServerBusy</Code></Error>' } });
    const data = randomBytes(16 * MiB);
    const seenSecond = () => proxy!.requests.filter((r) => r.method === 'PUT' && secondBlockUrls.has(new URL(r.url, 'http://x').searchParams.get('blockid') ?? '')).length;
    const failure = storage.write('r.csv', bodyThatOutlivesAFailedPart(data, () => seenSecond() >= 2), {
      signal: new AbortController().signal, ifExists: 'overwrite', contentType: 'text/csv', metadata: { run_id: 'r2' },
    });

    await expect(failure).rejects.toBeInstanceOf(TransientFailure);
    await expect(failure).rejects.toMatchObject({ exitCode: 1 });
    expect(proxy.requests.some((r) => r.url.includes('comp=blocklist'))).toBe(false);
    expect((await direct.getBlockBlobClient('r.csv').downloadToBuffer()).equals(previous)).toBe(true);
  }, 60_000);

  it('classifies InvalidBlockList (a block list naming a block the service never stored) as transient, exit 1', async () => {
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(`ibl-${randomBytes(5).toString('hex')}`);
    await container.create();
    const blob = container.getBlockBlobClient('r.csv');
    const id = (n: number) => Buffer.from(`block-${n}`).toString('base64');
    await blob.stageBlock(id(1), Buffer.from('a'), 1);
    await blob.stageBlock(id(3), Buffer.from('c'), 1);
    const error = await blob.commitBlockList([id(1), id(2), id(3)]).catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('InvalidBlockList');
    const classified = classifyAzureError(error, 'commitBlockList', blob.url);
    expect(classified).toBeInstanceOf(TransientFailure);
    expect(classified).toMatchObject({ exitCode: 1 });
  });
});
