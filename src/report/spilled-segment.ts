import { randomBytes } from 'node:crypto';
import { open, readdir, rm, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

/** Spilled bytes are written in batches of this size (and replayed in reads of it): one per worker in memory. */
export const SPILL_BATCH_BYTES = 256 * 1024;

const END = Symbol('end');

/**
 * One segment's bytes on their way from its worker to the merged body. While an earlier segment is
 * still being delivered, the worker's chunks go to a spill file of its own; once the segment's
 * turn comes (`promote`), what was spilled is replayed and the rest is handed over chunk by chunk,
 * each `accept` waiting until the body took the chunk — so back-pressure reaches the worker's
 * database stream again. `dispose` removes the file whatever happened.
 */
export class SpilledSegment {
  readonly #dir: string;
  readonly #name: string;
  #direct: boolean;
  /** Producer and promotion take turns through this chain, so a batch is never half written when the segment switches. */
  #turn: Promise<void> = Promise.resolve();
  #batch: Buffer[] = [];
  #batchBytes = 0;
  #file: FileHandle | undefined;
  #path: string | undefined;
  #spilled = 0;
  /** The chunk handed over and the producer waiting for it to be taken. */
  #offered: { chunk: Buffer | typeof END; taken: () => void } | undefined;
  #waiting: { resolve: (chunk: Buffer | typeof END) => void; reject: (error: unknown) => void } | undefined;
  #failure: { error: unknown } | undefined;
  #disposed = false;

  /** `direct`: the segment's turn has already come when it starts (nothing to spill). */
  constructor(options: { readonly dir: string; readonly name: string; readonly direct: boolean }) {
    this.#dir = options.dir;
    this.#name = options.name;
    this.#direct = options.direct;
  }

  /** Bytes written to the spill file so far. */
  get spilledBytes(): number {
    return this.#spilled;
  }

  /** The spill file's path while it exists. */
  get spillPath(): string | undefined {
    return this.#path;
  }

  /** Producer: one chunk. Resolves once it is spilled (batched) or taken by the body. */
  async accept(chunk: Buffer): Promise<void> {
    if (!this.#direct) {
      let spilled = false;
      await this.#inTurn(async () => {
        if (this.#direct) return;
        spilled = true;
        this.#batch.push(chunk);
        this.#batchBytes += chunk.length;
        if (this.#batchBytes >= SPILL_BATCH_BYTES) await this.#flush();
      });
      if (spilled) return;
    }
    await this.#offer(chunk);
  }

  /** Producer: the segment's last byte was accepted. */
  async finish(): Promise<void> {
    if (!this.#direct) {
      let spilled = false;
      await this.#inTurn(async () => {
        if (this.#direct) return;
        await this.#flush();
        spilled = true;
        this.#finishedSpilled = true;
      });
      if (spilled) return;
    }
    await this.#offer(END);
  }

  #finishedSpilled = false;

  /** Producer: the segment failed. The body, if it waits on this segment, gets the error. */
  fail(error: unknown): void {
    this.#failure ??= { error };
    this.#waiting?.reject(error);
    this.#waiting = undefined;
    this.#offered?.taken();
    this.#offered = undefined;
  }

  /**
   * Body: the segment's bytes in order — the spilled ones first, then the live ones — until the
   * producer finished. Throws the producer's failure.
   */
  async *drain(): AsyncGenerator<Buffer> {
    let finishedBeforeTurn = false;
    let pending: Buffer[] = [];
    await this.#inTurn(async () => {
      // The batch not yet written goes straight to the body, after the file: no write for it.
      pending = this.#batch;
      this.#batch = [];
      this.#batchBytes = 0;
      finishedBeforeTurn = this.#finishedSpilled;
      this.#direct = true;
    });
    if (this.#failure) throw this.#failure.error;
    if (this.#spilled > 0) yield* this.#replay();
    yield* pending;
    if (finishedBeforeTurn) return;
    for (;;) {
      const chunk = await this.#take();
      if (chunk === END) return;
      yield chunk;
    }
  }

  /** Removes the spill file (idempotent); a producer still offering is released. */
  async dispose(): Promise<void> {
    this.#disposed = true;
    this.#offered?.taken();
    this.#offered = undefined;
    // Wait for a batch being written, so the file is neither written nor recreated after its removal.
    await this.#turn;
    const file = this.#file;
    const path = this.#path;
    this.#file = undefined;
    this.#path = undefined;
    await file?.close().catch(() => undefined);
    if (path !== undefined) await rm(path, { force: true });
  }

  async *#replay(): AsyncGenerator<Buffer> {
    const file = this.#file!;
    for (let position = 0; position < this.#spilled; ) {
      const buffer = Buffer.allocUnsafe(Math.min(SPILL_BATCH_BYTES, this.#spilled - position));
      const { bytesRead } = await file.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) throw new Error(`spill file ${this.#path} ended at ${position} of ${this.#spilled} bytes`);
      position += bytesRead;
      yield bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
    }
  }

  async #flush(): Promise<void> {
    if (this.#batchBytes === 0) return;
    if (this.#disposed) throw new Error('the segment was disposed while spilling');
    const bytes = this.#batch.length === 1 ? this.#batch[0]! : Buffer.concat(this.#batch, this.#batchBytes);
    this.#batch = [];
    this.#batchBytes = 0;
    if (!this.#file) {
      // O_EXCL: never write into a file someone else prepared; 0600: report rows are nobody else's to read.
      this.#path = join(this.#dir, `${this.#name}-${randomBytes(6).toString('hex')}.spill`);
      this.#file = await open(this.#path, 'wx+', 0o600);
    }
    let written = 0;
    while (written < bytes.length) {
      const { bytesWritten } = await this.#file.write(bytes, written, bytes.length - written, this.#spilled + written);
      written += bytesWritten;
    }
    this.#spilled += written;
  }

  #inTurn(fn: () => Promise<void>): Promise<void> {
    const next = this.#turn.then(fn);
    this.#turn = next.catch(() => undefined);
    return next;
  }

  #offer(chunk: Buffer | typeof END): Promise<void> {
    if (this.#failure || this.#disposed) return Promise.resolve();
    const waiting = this.#waiting;
    if (waiting) {
      this.#waiting = undefined;
      waiting.resolve(chunk);
      return Promise.resolve();
    }
    return new Promise((taken) => {
      this.#offered = { chunk, taken };
    });
  }

  #take(): Promise<Buffer | typeof END> {
    if (this.#failure) return Promise.reject(this.#failure.error);
    const offered = this.#offered;
    if (offered) {
      this.#offered = undefined;
      offered.taken();
      return Promise.resolve(offered.chunk);
    }
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
    });
  }
}

/** A spill file's name as a run makes it: `daily-report-<run id>-<segment>-<random>.spill` (segmented-extraction.ts). */
const SPILL_FILE = /^daily-report-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-\d+-[0-9a-f]{12}\.spill$/;

/**
 * Removes the spill files a killed run (SIGKILL, the OOM killer) left in `dir`: report rows no run
 * will read again. Only those untouched for `olderThanMs` — longer than any run may use one (the
 * extraction's deadline bounds it) — and, should a live run's file be among them all the same, it
 * keeps reading it through the handle it holds open. Returns how many were removed.
 */
export async function removeStaleSpills(dir: string, olderThanMs: number, now = Date.now()): Promise<number> {
  let removed = 0;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (!SPILL_FILE.test(name)) continue;
    const path = join(dir, name);
    const stats = await stat(path).catch(() => undefined);
    if (!stats?.isFile() || now - stats.mtimeMs < olderThanMs) continue;
    await rm(path, { force: true });
    removed++;
  }
  return removed;
}
