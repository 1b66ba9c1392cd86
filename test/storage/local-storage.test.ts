import { mkdtemp, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
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

  it("removes a killed run's temporaries of the report it publishes, and nothing else", async () => {
    const { storage, dir } = await localStorage();
    const uuid = (n: number) => `0000000${n}-1111-2222-3333-444444444444`;
    const left = {
      csv: `.r_20241005.csv.${uuid(1)}.partial`, // a killed run's CSV: removed at once
      oldLock: `.r_20241005.csv.lock.${uuid(2)}.partial`, // its lock's, ten minutes old: removed
      freshLock: `.r_20241005.csv.lock.${uuid(3)}.partial`, // a lock being taken right now: kept
      otherDate: `.r_20241006.csv.${uuid(4)}.partial`, // another report's: kept
      lookalike: `.r_20241005.csv.gz.${uuid(5)}.partial`, // the compressed report's: kept
      notOurs: '.r_20241005.csv.notes.partial', // not a name we make: kept
    };
    for (const name of Object.values(left)) await writeFile(join(dir, name), 'x');
    const tenMinutesAgo = new Date(Date.now() - 600_000);
    await utimes(join(dir, left.oldLock), tenMinutesAgo, tenMinutesAgo);
    const body = (async function* () { yield Buffer.from('report'); })();
    await storage.write('r_20241005.csv', body, {
      signal: new AbortController().signal, ifExists: 'fail', contentType: 'text/csv', metadata: {}, beforePublish: async () => undefined,
    });
    expect((await readdir(dir)).sort()).toEqual([left.freshLock, left.lookalike, left.notOurs, left.otherDate, 'r_20241005.csv'].sort());
    // A write without the publisher's fence (the lock, the manifest) removes nothing.
    await writeFile(join(dir, left.csv), 'x');
    await storage.write('r_20241005.csv.manifest.json', (async function* () { yield Buffer.from('{}'); })(), {
      signal: new AbortController().signal, ifExists: 'fail', contentType: 'application/json', metadata: {},
    });
    expect(await readdir(dir)).toContain(left.csv);
  });

  it('refuses keys that escape its directory', async () => {
    const { storage } = await localStorage();
    expect(() => storage.locate('../elsewhere.csv')).toThrow(/escapes/);
  });
});
