import { chmodSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PREFIX = 'daily-report-tests-';

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
  removeAbandoned(parent, log);
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
    log(`removing ${join(parent, name)}, left by a test run (pid ${pid}) that is gone`);
    rmSync(join(parent, name), { recursive: true, force: true });
  }
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
