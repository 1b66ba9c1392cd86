import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { link, mkdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AccessWasDenied, ReportAlreadyPublished, ReportError, TransientFailure } from '../errors.ts';
import type { ReportStorage, WriteOptions, WriteResult } from './report-storage.ts';

/**
 * Reports as files under a directory: useful for development, the demo, and a shared volume.
 * Atomic publish the POSIX way: write a hidden temporary file in the same directory (same file
 * system), flush it, then rename it over the final name — or hard-link it, which fails if the
 * name exists, when the write must not overwrite.
 */
export class LocalStorage implements ReportStorage {
  readonly provider = 'local';
  readonly #root: string;

  constructor(dir: string) {
    this.#root = resolve(dir);
  }

  locate(key: string): string {
    const path = resolve(this.#root, key);
    if (path !== this.#root && !path.startsWith(this.#root + sep)) throw new Error(`key escapes the storage directory: ${key}`);
    return path;
  }

  async exists(key: string): Promise<boolean> {
    try {
      return (await stat(this.locate(key))).isFile();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw storageError(error, 'check', this.locate(key));
    }
  }

  async write(key: string, body: AsyncIterable<Uint8Array>, options: WriteOptions): Promise<WriteResult> {
    const path = this.locate(key);
    const temporary = join(dirname(path), `.${basename(path)}.${randomUUID()}.partial`);
    try {
      await mkdir(dirname(path), { recursive: true });
      // `flush` fsyncs before close: after the rename the bytes are on disk, not only in the page cache.
      await pipeline(Readable.from(body, { objectMode: false }), createWriteStream(temporary, { flags: 'wx', mode: 0o640, flush: true }), { signal: options.signal });
      if (options.ifExists === 'fail') {
        await link(temporary, path).catch((error: NodeJS.ErrnoException) => {
          throw error.code === 'EEXIST' ? new ReportAlreadyPublished(`a report already exists at ${path}`, { phase: 'upload', context: { key } }) : error;
        });
      } else {
        await rename(temporary, path);
      }
      return { location: path };
    } catch (error) {
      throw storageError(error, 'write', path);
    } finally {
      await rm(temporary, { force: true });
    }
  }
}

function storageError(error: unknown, operation: string, path: string): unknown {
  const { code, syscall } = error as NodeJS.ErrnoException;
  // Not a file-system error (the body's own failure, an abort): keep it as it is.
  if (error instanceof ReportError || syscall === undefined || code === undefined) return error;
  const options = { phase: 'upload' as const, cause: error, context: { path, code } };
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new AccessWasDenied(`cannot ${operation} ${path}: ${code}; check LOCAL_STORAGE_DIR's permissions`, options);
  }
  return new TransientFailure(`cannot ${operation} ${path}: ${(error as Error).message}`, options);
}
