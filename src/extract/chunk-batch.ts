/**
 * Gathers the small chunks a socket delivers into fewer, larger ones. PostgreSQL sends COPY's
 * output in 8 KiB network buffers, so a million rows arrive as ~8,000 chunks, and every one of them
 * cost a pass through each stage after the extraction (hash, count, compressor, file write or part
 * buffer): 11 % of the job's CPU went to dispatching 8 KiB file writes alone (measured, docs/performance.md).
 *
 * A batch is handed on once it holds `targetBytes`, or once `maxHoldMs` have passed since its first
 * byte — checked when the next chunk arrives — so under a trickle each chunk still moves on when
 * the next one comes, and nothing waits for bytes that may never come.
 */
export class ChunkBatch {
  readonly #targetBytes: number;
  readonly #maxHoldMs: number;
  #chunks: Buffer[] = [];
  #bytes = 0;
  #since = 0;

  constructor(targetBytes = 256 * 1024, maxHoldMs = 50) {
    this.#targetBytes = targetBytes;
    this.#maxHoldMs = maxHoldMs;
  }

  /** Adds `chunk`; returns the batch when it is due, else undefined. */
  add(chunk: Buffer): Buffer | undefined {
    if (chunk.length === 0) return undefined;
    if (this.#bytes === 0) this.#since = performance.now();
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    if (this.#bytes >= this.#targetBytes || performance.now() - this.#since >= this.#maxHoldMs) return this.flush();
    return undefined;
  }

  /** Whatever is held (at the end of the stream), or undefined. */
  flush(): Buffer | undefined {
    if (this.#bytes === 0) return undefined;
    const batch = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#bytes);
    this.#chunks = [];
    this.#bytes = 0;
    return batch;
  }
}
