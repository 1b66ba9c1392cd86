/**
 * A fixed set of part-sized buffers, reused part after part. Memory for an upload is then
 * `partSize × count` whatever the report's size, and none of it becomes garbage: a fresh buffer
 * per part (what lib-storage's chunker does with Buffer.concat) left spent 8 MiB buffers waiting
 * for V8's external-memory trigger and doubled the S3 path's peak RSS (README, Performance).
 *
 * Buffers are allocated on first use, so a small report costs one buffer, not the whole pool.
 */
export class PartBufferPool {
  readonly #partSize: number;
  readonly #capacity: number;
  readonly #free: Buffer[] = [];
  #allocated = 0;

  constructor(partSize: number, capacity: number) {
    this.#partSize = partSize;
    this.#capacity = capacity;
  }

  /** A free buffer, or a new one while fewer than `capacity` exist. The caller keeps at most `capacity` taken. */
  take(): Buffer {
    const free = this.#free.pop();
    if (free) return free;
    if (this.#allocated === this.#capacity) throw new Error(`all ${this.#capacity} part buffers are taken`);
    this.#allocated += 1;
    // Outside Node's small-buffer pool: each part buffer is its own allocation, kept for the run.
    return Buffer.allocUnsafeSlow(this.#partSize);
  }

  release(buffer: Buffer): void {
    this.#free.push(buffer);
  }
}
