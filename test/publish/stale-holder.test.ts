import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, inject, it } from 'vitest';
import type { ProviderName } from '../../src/publish/publish-steps.ts';
import { ReportPublisher } from '../../src/publish/report-publisher.ts';
import type { ReportStorage, StoredObject, WriteOptions } from '../../src/storage/report-storage.ts';
import { azureWorld, KEYS, localWorld, s3World, sha256, type World } from '../support/publish-worlds.ts';

/**
 * I2 and I3 when the lock's holder is paused past its lock's lifetime (SIGSTOP, a frozen VM, a hung
 * NFS call — or, what is the same from the next run's side, the next run's clock ahead by more than
 * the lock's lifetime): the next run takes the lock over, as the protocol allows. Whatever order the
 * two runs' remaining requests then land in, the manifest that ends up beside the CSV must describe it.
 *
 * The pause is a gate in front of one request of the paused run (no timing); the skew is the next
 * run's `now`, ahead of the real clock by more than the lock's lifetime.
 */
const s3 = inject('s3');
const azurite = inject('azurite');
const providers = (['s3', 'azure', 'local'] as const).filter((p) => p !== 's3' || 'url' in s3);
const LEASE_MS = 60_000;

async function newWorld(provider: ProviderName): Promise<World> {
  if (provider === 's3') return s3World((s3 as { url: string }).url);
  if (provider === 'azure') return azureWorld(azurite);
  return localWorld();
}

function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** The storage with a pause in front of the `nth` call that matches (the paused run's view of it). */
function pausedAt(storage: ReportStorage, matches: (method: 'head' | 'write', key: string) => boolean, nth: number) {
  const reached = gate();
  const resume = gate();
  let seen = 0;
  const pause = async (method: 'head' | 'write', key: string) => {
    if (matches(method, key) && ++seen === nth) {
      reached.open();
      await resume.promise;
    }
  };
  const wrapped: ReportStorage = {
    provider: storage.provider,
    locate: (key) => storage.locate(key),
    exists: (key, signal) => storage.exists(key, signal),
    head: async (key, signal) => {
      await pause('head', key);
      return storage.head(key, signal);
    },
    read: (key, signal) => storage.read(key, signal),
    write: async (key, body, options: WriteOptions) => {
      await pause('write', key);
      return storage.write(key, body, options);
    },
    remove: (key, options) => storage.remove(key, options),
  };
  return { storage: wrapped, reached: reached.promise, resume: resume.open };
}

function publisher(storage: ReportStorage, runId: string, now: () => Date): ReportPublisher {
  return new ReportPublisher({
    storage, key: KEYS.csv, manifestKey: KEYS.manifest, runId, ifExists: 'overwrite', lockLeaseMs: LEASE_MS,
    stallTimeoutMs: 30_000, requestBoundMs: 30_000, now,
  });
}

/** One run's report: distinct bytes per run, and a manifest of the keys consumers (and the publisher) read. */
function input(runId: string, before?: Promise<void>) {
  const bytes = Buffer.from(`data_extracao,nome_usuario\r\n${runId},x\r\n`);
  return {
    bytes,
    input: {
      body: (async function* () {
        if (before) await before;
        yield bytes;
      })(),
      signal: new AbortController().signal,
      contentType: 'text/csv',
      metadata: { run_id: runId },
      bytes: () => bytes.length,
      manifest: (csv: StoredObject, location: string) =>
        Buffer.from(JSON.stringify({ key: KEYS.csv, bytes: bytes.length, sha256: sha256(bytes), run_id: runId, object: { location, etag: csv.etag } })),
    },
  };
}

async function settle<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  try {
    return { value: await promise };
  } catch (error) {
    return { error };
  }
}

describe.each(providers)('%s: a run paused past its lock’s lifetime, and the run that took its lock over', (provider) => {
  let world: World;
  afterEach(async () => world?.close());

  async function expectManifestDescribesCsv(): Promise<Record<string, any>> {
    const state = await world.state();
    expect(state.csv, 'a CSV under the final name').toBeDefined();
    expect(state.manifest, 'a manifest beside it').toBeDefined();
    expect(state.manifest!.sha256, 'I2: the manifest beside the CSV describes another run’s CSV').toBe(sha256(state.csv!.bytes));
    expect(state.manifest!.object.etag, 'I2: the manifest names another object').toBe(state.csv!.etag);
    expect(state.lock, 'no lock left behind').toBeUndefined();
    return state.manifest!;
  }

  it('paused before verifying its CSV: it writes no manifest once it resumes, and the other run’s pair is published', async () => {
    world = await newWorld(provider);
    const runA = randomUUID();
    const runB = randomUUID();
    // Run A's second look at the CSV is its verification (the first is `state.read`).
    const paused = pausedAt(world.storage, (method, key) => method === 'head' && key === KEYS.csv, 2);
    const a = publisher(paused.storage, runA, () => new Date());
    expect(await a.begin(new AbortController().signal)).toBe('publish');
    const aDone = settle(a.publish(input(runA).input));
    await paused.reached;

    const b = publisher(world.storage, runB, () => new Date(Date.now() + 2 * LEASE_MS));
    expect(await b.begin(new AbortController().signal), 'B takes over A’s expired lock').toBe('publish');
    const bBodyGate = gate();
    const bDone = settle(b.publish(input(runB, bBodyGate.promise).input));

    paused.resume();
    const aResult = await aDone;
    bBodyGate.open();
    const bResult = await bDone;

    expect(bResult.error, 'B publishes').toBeUndefined();
    expect(aResult.error, 'A learns it lost the lock before writing its manifest').toBeDefined();
    expect(String((aResult.error as Error).message)).toMatch(/lost the lock|not held/);
    const manifest = await expectManifestDescribesCsv();
    expect(manifest.run_id).toBe(runB);
  });

  it('paused with its manifest write in flight: the manifest beside the CSV describes it, whichever run wrote last', async () => {
    world = await newWorld(provider);
    const runA = randomUUID();
    const runB = randomUUID();
    const paused = pausedAt(world.storage, (method, key) => method === 'write' && key === KEYS.manifest, 1);
    const a = publisher(paused.storage, runA, () => new Date());
    expect(await a.begin(new AbortController().signal)).toBe('publish');
    const aDone = settle(a.publish(input(runA).input));
    await paused.reached;

    const b = publisher(world.storage, runB, () => new Date(Date.now() + 2 * LEASE_MS));
    expect(await b.begin(new AbortController().signal)).toBe('publish');
    expect(b.previous, 'B sees A’s CSV without a manifest').toBe('incomplete');
    const bBodyGate = gate();
    const bDone = settle(b.publish(input(runB, bBodyGate.promise).input));

    // A's manifest lands after B looked, before B replaces the CSV.
    paused.resume();
    await aDone;
    bBodyGate.open();
    const bResult = await bDone;

    const manifest = await expectManifestDescribesCsv();
    expect(bResult.error, 'B, holding the lock, publishes its own pair').toBeUndefined();
    expect(manifest.run_id).toBe(runB);
  });
});


describe('local: a run paused between its identity check and its rename, past its lock’s lifetime', () => {
  it('finds its temporary file removed by the run that took its lock over, and leaves that run’s published pair', async () => {
    const world = await localWorld();
    // A published report first, so that the runs under test replace it (check the old CSV's identity, then rename).
    const first = randomUUID();
    const p = publisher(world.storage, first, () => new Date());
    expect(await p.begin(new AbortController().signal)).toBe('publish');
    await p.publish(input(first).input);

    const runA = randomUUID();
    const runB = randomUUID();
    const held = gate();
    const released = new AbortController();
    // A's rename of its CSV is held (a hung NFS call): its identity check of the old CSV has already passed.
    world.inject({ object: 'csv', operations: ['rename'] }, 'SIGTERM while held', { onHeld: held.open, released: released.signal });
    const a = publisher(world.storage, runA, () => new Date());
    expect(await a.begin(new AbortController().signal)).toBe('publish');
    const aDone = settle(a.publish(input(runA).input));
    await held.promise;

    const b = publisher(world.storage, runB, () => new Date(Date.now() + 2 * LEASE_MS));
    expect(await b.begin(new AbortController().signal)).toBe('publish');
    const bResult = await settle(b.publish(input(runB).input));
    expect(bResult.error, 'B publishes over the old report').toBeUndefined();

    released.abort();
    const aResult = await aDone;
    expect(aResult.error, 'A stops: it lost the lock').toBeDefined();

    // B, under the lock, removed the temporary file A was about to rename (a killed run's, for all B
    // can tell): A's rename finds nothing, and B's pair stands.
    const state = await world.state();
    expect(state.csv!.bytes.toString()).toContain(runB);
    expect(state.manifest?.run_id).toBe(runB);
    expect(state.manifest!.sha256, 'I2').toBe(sha256(state.csv!.bytes));
    expect(state.leftovers).toEqual([]);
    expect(a.leftBehind()).toMatch(/without (a|its) manifest|not yet published/);
  });
});
