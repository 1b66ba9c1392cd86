import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PREFIX = 'daily-report-tests-';

/**
 * The name prefix of a directory this test run owns outside its own (a server's data on /dev/shm):
 * it carries the run's pid, so the next run removes it, and stops the servers using it, once this
 * run is gone.
 */
export function ownedName(name: string): string {
  return `${PREFIX}${process.pid}-${name}-`;
}

/** Where runs' directories may be: the temporary directory, and the memory-backed one servers use (server-scratch.ts). */
const PARENTS = () => [tmpdir(), ...(existsSync('/dev/shm') ? ['/dev/shm'] : [])];

/**
 * Gives this test run a temporary directory of its own and points TMPDIR at it, so every
 * os.tmpdir() in the test workers and in every process they start (the job, PostgreSQL, the
 * servers) lands inside it; the returned function removes it whole. Tests create hundreds of
 * directories (reports of 400 MB among them), and one that forgets its cleanup, or a run that is
 * killed, used to leave them in /tmp: 600 MB a run, and CI shares its disk with MinIO, which refuses
 * writes when that disk runs low. Directories left by runs whose process is gone are removed first.
 */
export function useRunScratchDir(log: (line: string) => void): () => void {
  const parent = tmpdir();
  for (const where of PARENTS()) removeAbandoned(where, log);
  const dir = mkdtempSync(join(parent, `${PREFIX}${process.pid}-`));
  // As root, PostgreSQL runs as "postgres" and must be able to pass through to its own data directory.
  chmodSync(dir, 0o711);
  process.env.TMPDIR = dir;
  return () => {
    process.env.TMPDIR = parent;
    rmSync(dir, { recursive: true, force: true });
  };
}

function removeAbandoned(parent: string, log: (line: string) => void): void {
  for (const name of readdirSync(parent)) {
    if (!name.startsWith(PREFIX)) continue;
    const pid = Number(name.slice(PREFIX.length).split('-')[0]);
    if (!Number.isInteger(pid) || isAlive(pid)) continue;
    const dir = join(parent, name);
    // A run killed with SIGKILL (a CI timeout, kill -9) never stopped its servers: they still run in its directory.
    for (const server of processesUsing(dir)) {
      log(`stopping pid ${server}, a server of a test run (pid ${pid}) that is gone`);
      try {
        process.kill(server, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    log(`removing ${dir}, left by a test run (pid ${pid}) that is gone`);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Processes whose TMPDIR is `dir` or inside it (every server a run starts inherits its TMPDIR); Linux only. */
function processesUsing(dir: string): number[] {
  if (!existsSync('/proc')) return [];
  return readdirSync('/proc').flatMap((entry) => {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) return [];
    try {
      const tmp = readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').find((v) => v.startsWith('TMPDIR='));
      return tmp !== undefined && (tmp === `TMPDIR=${dir}` || tmp.startsWith(`TMPDIR=${dir}/`)) ? [pid] : [];
    } catch {
      return []; // another user's, or gone
    }
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but is someone else's.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
