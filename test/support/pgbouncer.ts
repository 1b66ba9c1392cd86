import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, stopChild } from './child-processes.ts';

/** Debian's pgbouncer (`apt-get install pgbouncer`), if installed: the tests that need it say so when it is not. */
export const PGBOUNCER = ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'].find((path) => existsSync(path));

export interface RunningPgbouncer {
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * PgBouncer on 127.0.0.1 in front of `target`, every database, one user with a plain password,
 * in `mode` (session, transaction or statement pooling).
 */
export async function startPgbouncer(target: { host: string; port: number }, mode: 'session' | 'transaction' | 'statement', user: { name: string; password: string }): Promise<RunningPgbouncer> {
  if (!PGBOUNCER) throw new Error('pgbouncer is not installed (apt-get install pgbouncer)');
  const dir = await mkdtemp(join(tmpdir(), 'daily-report-pgbouncer-'));
  await chmod(dir, 0o755);
  const port = await freePort();
  await writeFile(join(dir, 'users.txt'), `"${user.name}" "${user.password}"\n`, { mode: 0o644 });
  await writeFile(join(dir, 'pgbouncer.ini'), [
    '[databases]', `* = host=${target.host} port=${target.port}`,
    '[pgbouncer]', 'listen_addr = 127.0.0.1', `listen_port = ${port}`, 'unix_socket_dir =',
    'auth_type = plain', `auth_file = ${join(dir, 'users.txt')}`, `pool_mode = ${mode}`, 'ignore_startup_parameters = extra_float_digits,options',
  ].join('\n'), { mode: 0o644 });
  // PgBouncer refuses to run as root: as root, it runs as the "postgres" user the embedded server uses.
  const asUser = process.getuid?.() === 0 ? ['-u', execFileSync('id', ['-un', 'postgres'], { encoding: 'utf8' }).trim()] : [];
  const child = spawn(PGBOUNCER, [...asUser, join(dir, 'pgbouncer.ini')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => { log = (log + chunk.toString('utf8')).slice(-2_000); });
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited (${child.exitCode}): ${log}`);
    if (await accepts(port)) break;
    if (i > 200) throw new Error(`pgbouncer did not listen on ${port}: ${log}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    port,
    stop: async () => {
      await stopChild(child);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}
