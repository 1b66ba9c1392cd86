import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ChunkBatch } from '../../src/extract/chunk-batch.ts';

const bytes = (n: number, fill: number) => Buffer.alloc(n, fill);

describe('a chunk batch', () => {
  it('hands on one batch per target size, holding the bytes in order and losing none', () => {
    const batch = new ChunkBatch(20_000, 60_000);
    const out: Buffer[] = [];
    const input: Buffer[] = [];
    for (let i = 0; i < 100; i++) {
      const chunk = bytes(8192, i);
      input.push(chunk);
      const due = batch.add(chunk);
      if (due) out.push(due);
    }
    const rest = batch.flush();
    if (rest) out.push(rest);
    // 8 KiB chunks against a 20,000-byte target: three chunks a batch.
    expect(out.slice(0, -1).every((b) => b.length === 3 * 8192)).toBe(true);
    expect(out).toHaveLength(34);
    expect(Buffer.concat(out).equals(Buffer.concat(input))).toBe(true);
  });

  it('hands on what it holds once the oldest byte waited its time, when the next chunk comes', async () => {
    const batch = new ChunkBatch(1 << 20, 20);
    expect(batch.add(bytes(10, 1))).toBeUndefined();
    await sleep(40);
    expect(batch.add(bytes(5, 2))).toEqual(Buffer.concat([bytes(10, 1), bytes(5, 2)]));
    expect(batch.flush()).toBeUndefined();
  });

  it('ignores empty chunks and has nothing to flush when it holds nothing', () => {
    const batch = new ChunkBatch(4, 60_000);
    expect(batch.add(Buffer.alloc(0))).toBeUndefined();
    expect(batch.flush()).toBeUndefined();
    expect(batch.add(bytes(3, 7))).toBeUndefined();
    expect(batch.flush()).toEqual(bytes(3, 7));
  });
});
