import { createHash } from 'node:crypto';
import { zstdDecompressSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SQL_FILE } from '../../src/report/report-settings.ts';
import { newWorld, worldsOfThisRun } from '../publish/fault-matrix-cases.ts';
import { DECODERS, decompressWith } from '../support/decompress-tools.ts';
import { KEYS, runInProcess, type World } from '../support/publish-worlds.ts';
import { createTestDatabase, type TestDatabase } from '../support/test-database.ts';

/**
 * REPORT_COMPRESSION with REPORT_PARALLELISM > 1: the workers' segments assembled into one
 * compressed object that outside decoders turn back into the single stream's plain report.
 */

// The report date's day in America/Sao_Paulo, fixed so :extracted_at is the same in every run.
const NOW = () => new Date('2024-10-05T07:00:00Z');
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('a parallel run with REPORT_COMPRESSION', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('parallel_gz', { users: 400, transactions: 60_000, days: 1, until: "'2024-10-05T00:00:00-03:00'::timestamptz" });
  });

  describe.each(worldsOfThisRun())('on $name', (spec) => {
    let world: World;
    let reference: Buffer;
    beforeAll(async () => {
      world = await newWorld(spec);
      const single = await runInProcess(world, db, { sqlFile: DEFAULT_SQL_FILE, ifExists: 'overwrite', now: NOW });
      expect(single.error).toBeUndefined();
      reference = (await world.state()).csv!.bytes;
    });
    afterAll(async () => world?.close());

    it.each([
      ['gzip', '.gz'],
      ['zstd', '.zst'],
    ] as const)('with %s at N = 4, publishes <key>%s that every outside decoder turns into the N = 1 plain report', async (compression, suffix) => {
      const run = await runInProcess(world, db, { sqlFile: DEFAULT_SQL_FILE, ifExists: 'overwrite', now: NOW, env: { REPORT_PARALLELISM: '4', REPORT_COMPRESSION: compression } });
      expect(run.error).toBeUndefined();
      const key = `${KEYS.csv}${suffix}`;
      const signal = new AbortController().signal;
      const stored = (await world.storage.read(key, signal))!.bytes;
      for (const decoder of DECODERS[compression]) expect(decompressWith(decoder, stored).equals(reference), `${decoder} gives the plain report`).toBe(true);
      const manifest = JSON.parse((await world.storage.read(`${key}.manifest.json`, signal))!.bytes.toString('utf8'));
      expect(manifest).toMatchObject({ key, compression, bytes: stored.length, sha256: sha256(stored), uncompressed_bytes: reference.length, rows: run.summary!.rows });
      expect(manifest.segments.length).toBeGreaterThan(4);
      if (compression === 'zstd') {
        // One frame over the whole report: even a decoder that stops after the first frame (Node's own) reads all of it.
        expect(zstdDecompressSync(stored).equals(reference)).toBe(true);
        expect(manifest.uncompressed_sha256).toBe(sha256(reference));
      } else {
        // A member per segment, compressed by its worker: the plain CSV never existed in order in one place.
        expect(manifest.uncompressed_sha256).toBeNull();
      }
    });
  });
});
