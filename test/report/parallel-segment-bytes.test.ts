import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvHeader } from '../../src/csv/csv-format.ts';
import { DEFAULT_SQL_FILE } from '../../src/report/report-settings.ts';
import { newWorld } from '../publish/fault-matrix-cases.ts';
import { KEYS, runInProcess, type World } from '../support/publish-worlds.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';

const NOW = () => new Date('2024-10-05T07:00:00Z');

// docs/parallel-extraction.md, "The manifest": segments' `bytes` add up to `bytes` minus the header's
// (the header's member with gzip); with zstd, one frame over the whole report, to `uncompressed_bytes` minus the header's.
describe('the manifest of a parallel compressed report', () => {
  let db: TestDatabase;
  let world: World;
  beforeAll(async () => {
    db = await createTestDatabase('segbytes', { users: 50, transactions: 3_000, days: 1, until: "'2024-10-05T00:00:00-03:00'::timestamptz" });
    world = await newWorld({ name: 'local', provider: 'local', strict: true });
  });
  afterAll(async () => world?.close());

  it.each([['none', ''], ['gzip', '.gz'], ['zstd', '.zst']] as const)('with %s, gives segments whose bytes add up as docs/publishing.md says', async (compression, suffix) => {
    const run = await runInProcess(world, db, { sqlFile: DEFAULT_SQL_FILE, ifExists: 'overwrite', now: NOW, env: { REPORT_PARALLELISM: '2', REPORT_COMPRESSION: compression } });
    expect(run.error).toBeUndefined();
    const manifest = JSON.parse((await world.storage.read(`${KEYS.csv}${suffix}.manifest.json`, new AbortController().signal))!.bytes.toString('utf8'));
    const segments = (manifest.segments as { bytes: number }[]).reduce((sum, s) => sum + s.bytes, 0);
    const header = Buffer.byteLength(csvHeader({ delimiter: ',', bom: false, escapeFormulas: true }));
    if (compression === 'zstd') expect(segments).toBe(manifest.uncompressed_bytes - header);
    else if (compression === 'none') expect(segments).toBe(manifest.bytes - header);
    // gzip: the header is its own member, of a few dozen bytes.
    else expect(manifest.bytes - segments).toBeGreaterThan(20);
    expect(manifest.segments.length).toBeGreaterThan(1);
  });
});
