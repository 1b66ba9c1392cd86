import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { publishedDates } from '../../src/ops/published-dates.ts';
import { LocalStorage } from '../../src/storage/local-storage.ts';

const signal = new AbortController().signal;

/** A report folder where each date is published (manifest present) under the given key, or only half-written. */
function folder(files: string[]): { storage: { exists(key: string, signal: AbortSignal): Promise<boolean> }; asked: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'daily-report-published-'));
  for (const file of files) {
    mkdirSync(join(dir, file, '..'), { recursive: true });
    writeFileSync(join(dir, file), file.endsWith('.json') ? '{}' : 'x');
  }
  const local = new LocalStorage(dir);
  const asked: string[] = [];
  return { storage: { exists: (key, s) => (asked.push(key), (void s, local.exists(key))) }, asked };
}

describe('backfill --missing-only: which dates are published', () => {
  it('a report published uncompressed yesterday and compressed today both count, each under the key it was found', async () => {
    const { storage } = folder([
      'relatorio_20240801.csv', 'relatorio_20240801.csv.manifest.json',
      'relatorio_20240802.csv.gz', 'relatorio_20240802.csv.gz.manifest.json',
      'relatorio_20240803.csv.zst', 'relatorio_20240803.csv.zst.manifest.json',
      // A compressed report without its manifest is an unfinished night: missing.
      'relatorio_20240804.csv.gz',
    ]);
    const published = await publishedDates(storage, ['2024-08-01', '2024-08-02', '2024-08-03', '2024-08-04', '2024-08-05'], { keyTemplate: 'relatorio_{YYYYMMDD}.csv', compression: 'gzip' }, signal);
    expect(Object.fromEntries(published)).toEqual({
      '2024-08-01': 'relatorio_20240801.csv',
      '2024-08-02': 'relatorio_20240802.csv.gz',
      '2024-08-03': 'relatorio_20240803.csv.zst',
    });
  });

  it('asks for the configured key first: a day published as configured costs one request', async () => {
    const { storage, asked } = folder(['d/2024-08-01.csv.zst', 'd/2024-08-01.csv.zst.manifest.json']);
    const published = await publishedDates(storage, ['2024-08-01', '2024-08-02'], { keyTemplate: 'd/{YYYY-MM-DD}.csv', compression: 'zstd' }, signal);
    expect([...published.keys()]).toEqual(['2024-08-01']);
    expect(asked).toEqual([
      'd/2024-08-01.csv.zst.manifest.json',
      'd/2024-08-02.csv.zst.manifest.json', 'd/2024-08-02.csv.manifest.json', 'd/2024-08-02.csv.gz.manifest.json',
    ]);
  });

  it('a template ending in the suffix (gzip) still finds the uncompressed report of the same day', async () => {
    const { storage } = folder(['r_20240801.csv', 'r_20240801.csv.manifest.json']);
    const published = await publishedDates(storage, ['2024-08-01'], { keyTemplate: 'r_{YYYYMMDD}.csv.gz', compression: 'gzip' }, signal);
    expect(Object.fromEntries(published)).toEqual({ '2024-08-01': 'r_20240801.csv' });
  });
});
