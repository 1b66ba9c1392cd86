import { mkdtemp, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { QueryIsInvalid, ReportDataIsInvalid, TransientFailure } from '../../src/errors.ts';
import { OrderedMerge, type SegmentProducer } from '../../src/report/ordered-merge.ts';
import { SPILL_BATCH_BYTES } from '../../src/report/spilled-segment.ts';

/**
 * The worker pool and the ordered merge, as pure logic: producers are generators that yield
 * numbered chunks after a few ticks (no timers, no database), so each test can see the order
 * of bytes, how many workers ran, what was spilled and what was left on disk.
 */

const spillDir = () => mkdtemp(join(tmpdir(), 'merge-test-'));

/** Segment i is `chunks[i]` chunks of `size` bytes, each chunk's bytes the segment's letter; `ticks` delays each chunk. */
function segments(chunks: readonly number[], size = 100) {
  return chunks.map((count, i) => Array.from({ length: count }, (_, c) => Buffer.alloc(size, String.fromCharCode(97 + ((i + c) % 26)))));
}

function producer(data: Buffer[][], ticks: (index: number) => number, seen?: { running: number; maxRunning: number; started: number[]; aborted: number[] }): SegmentProducer {
  return async function* (index, signal) {
    if (seen) {
      seen.running++;
      seen.maxRunning = Math.max(seen.maxRunning, seen.running);
      seen.started.push(index);
    }
    try {
      for (const chunk of data[index]!) {
        for (let t = 0; t < ticks(index); t++) await tick();
        if (signal.aborted) {
          seen?.aborted.push(index);
          throw new TransientFailure('cancelled', { phase: 'extract' });
        }
        yield chunk;
      }
    } finally {
      if (seen) seen.running--;
    }
  };
}

async function collect(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of body) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

describe('the ordered merge of segments', () => {
  it.each([1, 2, 3, 4, 8])('yields every segment in report order, whatever their speeds, with %i workers', async (workers) => {
    const data = segments([3, 0, 7, 1, 12, 0, 5, 2, 9, 4]);
    const dir = await spillDir();
    const seen = { running: 0, maxRunning: 0, started: [] as number[], aborted: [] as number[] };
    // Later segments are faster: they finish first and must wait (spilled) for their turn.
    const merge = new OrderedMerge({ segments: data.length, workers, lookAhead: 2 * workers, spillDir: dir, spillName: 'run', signal: new AbortController().signal }, producer(data, (i) => 10 - i, seen));

    const body = await collect(merge.body());

    expect(body.equals(Buffer.concat(data.flat()))).toBe(true);
    expect(seen.maxRunning).toBeLessThanOrEqual(workers);
    if (workers > 1) expect(seen.maxRunning).toBeGreaterThan(1);
    expect(seen.started).toEqual([...seen.started].sort((a, b) => a - b));
    expect(await readdir(dir)).toEqual([]);
  });

  it('never starts a segment beyond the look-ahead of the oldest one not yet delivered', async () => {
    const data = segments([40, 1, 1, 1, 1, 1, 1, 1]);
    const dir = await spillDir();
    const seen = { running: 0, maxRunning: 0, started: [] as number[], aborted: [] as number[] };
    let startedWhileHeadRuns = 0;
    let headDone = false;
    const inner = producer(data, () => 1, seen);
    const produce: SegmentProducer = async function* (index, signal) {
      if (!headDone && index > 0) startedWhileHeadRuns = Math.max(startedWhileHeadRuns, index);
      yield* inner(index, signal);
      if (index === 0) headDone = true;
    };
    const merge = new OrderedMerge({ segments: data.length, workers: 4, lookAhead: 3, spillDir: dir, spillName: 'run', signal: new AbortController().signal }, produce);

    const body = await collect(merge.body());

    expect(body.equals(Buffer.concat(data.flat()))).toBe(true);
    // While segment 0 runs, only segments 1 and 2 may start (k < 0 + 3).
    expect(startedWhileHeadRuns).toBe(2);
  });

  it('spills the segments running ahead to files of their own (mode 0600) and replays them whole', async () => {
    // Segment 1 is large (several spill batches) and done long before segment 0.
    const data = [[Buffer.alloc(10, 'a')], Array.from({ length: 40 }, (_, c) => Buffer.alloc(30_000, String.fromCharCode(98 + (c % 20))))];
    const dir = await spillDir();
    let headReleased!: () => void;
    const release = new Promise<void>((resolve) => (headReleased = resolve));
    const modes: number[] = [];
    const produce: SegmentProducer = async function* (index) {
      if (index === 0) {
        await release;
        const files = await readdir(dir);
        for (const file of files) modes.push((await stat(join(dir, file))).mode & 0o777);
        yield* data[0]!;
        return;
      }
      yield* data[1]!;
      headReleased();
    };
    const merge = new OrderedMerge({ segments: 2, workers: 2, lookAhead: 2, spillDir: dir, spillName: 'run-x', signal: new AbortController().signal }, produce);

    const body = await collect(merge.body());

    expect(body.equals(Buffer.concat(data.flat()))).toBe(true);
    expect(40 * 30_000).toBeGreaterThan(2 * SPILL_BATCH_BYTES);
    expect(modes).toEqual([0o600]);
    expect(await readdir(dir)).toEqual([]);
  });

  it('lets the oldest segment run only as fast as the body is read (no spill, one chunk in hand)', async () => {
    const data = segments([50]);
    const dir = await spillDir();
    let produced = 0;
    const produce: SegmentProducer = async function* () {
      for (const chunk of data[0]!) {
        produced++;
        yield chunk;
      }
    };
    const merge = new OrderedMerge({ segments: 1, workers: 2, lookAhead: 4, spillDir: dir, spillName: 'run', signal: new AbortController().signal }, produce);
    let read = 0;
    let maxAhead = 0;
    for await (const _ of merge.body()) {
      read++;
      for (let t = 0; t < 5; t++) await tick();
      maxAhead = Math.max(maxAhead, produced - read);
      if (read === 10) expect(await readdir(dir)).toEqual([]);
    }
    expect(read).toBe(50);
    expect(maxAhead).toBeLessThanOrEqual(2);
  });

  it('with one worker and a look-ahead of one, runs only the oldest segment and never writes a spill file', async () => {
    const data = segments([20, 35, 0, 50, 10], 20_000);
    const dir = await spillDir();
    let filesSeen = 0;
    const inner = producer(data, () => 1);
    const produce: SegmentProducer = async function* (index, signal) {
      for await (const chunk of inner(index, signal)) {
        filesSeen += (await readdir(dir)).length;
        yield chunk;
      }
    };
    const merge = new OrderedMerge({ segments: data.length, workers: 1, lookAhead: 1, spillDir: dir, spillName: 'run', signal: new AbortController().signal }, produce);

    expect((await collect(merge.body())).equals(Buffer.concat(data.flat()))).toBe(true);
    expect(filesSeen).toBe(0);
  });

  it('yields nothing for zero segments, and nothing for segments without bytes', async () => {
    const dir = await spillDir();
    const none = new OrderedMerge({ segments: 0, workers: 4, lookAhead: 8, spillDir: dir, spillName: 'run', signal: new AbortController().signal }, producer([], () => 0));
    expect((await collect(none.body())).length).toBe(0);
    const empty = new OrderedMerge({ segments: 5, workers: 3, lookAhead: 6, spillDir: dir, spillName: 'run', signal: new AbortController().signal }, producer(segments([0, 0, 0, 0, 0]), () => 1));
    expect((await collect(empty.body())).length).toBe(0);
  });

  it('when a worker fails, cancels the others, ends the body with its error and leaves no spill file', async () => {
    const data = segments([30, 30, 30, 30, 30, 30]);
    const dir = await spillDir();
    const seen = { running: 0, maxRunning: 0, started: [] as number[], aborted: [] as number[] };
    const inner = producer(data, (i) => (i === 0 ? 6 : 1), seen);
    const failure = new ReportDataIsInvalid('division by zero in segment 3', { phase: 'extract' });
    const produce: SegmentProducer = async function* (index, signal) {
      let n = 0;
      for await (const chunk of inner(index, signal)) {
        if (index === 3 && ++n === 10) throw failure;
        yield chunk;
      }
    };
    const merge = new OrderedMerge({ segments: data.length, workers: 4, lookAhead: 8, spillDir: dir, spillName: 'run', signal: new AbortController().signal }, produce);

    await expect(collect(merge.body())).rejects.toBe(failure);

    expect(seen.running).toBe(0);
    expect(seen.aborted).toContain(0);
    expect(seen.started).not.toContain(5);
    expect(await readdir(dir)).toEqual([]);
  });

  it('reports a permanent failure over a transient one that came first, and never a cancellation', async () => {
    const dir = await spillDir();
    const permanent = new QueryIsInvalid('the report query cannot run', { phase: 'extract' });
    const produce: SegmentProducer = async function* (index, signal) {
      yield Buffer.from(`segment ${index}\n`);
      if (index === 1) throw new TransientFailure('connection lost', { phase: 'extract' });
      if (index === 2) {
        // It fails of its own cause, a little after the transient failure cancelled the run.
        await tick();
        await tick();
        throw permanent;
      }
      for (;;) {
        await tick();
        if (signal.aborted) throw new TransientFailure('canceling statement due to user request', { phase: 'extract' });
      }
    };
    const merge = new OrderedMerge({ segments: 4, workers: 4, lookAhead: 4, spillDir: dir, spillName: 'run', signal: new AbortController().signal }, produce);

    await expect(collect(merge.body())).rejects.toBe(permanent);
    expect(await readdir(dir)).toEqual([]);
  });

  it('reports the first failure, not the cancellations it caused, when every failure is transient', async () => {
    const dir = await spillDir();
    const first = new TransientFailure('server closed the connection', { phase: 'extract' });
    const produce: SegmentProducer = async function* (index, signal) {
      yield Buffer.from('x');
      if (index === 2) throw first;
      for (;;) {
        await tick();
        if (signal.aborted) throw new TransientFailure(`segment ${index} cancelled`, { phase: 'extract' });
      }
    };
    const merge = new OrderedMerge({ segments: 4, workers: 4, lookAhead: 4, spillDir: dir, spillName: 'run', signal: new AbortController().signal }, produce);

    await expect(collect(merge.body())).rejects.toBe(first);
  });

  it('when the run is aborted (SIGTERM), every worker sees the signal and no spill file is left', async () => {
    const data = segments([1_000, 1_000, 1_000, 1_000]);
    const dir = await spillDir();
    const controller = new AbortController();
    const seen = { running: 0, maxRunning: 0, started: [] as number[], aborted: [] as number[] };
    const merge = new OrderedMerge({ segments: 4, workers: 4, lookAhead: 4, spillDir: dir, spillName: 'run', signal: controller.signal }, producer(data, () => 1, seen));
    let read = 0;

    await expect(
      (async () => {
        for await (const _ of merge.body()) if (++read === 20) controller.abort(new Error('received SIGTERM'));
      })(),
    ).rejects.toThrow();

    expect(seen.running).toBe(0);
    expect(seen.aborted.sort()).toEqual([0, 1, 2, 3]);
    expect(await readdir(dir)).toEqual([]);
  });

  it('when the body is abandoned mid-way (the upload failed), close cancels the workers and removes the spill files', async () => {
    const data = segments([500, 500, 500], 1_000);
    const dir = await spillDir();
    const seen = { running: 0, maxRunning: 0, started: [] as number[], aborted: [] as number[] };
    const merge = new OrderedMerge({ segments: 3, workers: 3, lookAhead: 3, spillDir: dir, spillName: 'run', signal: new AbortController().signal }, producer(data, (i) => (i === 0 ? 3 : 0), seen));
    const body = merge.body();
    for (let i = 0; i < 50; i++) await body.next();
    expect((await readdir(dir)).length).toBeGreaterThan(0);

    await merge.close();

    expect(seen.running).toBe(0);
    expect(await readdir(dir)).toEqual([]);
  });
});
