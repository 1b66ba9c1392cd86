import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AccessWasDenied, ConditionNotMet, ConfigurationIsInvalid, ReportError, TransientFailure } from '../errors.ts';
import type { ReportStorage, StoredObject, WriteOptions, WriteResult } from './report-storage.ts';
import { readAtMost } from './small-object-read.ts';

/** The file-system calls that change or read what is published: one seam, so tests can fault them. */
export type LocalOperation = 'stat' | 'read' | 'link' | 'rename' | 'unlink';

/**
 * Awaited before and after each publishing file-system call. Throwing before = the call never
 * happened; throwing after = it happened and its answer was lost (what NFS can do on a retransmitted
 * rename); waiting = the call is held. Production passes nothing.
 */
export type LocalFaults = (operation: LocalOperation, path: string, when: 'before' | 'after') => Promise<void>;

/**
 * Reports as files under a directory: useful for development, the demo, and a shared volume.
 * Atomic publish the POSIX way: write a hidden temporary file in the same directory (same file
 * system), flush it, then rename it over the final name — or hard-link it, which fails if the
 * name exists, when the write must not overwrite. A file's identity (its "etag") is its inode,
 * modification time and size; a rename keeps all three, so the published file is recognisably the
 * temporary one this run wrote.
 */
export class LocalStorage implements ReportStorage {
  readonly provider = 'local';
  readonly #root: string;
  readonly #faults: LocalFaults;

  constructor(dir: string, faults?: LocalFaults) {
    this.#root = resolve(dir);
    this.#faults = faults ?? (async () => undefined);
  }

  locate(key: string): string {
    const path = resolve(this.#root, key);
    if (path !== this.#root && !path.startsWith(this.#root + sep)) {
      throw new ConfigurationIsInvalid([`the report key ${key} escapes LOCAL_STORAGE_DIR (${this.#root}); fix REPORT_KEY_TEMPLATE`], { phase: 'upload' });
    }
    return path;
  }

  async exists(key: string): Promise<boolean> {
    return (await this.head(key)) !== undefined;
  }

  async head(key: string): Promise<StoredObject | undefined> {
    const path = this.locate(key);
    try {
      return await this.#call('stat', path, () => identity(path));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw storageError(error, 'check', path, this.#root);
    }
  }

  async read(key: string): Promise<{ bytes: Buffer; object: StoredObject } | undefined> {
    const path = this.locate(key);
    try {
      return await this.#call('read', path, async () => {
        const handle = await fs.open(path, 'r');
        try {
          // Bytes and identity of the same inode, whatever is renamed over the name meanwhile.
          const stats = await handle.stat({ bigint: true });
          return { bytes: await readAtMost(handle.createReadStream({ start: 0, autoClose: false })), object: fromStats(stats) };
        } finally {
          await handle.close();
        }
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw storageError(error, 'read', path, this.#root);
    }
  }

  async remove(key: string, options: { ifMatch: string }): Promise<void> {
    const path = this.locate(key);
    try {
      // Check, then unlink: not atomic as S3's and Azure's are; the publisher's lock keeps other runs out meanwhile.
      const current = await this.#call('stat', path, () => identity(path));
      if (current.etag !== options.ifMatch) throw new ConditionNotMet(`${path} changed (${current.etag} ≠ ${options.ifMatch}): not deleting it`, { phase: 'upload', context: { path } });
      await this.#call('unlink', path, () => fs.unlink(path));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw storageError(error, 'delete', path, this.#root);
    }
  }

  async write(key: string, body: AsyncIterable<Uint8Array>, options: WriteOptions): Promise<WriteResult> {
    const path = this.locate(key);
    const temporary = join(dirname(path), `${partialPrefix(path)}${randomUUID()}.partial`);
    try {
      await this.#makeFolder(dirname(path));
      // A report's write runs under its lock (beforePublish is the publisher's fence): a temporary
      // of this key left there was a killed run's, a whole report nobody will ever rename. Removed.
      if (options.beforePublish) await removeLeftPartials(path);
      // `flush` fsyncs before close: after the rename the bytes are on disk, not only in the page cache.
      await pipeline(Readable.from(body, { objectMode: false }), createWriteStream(temporary, { flags: 'wx', mode: 0o640, flush: true }), { signal: options.signal });
      const written = await identity(temporary);
      await options.beforePublish?.(written);
      options.signal.throwIfAborted();
      if (options.ifExists === 'fail') {
        await this.#publish('link', temporary, path, written, () => fs.link(temporary, path));
      } else {
        if (options.ifMatch !== undefined) {
          const current = await this.#call('stat', path, () => identity(path)).catch((error: NodeJS.ErrnoException) => {
            if (error.code === 'ENOENT') return undefined;
            throw error;
          });
          if (current?.etag !== options.ifMatch) {
            throw new ConditionNotMet(`${path} is no longer the file this run saw (${current?.etag ?? 'gone'} ≠ ${options.ifMatch})`, { phase: 'upload', context: { path } });
          }
        }
        await this.#publish('rename', temporary, path, written, () => fs.rename(temporary, path));
      }
      return { location: path, object: { ...written, metadata: { ...options.metadata } } };
    } catch (error) {
      throw storageError(error, 'write', path, this.#root);
    } finally {
      await fs.rm(temporary, { force: true });
    }
  }

  /**
   * link() or rename(), then a look at the final name when the call reported a failure: if it holds
   * our temporary file's inode, the call did happen (an answer lost) and the write is ours.
   */
  async #publish(operation: 'link' | 'rename', temporary: string, path: string, written: StoredObject, call: () => Promise<void>): Promise<void> {
    try {
      await this.#call(operation, path, call);
    } catch (error) {
      const now = await identity(path).catch(() => undefined);
      if (now?.etag === written.etag) return;
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new ConditionNotMet(`${path} already exists (link refuses to replace it)`, { phase: 'upload', cause: error, context: { path } });
      }
      throw error;
    }
  }

  async #makeFolder(folder: string): Promise<void> {
    try {
      await fs.mkdir(folder, { recursive: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR' || code === 'EEXIST') {
        throw new ConfigurationIsInvalid([`LOCAL_STORAGE_DIR: ${this.#root} (or a folder under it, ${folder}) is not a directory; point LOCAL_STORAGE_DIR at a directory`], {
          phase: 'upload',
          cause: error,
        });
      }
      throw error;
    }
  }

  async #call<T>(operation: LocalOperation, path: string, call: () => Promise<T>): Promise<T> {
    await this.#faults(operation, path, 'before');
    const result = await call();
    await this.#faults(operation, path, 'after');
    return result;
  }
}

function partialPrefix(path: string): string {
  return `.${basename(path)}.`;
}

/**
 * Temporaries a killed run left for this report: the CSV's own (`.<key>.<uuid>.partial`, a whole
 * report nobody will ever rename; only a run holding the lock writes one, so any age), and its lock's
 * and manifest's (`.<key>.lock.<uuid>.partial`, …): those a run trying to take the lock may be
 * writing this instant, so only once older than any local call may take (60 s) — five minutes.
 */
async function removeLeftPartials(path: string): Promise<void> {
  const prefix = partialPrefix(path);
  const folder = dirname(path);
  const names = await fs.readdir(folder).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const rest = name.slice(prefix.length);
    const own = PARTIAL.test(rest);
    if (!own && !SIDE_PARTIAL.test(rest)) continue;
    const file = join(folder, name);
    if (!own) {
      const stats = await fs.stat(file).catch(() => undefined);
      if (!stats || Date.now() - stats.mtimeMs < SIDE_PARTIAL_MIN_AGE_MS) continue;
    }
    await fs.rm(file, { force: true });
  }
}

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const PARTIAL = new RegExp(`^${UUID}\\.partial$`);
const SIDE_PARTIAL = new RegExp(`^(?:lock|manifest\\.json)\\.${UUID}\\.partial$`);
const SIDE_PARTIAL_MIN_AGE_MS = 5 * 60_000;

async function identity(path: string): Promise<StoredObject> {
  return fromStats(await fs.stat(path, { bigint: true }));
}

function fromStats(stats: { ino: bigint; mtimeNs: bigint; size: bigint }): StoredObject {
  const inode = String(stats.ino);
  const mtimeNs = String(stats.mtimeNs);
  return { etag: `${inode}-${mtimeNs}-${stats.size}`, size: Number(stats.size), metadata: {}, inode, mtimeNs };
}

function storageError(error: unknown, operation: string, path: string, root: string): unknown {
  const { code, syscall } = error as NodeJS.ErrnoException;
  // Not a file-system error (the body's own failure, an abort, ours): keep it as it is.
  if (error instanceof ReportError || code === undefined || (syscall === undefined && !/^E[A-Z]+$/.test(code))) return error;
  const options = { phase: 'upload' as const, cause: error, context: { path, code } };
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new AccessWasDenied(`cannot ${operation} ${path}: ${code}; check LOCAL_STORAGE_DIR's permissions`, options);
  }
  if (code === 'ENOTDIR') {
    return new ConfigurationIsInvalid([`LOCAL_STORAGE_DIR: ${root} is not a directory (${operation} ${path}: ${code}); point it at a directory`], options);
  }
  return new TransientFailure(`cannot ${operation} ${path}: ${(error as Error).message}`, options);
}
