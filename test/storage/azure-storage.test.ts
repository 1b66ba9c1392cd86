import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { AzureStorageConfig } from '../../src/config/config.ts';
import { AccessWasDenied, ConditionNotMet, TransientFailure } from '../../src/errors.ts';
import { AzureStorage } from '../../src/storage/azure-storage.ts';
import { azureServiceClient } from '../../src/storage/azure-client.ts';
import { countedBody, untilReadingStops } from '../support/counted-body.ts';
import { FaultProxy } from '../support/fault-proxy.ts';
import { describeStorageConformance } from './storage-conformance.ts';

const azurite = inject('azurite');
const MiB = 1024 * 1024;

function config(overrides: Partial<AzureStorageConfig> = {}): AzureStorageConfig {
  return {
    provider: 'azure',
    connectionString: azurite.connectionString,
    accountUrl: undefined,
    container: `test-${randomBytes(6).toString('hex')}`,
    prefix: '',
    encryptionScope: undefined,
    blockSizeBytes: 4 * MiB,
    maxConcurrency: 4,
    requestTimeoutMs: 10_000,
    maxAttempts: 3,
    ...overrides,
  };
}

async function azureUnderTest(overrides: Partial<AzureStorageConfig> = {}) {
  const settings = config(overrides);
  const direct = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(settings.container);
  await direct.create();
  const storage = new AzureStorage(azureServiceClient(settings).getContainerClient(settings.container), settings);
  return { settings, direct, storage, read: (key: string) => readBlob(direct, settings.prefix + key), listAll: () => listAll(direct) };
}

async function readBlob(container: ContainerClient, name: string): Promise<Buffer | undefined> {
  const blob = container.getBlockBlobClient(name);
  return (await blob.exists()) ? blob.downloadToBuffer() : undefined;
}

/** Committed blobs: uncommitted blocks of a failed upload are invisible and expire on their own. */
async function listAll(container: ContainerClient): Promise<string[]> {
  const names: string[] = [];
  for await (const blob of container.listBlobsFlat()) names.push(blob.name);
  return names.sort();
}

const isPutBlock = (r: { method: string; url: string }) => r.method === 'PUT' && r.url.includes('comp=block&');

async function* body(...parts: Buffer[]) {
  for (const part of parts) yield part;
}
const write = (storage: AzureStorage, key: string, data: Buffer[], ifExists: 'overwrite' | 'fail' = 'overwrite') =>
  storage.write(key, body(...data), { signal: new AbortController().signal, ifExists, contentType: 'text/csv; charset=utf-8', metadata: { report_date: '2024-10-05', run_id: 'r1' } });

/** A fault proxy in front of Azurite, and a connection string that goes through it. */
async function throughProxy(): Promise<{ proxy: FaultProxy; connectionString: string }> {
  const origin = new URL(azurite.url).origin;
  const proxy = await FaultProxy.start(origin);
  proxies.push(proxy);
  return { proxy, connectionString: azurite.connectionString.replace(origin, proxy.url) };
}
const proxies: FaultProxy[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
});

describe('Azure Blob storage', () => {
  describeStorageConformance('azure', () => azureUnderTest());

  it('commits the blob with its content type, metadata, prefix and the Content-MD5 of what was sent', async () => {
    const { storage, direct, settings } = await azureUnderTest({ prefix: 'reports/' });
    const data = [randomBytes(5 * MiB), randomBytes(3 * MiB + 7)];
    const { location } = await write(storage, 'relatorio_20241005.csv', data);
    expect(location).toBe(`${azurite.url}/${settings.container}/reports/relatorio_20241005.csv`);
    const properties = await direct.getBlockBlobClient('reports/relatorio_20241005.csv').getProperties();
    expect(properties.contentType).toBe('text/csv; charset=utf-8');
    expect(properties.metadata).toEqual({ report_date: '2024-10-05', run_id: 'r1' });
    expect(Buffer.from(properties.contentMD5!).toString('hex')).toBe(createHash('md5').update(Buffer.concat(data)).digest('hex'));
  });

  it('answers a conditional write on an existing blob with ConditionNotMet (409), which the publisher interprets', async () => {
    const { storage } = await azureUnderTest();
    await write(storage, 'r.csv', [Buffer.from('first')]);
    await expect(write(storage, 'r.csv', [Buffer.from('second')], 'fail')).rejects.toBeInstanceOf(ConditionNotMet);
  });

  it('sends the encryption scope on every write (Azurite ignores scopes, so the request is checked)', async () => {
    const { proxy, connectionString } = await throughProxy();
    const { storage } = await azureUnderTest({ connectionString, encryptionScope: 'relatorios-scope' });
    await write(storage, 'r.csv', [randomBytes(5 * MiB)]);
    const writes = proxy.requests.filter((r) => r.method === 'PUT' && /comp=block/.test(r.url));
    expect(writes.length).toBeGreaterThanOrEqual(2); // blocks, then the block list
    for (const request of writes) expect(request.headers['x-ms-encryption-scope']).toBe('relatorios-scope');
  });

  it('sends a body of one block or less as a single Put Blob', async () => {
    const { proxy, connectionString } = await throughProxy();
    const { storage, read } = await azureUnderTest({ connectionString });
    const data = randomBytes(4 * MiB);
    await write(storage, 'r.csv', [data.subarray(0, MiB), data.subarray(MiB)]);
    expect(proxy.requests.filter((r) => r.method === 'PUT' && /comp=block/.test(r.url))).toEqual([]);
    expect(proxy.requests.filter((r) => r.method === 'PUT')).toHaveLength(1);
    expect((await read('r.csv'))!.equals(data)).toBe(true);
  });

  it('reads the body no further than block size × (concurrency + 1) ahead of what Azure has stored, staging concurrency blocks at once', async () => {
    const { proxy, connectionString } = await throughProxy();
    const { storage, read } = await azureUnderTest({ connectionString, maxConcurrency: 2 });
    let release!: () => void;
    proxy.inject({ match: isPutBlock, fault: { hold: new Promise<void>((resolve) => (release = resolve)) } });
    const data = randomBytes(32 * MiB);
    const { body: counted, bytesRead } = countedBody(data, MiB);
    const writing = storage.write('r.csv', counted, { signal: new AbortController().signal, ifExists: 'overwrite', contentType: 'text/csv', metadata: {} });
    // Three 4 MiB block buffers full, the chunk that found no room, and at most one the stream reads ahead.
    const pulled = await untilReadingStops(bytesRead);
    expect(pulled).toBeGreaterThanOrEqual(3 * 4 * MiB + MiB);
    expect(pulled).toBeLessThanOrEqual(3 * 4 * MiB + 2 * MiB);
    expect(proxy.requests.filter(isPutBlock)).toHaveLength(2);
    release();
    await writing;
    expect((await read('r.csv'))!.equals(data)).toBe(true);
  });

  it('retries a failed block and commits the exact bytes', async () => {
    const { proxy, connectionString } = await throughProxy();
    const { storage, read } = await azureUnderTest({ connectionString });
    proxy.inject({ match: isPutBlock, fault: { status: 500, body: '<Error><Code>InternalError</Code></Error>' }, times: 1 });
    const data = [randomBytes(5 * MiB), randomBytes(1000)];
    await write(storage, 'r.csv', data);
    expect((await read('r.csv'))!.equals(Buffer.concat(data))).toBe(true);
  });

  it('fails transiently, committing nothing, when blocks keep failing', async () => {
    const { proxy, connectionString } = await throughProxy();
    const { storage, listAll } = await azureUnderTest({ connectionString, maxAttempts: 2 });
    proxy.inject({ match: isPutBlock, fault: { status: 503, body: '<Error><Code>ServerBusy</Code></Error>' } });
    await expect(write(storage, 'r.csv', [randomBytes(5 * MiB)])).rejects.toBeInstanceOf(TransientFailure);
    expect(await listAll()).toEqual([]);
  });

  it('names a container that does not exist (exit 4)', async () => {
    const settings = config();
    const storage = new AzureStorage(azureServiceClient(settings).getContainerClient(settings.container), settings);
    const failure = write(storage, 'r.csv', [Buffer.from('x')]);
    await expect(failure).rejects.toBeInstanceOf(AccessWasDenied);
    await expect(failure).rejects.toThrow(/container of .* does not exist: ContainerNotFound/);
  });

  it('reports an authorization failure as access denied without leaking the account key', async () => {
    const wrongKey = azurite.connectionString.replace(/AccountKey=[^;]+/, `AccountKey=${randomBytes(64).toString('base64')}`);
    const { settings } = await azureUnderTest();
    const storage = new AzureStorage(azureServiceClient(config({ connectionString: wrongKey, container: settings.container })).getContainerClient(settings.container), settings);
    const failure = write(storage, 'r.csv', [Buffer.from('x')]);
    await expect(failure).rejects.toBeInstanceOf(AccessWasDenied);
    await expect(failure).rejects.not.toThrow(/AccountKey/);
  });
});
