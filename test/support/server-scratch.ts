import { mkdirSync, mkdtempSync, openSync, readFileSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ownedName } from './run-scratch.ts';

const GIB = 1024 ** 3;

/**
 * Where a test server keeps what it stores: a fresh directory on the memory-backed /dev/shm when it
 * has 4 GiB free, else in the run's temporary directory. The CI disk is shared and has been seen
 * with 287 MB free. MinIO refuses writes (507 XMinioStorageFull) unless its drive has more free
 * space than twice the object's size, 2 GiB when the size is unknown (hasSpaceFor in its
 * cmd/object-api-utils.go). moto spools every object over 16 MiB to a temporary file, so a test
 * that writes 256 MB to it needs that much free disk, and one CI run got HTTP 500 from it on the
 * next PUT. The tests store at most a few hundred MB, so on /dev/shm the servers only depend on
 * their own drive.
 */
export function serverScratchDir(name: string): string {
  // Named for this run: a run killed before it stopped its servers leaves it to the next one to remove.
  return mkdtempSync(join(roomyParent(), ownedName(name)));
}

function roomyParent(): string {
  try {
    const fs = statfsSync('/dev/shm');
    if (fs.bavail * fs.bsize >= 4 * GIB) return '/dev/shm';
  } catch {
    // no /dev/shm (not Linux): the system's temporary directory
  }
  return tmpdir();
}

const LOG_DIR = resolve(import.meta.dirname, '../../.cache/server-logs');

/**
 * A server's log, .cache/server-logs/<name>.log, rewritten by each test run. A server's errors
 * (moto's Python tracebacks behind an HTTP 500, MinIO's storage errors) are only in its own
 * output; kept in a file rather than in memory (moto logs every request), and .ci/run prints their
 * errors when a tier fails, so a failure on a CI machine can be explained from its output.
 */
export function serverLog(name: string): { readonly path: string; readonly fd: number; tail(bytes?: number): string } {
  mkdirSync(LOG_DIR, { recursive: true });
  const path = join(LOG_DIR, `${name}.log`);
  return {
    path,
    // A descriptor, not a stream: spawn's stdio takes it as it is, and the server writes to the file directly.
    fd: openSync(path, 'w'),
    tail(bytes = 2000) {
      try {
        return readFileSync(path, 'utf8').slice(-bytes);
      } catch {
        return '';
      }
    },
  };
}
