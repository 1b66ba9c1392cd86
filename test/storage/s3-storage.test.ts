import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { S3StorageConfig } from '../../src/config/config.ts';
import { AccessWasDenied, ConditionNotMet, ConfigurationIsInvalid, TransientFailure } from '../../src/errors.ts';
import { s3Client } from '../../src/storage/s3-client.ts';
import { S3Storage } from '../../src/storage/s3-storage.ts';
import { uploadToS3 } from '../../src/storage/s3-upload.ts';
import { countedBody, untilReadingStops } from '../support/counted-body.ts';
import { FaultProxy, s3ErrorBody } from '../support/fault-proxy.ts';
import { describeOnS3Servers, type RunningS3TestServer } from '../support/s3-servers.ts';
import { s3TestConfig } from '../support/s3-test-config.ts';
import { describeStorageConformance } from './storage-conformance.ts';

const MiB = 1024 * 1024;
/** The server of the suite running now: the suites run one after another, each setting it first. */
let server: RunningS3TestServer;

function config(overrides: Partial<S3StorageConfig> = {}): S3StorageConfig {
  return s3TestConfig(server.url, { bucket: `test-${randomBytes(6).toString('hex')}`, ...overrides });
}

/** A fresh bucket, the storage over it, and a client that talks to the server directly. */
async function s3UnderTest(overrides: Partial<S3StorageConfig> = {}, stallTimeoutMs = 2 * (overrides.requestTimeoutMs ?? 10_000)) {
  const settings = config(overrides);
  const direct = s3Client({ ...settings, endpoint: server.url });
  await direct.send(new CreateBucketCommand({ Bucket: settings.bucket }));
  const storage = new S3Storage(s3Client(settings), { ...settings, stallTimeoutMs });
  return {
    settings,
    direct,
    storage,
    read: (key: string) => readObject(direct, settings.bucket, settings.prefix + key),
    listAll: () => listAll(direct, settings.bucket),
  };
}

async function readObject(client: S3Client, bucket: string, key: string): Promise<Buffer | undefined> {
  try {
    const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await object.Body!.transformToByteArray());
  } catch (error) {
    if ((error as Error).name === 'NoSuchKey') return undefined;
    throw error;
  }
}

/** Objects and unfinished multipart uploads: both count as "left behind". */
async function listAll(client: S3Client, bucket: string): Promise<string[]> {
  const objects = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
  const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return [...(objects.Contents ?? []).map((o) => o.Key!), ...(uploads.Uploads ?? []).map((u) => `multipart-upload:${u.Key}`)].sort();
}

async function* body(...parts: Buffer[]) {
  for (const part of parts) yield part;
}
const write = (storage: S3Storage, key: string, data: Buffer[], ifExists: 'overwrite' | 'fail' = 'overwrite') =>
  storage.write(key, body(...data), { signal: new AbortController().signal, ifExists, contentType: 'text/csv; charset=utf-8', metadata: { report_date: '2024-10-05', run_id: 'r1' } });

describeOnS3Servers('S3 storage', (current) => {
  // Properties only a strict server has (MinIO): registered there alone rather than skipped on moto, as CI refuses skipped tests.
  const onStrictServer = (name: string, test: () => Promise<void>) => void (current.strict && it(name, test));
  beforeAll(() => void (server = current));
  describeStorageConformance(`s3 on ${current.name}`, () => s3UnderTest());

  it('stores the report encrypted (SSE-S3), with its content type, metadata and prefix', async () => {
    const { storage, direct, settings } = await s3UnderTest({ prefix: 'reports/' });
    const { location } = await write(storage, 'relatorio_20241005.csv', [Buffer.from('a,b\r\n')]);
    expect(location).toBe(`s3://${settings.bucket}/reports/relatorio_20241005.csv`);
    const head = await direct.send(new HeadObjectCommand({ Bucket: settings.bucket, Key: 'reports/relatorio_20241005.csv' }));
    expect(head.ServerSideEncryption).toBe('AES256');
    expect(head.ContentType).toBe('text/csv; charset=utf-8');
    expect(head.Metadata).toEqual({ report_date: '2024-10-05', run_id: 'r1' });
  });

  it('uses SSE-KMS with the configured key and an S3 bucket key, single-part and multipart', async () => {
    const kmsKeyId = server.kmsKeyId;
    const proxy = await FaultProxy.start(server.url);
    try {
      const { storage, direct, settings } = await s3UnderTest({ sse: 'aws:kms', kmsKeyId, endpoint: proxy.url });
      await write(storage, 'small.csv', [Buffer.from('x')]);
      await write(storage, 'large.csv', [randomBytes(6 * MiB), randomBytes(1024)]);
      for (const key of ['small.csv', 'large.csv']) {
        const head = await direct.send(new HeadObjectCommand({ Bucket: settings.bucket, Key: key }));
        expect(head.ServerSideEncryption).toBe('aws:kms');
        // MinIO answers with its key's name as an ARN (arn:aws:kms:<name>).
        expect(head.SSEKMSKeyId?.replace(/^arn:aws:kms:(?=[^:]*$)/, '')).toBe(kmsKeyId);
      }
      // moto does not keep the bucket-key flag of a multipart upload: check what was asked for.
      const creates = proxy.requests.filter((r) => (r.method === 'PUT' && !r.url.includes('partNumber=')) || (r.method === 'POST' && r.url.includes('uploads')));
      expect(creates).toHaveLength(2);
      for (const request of creates) {
        expect(request.headers['x-amz-server-side-encryption']).toBe('aws:kms');
        expect(request.headers['x-amz-server-side-encryption-aws-kms-key-id']).toBe(kmsKeyId);
        expect(request.headers['x-amz-server-side-encryption-bucket-key-enabled']).toBe('true');
      }
    } finally {
      await proxy.close();
    }
  });

  it.each(['CRC32', 'CRC32C', 'SHA256'] as const)('verifies the %s checksum S3 reports, for a single-part and a multipart report', async (algorithm) => {
    const { storage, direct, settings } = await s3UnderTest({ checksumAlgorithm: algorithm });
    await write(storage, 'small.csv', [Buffer.from('small report\r\n')]);
    await write(storage, 'large.csv', [randomBytes(7 * MiB), randomBytes(5 * MiB), randomBytes(123)]);
    for (const key of ['small.csv', 'large.csv']) {
      const head = await direct.send(new HeadObjectCommand({ Bucket: settings.bucket, Key: key, ChecksumMode: 'ENABLED' }));
      expect(head[`Checksum${algorithm}`], `${key} has a ${algorithm} checksum`).toBeTruthy();
    }
  });

  it('fails verification when the stored object differs from what was sent', async () => {
    const proxy = await FaultProxy.start(server.url);
    try {
      const { storage } = await s3UnderTest({ endpoint: proxy.url });
      proxy.inject({
        match: (r) => r.method === 'HEAD',
        fault: { rewriteResponse: (headers) => ({ ...headers, 'x-amz-checksum-crc32': 'AAAAAA==' }) },
      });
      await expect(write(storage, 'r.csv', [Buffer.from('x')])).rejects.toThrow(/verification of s3:\/\/.*CRC32 AAAAAA== ≠/);
    } finally {
      await proxy.close();
    }
  });

  it('sends no checksum headers with S3_CHECKSUM_ALGORITHM=NONE (for servers that reject them), and signs the payload instead', async () => {
    const proxy = await FaultProxy.start(server.url);
    try {
      const { storage } = await s3UnderTest({ endpoint: proxy.url, checksumAlgorithm: 'NONE' });
      await write(storage, 'r.csv', [randomBytes(6 * MiB)]);
      const writes = proxy.requests.filter((r) => r.method === 'PUT' || r.method === 'POST');
      expect(writes.length).toBeGreaterThan(0);
      for (const request of writes) expect(Object.keys(request.headers).filter((h) => h.startsWith('x-amz-checksum'))).toEqual([]);
      for (const request of writes.filter((r) => r.method === 'PUT')) expect(request.headers['x-amz-content-sha256']).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      await proxy.close();
    }
  });

  it('sends every part with its own CRC32, which S3 checks, and leaves the payload unsigned rather than hashing it twice', async () => {
    const proxy = await FaultProxy.start(server.url);
    try {
      const { storage, read } = await s3UnderTest({ endpoint: proxy.url });
      const data = randomBytes(12 * MiB + 7);
      await write(storage, 'r.csv', [data.subarray(0, 3 * MiB), data.subarray(3 * MiB)]);
      const parts = proxy.requests.filter((r) => r.method === 'PUT' && r.url.includes('partNumber='));
      expect(parts).toHaveLength(3);
      for (const part of parts) {
        const number = Number(new URL(part.url, 'http://x').searchParams.get('partNumber'));
        const bytes = data.subarray((number - 1) * 5 * MiB, number * 5 * MiB);
        const expected = Buffer.alloc(4);
        expected.writeUInt32BE(crc32(bytes));
        expect(part.headers['x-amz-checksum-crc32'], `part ${number}`).toBe(expected.toString('base64'));
        expect(part.headers['x-amz-content-sha256']).toBe('UNSIGNED-PAYLOAD');
      }
      expect((await read('r.csv'))!.equals(data)).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it('sends a body of exactly one part as a single PutObject', async () => {
    const proxy = await FaultProxy.start(server.url);
    try {
      const { storage, read } = await s3UnderTest({ endpoint: proxy.url });
      const data = randomBytes(5 * MiB);
      await write(storage, 'r.csv', [data.subarray(0, MiB), data.subarray(MiB)]);
      expect(proxy.requests.filter((r) => r.method === 'POST' || r.url.includes('partNumber='))).toEqual([]);
      expect(proxy.requests.filter((r) => r.method === 'PUT')).toHaveLength(1);
      expect((await read('r.csv'))!.equals(data)).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it('reads the body no further than part size × (queue size + 1) ahead of what S3 has stored, and uploads queue-size parts at once', async () => {
    const proxy = await FaultProxy.start(server.url);
    try {
      const { storage, read } = await s3UnderTest({ endpoint: proxy.url, queueSize: 2 });
      let release!: () => void;
      proxy.inject({ match: (r) => r.url.includes('partNumber='), fault: { hold: new Promise<void>((resolve) => (release = resolve)) } });
      const data = randomBytes(40 * MiB);
      const { body: counted, bytesRead } = countedBody(data, MiB);
      const writing = storage.write('r.csv', counted, { signal: new AbortController().signal, ifExists: 'overwrite', contentType: 'text/csv', metadata: {} });
      // Reading must stop while the server holds the parts: three part buffers full, the chunk that
      // found no room, and at most one the stream reads ahead.
      const pulled = await untilReadingStops(bytesRead);
      expect(pulled).toBeGreaterThanOrEqual(3 * 5 * MiB + MiB);
      expect(pulled).toBeLessThanOrEqual(3 * 5 * MiB + 2 * MiB);
      expect(proxy.requests.filter((r) => r.url.includes('partNumber='))).toHaveLength(2);
      release();
      await writing;
      expect((await read('r.csv'))!.equals(data)).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it('refuses a report that needs more parts than S3 allows (exit 2), aborting the upload', async () => {
    const { settings, direct, listAll } = await s3UnderTest();
    const failure = uploadToS3(body(randomBytes(11 * MiB)), {
      client: direct,
      bucket: settings.bucket,
      key: 'r.csv',
      attributes: {},
      checksumAlgorithm: 'CRC32',
      ifNoneMatch: false,
      partSize: 5 * MiB,
      queueSize: 4,
      signal: new AbortController().signal,
      maxParts: 2,
    });
    await expect(failure).rejects.toBeInstanceOf(ConfigurationIsInvalid);
    await expect(failure).rejects.toThrow(/more than 2 parts of 5 MiB.*raise S3_PART_SIZE_MB/);
    expect(await listAll()).toEqual([]);
  });

  onStrictServer('refuses a part whose bytes do not match its CRC32 (a server that verifies checksums)', async () => {
    const { settings, direct } = await s3UnderTest();
    const { UploadId } = await direct.send(new CreateMultipartUploadCommand({ Bucket: settings.bucket, Key: 'r.csv', ChecksumAlgorithm: 'CRC32' }));
    const upload = direct.send(new UploadPartCommand({ Bucket: settings.bucket, Key: 'r.csv', UploadId, PartNumber: 1, Body: randomBytes(1024), ChecksumCRC32: 'AAAAAA==' }));
    await expect(upload).rejects.toMatchObject({ $metadata: { httpStatusCode: 400 } });
  });

  onStrictServer('lets exactly one of two concurrent multipart conditional writes publish, every time (If-None-Match enforced atomically at Complete)', async () => {
    const { storage, read } = await s3UnderTest();
    for (let round = 0; round < 4; round++) {
      const key = `race-${round}.csv`;
      const [a, b] = [Buffer.alloc(6 * MiB, 'a'), Buffer.alloc(6 * MiB, 'b')];
      const results = await Promise.allSettled([write(storage, key, [a], 'fail'), write(storage, key, [b], 'fail')]);
      expect(results.filter((r) => r.status === 'fulfilled'), `round ${round}`).toHaveLength(1);
      expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason).toBeInstanceOf(ConditionNotMet);
      const stored = (await read(key))!;
      expect(stored.equals(a) || stored.equals(b)).toBe(true);
    }
  });

  // moto completes a multipart upload If-Match a key that is gone; MinIO, like S3, refuses it (404 NoSuchKey).
  onStrictServer('refuses a multipart write If-Match an object that is gone with ConditionNotMet, leaving nothing', async () => {
    const { storage, listAll } = await s3UnderTest();
    const first = await write(storage, 'gone.csv', [Buffer.from('first')]);
    await storage.remove('gone.csv', { signal: new AbortController().signal, ifMatch: first.object.etag });
    const replace = storage.write('gone.csv', body(randomBytes(6 * MiB)), { signal: new AbortController().signal, ifExists: 'overwrite', ifMatch: first.object.etag, contentType: 'text/csv', metadata: {} });
    await expect(replace).rejects.toBeInstanceOf(ConditionNotMet);
    expect(await listAll()).toEqual([]);
  });

  it('answers a conditional write on an existing key with ConditionNotMet (412), for multipart too', async () => {
    const { storage } = await s3UnderTest();
    await write(storage, 'r.csv', [randomBytes(6 * MiB)]);
    await expect(write(storage, 'r.csv', [randomBytes(6 * MiB)], 'fail')).rejects.toBeInstanceOf(ConditionNotMet);
  });

  describe('through a faulty network', () => {
    let proxy: FaultProxy;
    afterEach(() => proxy?.close());
    const isUploadPart = (r: { method: string; url: string }) => r.method === 'PUT' && r.url.includes('partNumber=');

    it.each([
      ['a 500 on an UploadPart', { status: 500, body: s3ErrorBody('InternalError', 'We encountered an internal error') }],
      ['a connection reset during a part', { reset: true as const }],
      ['a stalled part', { stall: true as const }],
    ])('retries %s and publishes the exact bytes', async (_, fault) => {
      proxy = await FaultProxy.start(server.url);
      const { storage, read } = await s3UnderTest({ endpoint: proxy.url, requestTimeoutMs: 1_000 });
      proxy.inject({ match: isUploadPart, fault, times: 1 });
      const data = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(10)];
      await write(storage, 'r.csv', data);
      expect((await read('r.csv'))!.equals(Buffer.concat(data))).toBe(true);
      expect(proxy.requests.filter(isUploadPart).length).toBeGreaterThan(3);
    });

    it('retries a part the server reads in full and never answers, with a timeout of 6 s or more (the SDK arms those timers later)', async () => {
      proxy = await FaultProxy.start(server.url);
      const { storage, read } = await s3UnderTest({ endpoint: proxy.url, requestTimeoutMs: 7_000 });
      proxy.inject({ match: isUploadPart, fault: { stall: true }, times: 1 });
      const data = [randomBytes(5 * MiB), randomBytes(5 * MiB), randomBytes(10)];
      await write(storage, 'r.csv', data);
      expect((await read('r.csv'))!.equals(Buffer.concat(data))).toBe(true);
    }, 60_000);

    it('gives up on an upload that makes no progress even when no SDK timer fires (exit 1), leaving nothing', async () => {
      proxy = await FaultProxy.start(server.url);
      // SDK timeouts far longer than the test: only our watchdog can end this.
      const { storage, listAll } = await s3UnderTest({ endpoint: proxy.url, requestTimeoutMs: 600_000 }, 2_000);
      proxy.inject({ match: (r) => r.method === 'POST' && r.url.includes('uploads'), fault: { stall: true } });
      const started = Date.now();
      const failure = write(storage, 'r.csv', [randomBytes(6 * MiB), randomBytes(6 * MiB)]);
      await expect(failure).rejects.toBeInstanceOf(TransientFailure);
      await expect(failure).rejects.toThrow(/made no progress for 2 s/);
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(await listAll()).toEqual([]);
    });

    it('gives up on a part never answered while the body waits for the database: the wait is not counted, the silence after it is (exit 1), leaving nothing', async () => {
      proxy = await FaultProxy.start(server.url);
      const { storage, listAll } = await s3UnderTest({ endpoint: proxy.url, requestTimeoutMs: 600_000 }, 2_000);
      proxy.inject({ match: isUploadPart, fault: { stall: true } });
      let ended = false;
      // A part's worth, then the database silent for longer than the stall timeout (a slow shard), then the rest.
      const body = (async function* () {
        yield randomBytes(6 * MiB);
        await new Promise((resolve) => setTimeout(resolve, 3_000));
        yield randomBytes(10);
        ended = true;
      })();
      const failure = storage.write('r.csv', body, { signal: new AbortController().signal, ifExists: 'fail', contentType: 'text/csv', metadata: {} });
      await expect(failure).rejects.toBeInstanceOf(TransientFailure);
      await expect(failure).rejects.toThrow(/made no progress for 2 s/);
      expect(ended, 'the body was read to its end: the database’s wait was not taken for a stall').toBe(true);
      expect(await listAll()).toEqual([]);
    });

    it('aborts the multipart upload and fails transiently when parts keep failing', async () => {
      proxy = await FaultProxy.start(server.url);
      const { storage, listAll } = await s3UnderTest({ endpoint: proxy.url });
      proxy.inject({ match: isUploadPart, fault: { status: 503, body: s3ErrorBody('SlowDown', 'Reduce your request rate') } });
      const failure = write(storage, 'r.csv', [randomBytes(5 * MiB), randomBytes(5 * MiB)]);
      await expect(failure).rejects.toBeInstanceOf(TransientFailure);
      await expect(failure).rejects.toMatchObject({ exitCode: 1 });
      expect(await listAll()).toEqual([]);
    });

    it.each([
      ['AccessDenied', 'Access Denied', /was denied: AccessDenied \(HTTP 403\)/],
      ['KMS.AccessDeniedException', 'not authorized to perform kms:GenerateDataKey', /refused by KMS.*kms:GenerateDataKey and kms:Decrypt/],
    ])('fails with access denied (exit 4) on %s, naming the bucket and key', async (code, message, pattern) => {
      proxy = await FaultProxy.start(server.url);
      const { storage, settings } = await s3UnderTest({ endpoint: proxy.url });
      proxy.inject({ match: (r) => r.method === 'PUT', fault: { status: 403, body: s3ErrorBody(code, message) } });
      const failure = write(storage, 'r.csv', [Buffer.from('x')]);
      await expect(failure).rejects.toBeInstanceOf(AccessWasDenied);
      await expect(failure).rejects.toThrow(pattern);
      await expect(failure).rejects.toThrow(`s3://${settings.bucket}/r.csv`);
    });
  });

  it('names a bucket that does not exist (exit 4)', async () => {
    const settings = config({ bucket: `missing-${randomBytes(4).toString('hex')}` });
    const storage = new S3Storage(s3Client(settings), { ...settings, stallTimeoutMs: 20_000 });
    await expect(write(storage, 'r.csv', [Buffer.from('x')])).rejects.toThrow(new RegExp(`bucket of s3://${settings.bucket}/r.csv does not exist`));
  });

  it('goes through HTTP_PROXY when one is set', async () => {
    const proxy = await FaultProxy.start();
    process.env.HTTP_PROXY = proxy.url;
    try {
      const { storage } = await s3UnderTest();
      await write(storage, 'r.csv', [Buffer.from('through the proxy')]);
      expect(proxy.requests.some((r) => r.method === 'PUT' && r.url.startsWith(`${server.url}/`))).toBe(true);
    } finally {
      delete process.env.HTTP_PROXY;
      await proxy.close();
    }
  });
});

