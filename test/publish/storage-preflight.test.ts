import { ContainerClient } from '@azure/storage-blob';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { AccessWasDenied, ConfigurationIsInvalid } from '../../src/errors.ts';
import { preflightStorage } from '../../src/publish/storage-preflight.ts';
import { AzureStorage } from '../../src/storage/azure-storage.ts';
import { LocalStorage } from '../../src/storage/local-storage.ts';
import { s3Client } from '../../src/storage/s3-client.ts';
import { S3Storage } from '../../src/storage/s3-storage.ts';
import { errorOf } from '../support/report-files.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { localWorld } from '../support/publish-worlds.ts';
import { s3TestConfig } from '../support/s3-test-config.ts';
import { createTestDatabase } from '../support/test-database.ts';
import { freePort } from '../support/child-processes.ts';

const s3 = inject('s3');
const options = { signal: new AbortController().signal, requestBoundMs: 10_000 };

describe('the storage preflight (the lock taken and released: what every run does before its first query)', () => {
  it('passes on a writable folder and leaves nothing behind', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'preflight-'));
    expect(await preflightStorage(new LocalStorage(dir), 'relatorio_20241005.csv', options)).toEqual({ lock: 'free' });
    expect(await readdir(dir)).toEqual([]);
  });

  it('exits 2 when LOCAL_STORAGE_DIR is a file, naming the setting', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'preflight-')), 'not-a-dir');
    await writeFile(file, 'x');
    const failure = preflightStorage(new LocalStorage(file), 'relatorio_20241005.csv', options);
    await expect(failure).rejects.toBeInstanceOf(ConfigurationIsInvalid);
    await expect(failure).rejects.toThrow(/LOCAL_STORAGE_DIR: .*not-a-dir.* is not a directory/);
  });

  it.skipIf(!('url' in s3))('exits 4 naming a bucket that does not exist', async () => {
    const settings = s3TestConfig((s3 as { url: string }).url, { bucket: `missing-${randomBytes(4).toString('hex')}` });
    const storage = new S3Storage(s3Client(settings), { ...settings, stallTimeoutMs: 20_000 });
    const failure = preflightStorage(storage, 'relatorio_20241005.csv', options);
    await expect(failure).rejects.toBeInstanceOf(AccessWasDenied);
    await expect(failure).rejects.toThrow(new RegExp(`bucket of s3://${settings.bucket}/relatorio_20241005.csv.lock does not exist`));
  });

  it('reports a lock another run holds, naming it, without taking it', async () => {
    const world = await localWorld();
    const held = new LocalStorage(world.childEnv().LOCAL_STORAGE_DIR!);
    await held.write('relatorio_20241005.csv.lock', (async function* () {
      yield Buffer.from(JSON.stringify({ run_id: 'r-1', key: 'relatorio_20241005.csv', holder: 'pod-a', pid: 1, started_at: new Date().toISOString(), renewed_at: new Date().toISOString(), expires_at: new Date(Date.now() + 60_000).toISOString(), version: 'x' }));
    })(), { signal: options.signal, ifExists: 'fail', contentType: 'application/json', metadata: {} });
    const result = await preflightStorage(world.storage, 'relatorio_20241005.csv', options);
    expect(result).toMatchObject({ lock: 'held', message: expect.stringMatching(/another run is publishing relatorio_20241005\.csv since .*, run id r-1 on pod-a/) });
    expect((await world.state()).lock?.run_id).toBe('r-1');
  });

  it('a run with LOCAL_STORAGE_DIR a file exits 2 before it connects to the database', async () => {
    const db = await createTestDatabase('preflight');
    const file = join(db.outDir, 'a-file');
    await writeFile(file, 'x');
    // Nothing listens on this port: a run that tried the database first would exit 1.
    const result = await runDailyReport(['run', '--date', '2024-10-05'], { env: { ...db.env, LOCAL_STORAGE_DIR: file, PGHOST: '127.0.0.1', PGPORT: String(await freePort()) } });
    expect(result.code, result.stderr).toBe(2);
    expect(errorOf(result).msg).toMatch(/LOCAL_STORAGE_DIR: .*a-file is (a file, )?not a directory/);
  });
});

describe('locations in logs, errors and manifests', () => {
  it('an Azure blob located through a SAS URL shows neither the query (sig=…) nor userinfo', () => {
    const container = new ContainerClient('https://user:pass@account.blob.core.windows.net/relatorios?sv=2024-01-01&sp=rcw&sig=SECRET-signature%3D');
    const storage = new AzureStorage(container, { prefix: 'diarios/', blockSizeBytes: 8 * 1024 * 1024, maxConcurrency: 2 });
    const location = storage.locate('relatorio_20241005.csv');
    expect(location).toBe('https://account.blob.core.windows.net/relatorios/diarios/relatorio_20241005.csv');
    expect(location).not.toMatch(/sig=|SECRET|pass/);
  });
});
