import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalStorage } from '../../src/storage/local-storage.ts';
import { describeStorageConformance } from './storage-conformance.ts';

async function localStorage() {
  const dir = await mkdtemp(join(tmpdir(), 'daily-report-local-'));
  return {
    dir,
    storage: new LocalStorage(dir),
    read: (key: string) => readFile(join(dir, key)).catch(() => undefined),
    listAll: async () => (await readdir(dir, { recursive: true })).sort(),
  };
}

describeStorageConformance('local', localStorage);

describe('local storage', () => {
  it('creates folders a key names', async () => {
    const { storage, dir } = await localStorage();
    await storage.write('2024/10/r.csv', (async function* () { yield Buffer.from('x'); })(), {
      signal: new AbortController().signal, ifExists: 'overwrite', contentType: 'text/csv', metadata: {},
    });
    expect(await readFile(join(dir, '2024/10/r.csv'), 'utf8')).toBe('x');
  });

  it('refuses keys that escape its directory', async () => {
    const { storage } = await localStorage();
    expect(() => storage.locate('../elsewhere.csv')).toThrow(/escapes/);
  });
});
