/**
 * `npm run demo`: the real job against a database of its own. Starts a private PostgreSQL (PG*
 * variables are ignored), creates the application's schema with a realistic sample, runs
 * `daily-report run` for today with local storage into ./out, shows where the report is and what
 * it holds, and stops and deletes the database.
 *
 * `npm run demo -- --use-env` uses the server PG* name instead. There it creates a database and a
 * role under fresh names (daily_report_demo_<random>), touches nothing else, and drops both at the
 * end; PGUSER needs CREATEDB and CREATEROLE (or superuser).
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse } from 'csv-parse';
import { createDemoDatabase, quoteIdentifier, quoteLiteral, READER_ROLE, setReaderPassword } from './demo-database.ts';
import { adminClient, startPostgres, type PostgresEndpoint, type RunningPostgres } from './postgres-server.ts';
import { MAIN } from './run-cli.ts';
import { forgetPgVariables } from './pg-environment.ts';
import { humanDestination } from '../../src/log/human-log.ts';

const say = (line: string) => process.stderr.write(`demo: ${line}\n`);

/**
 * What a Ctrl-C or a SIGTERM must still undo, latest first: the running job, the demo's database and
 * role (on someone's server with --use-env), the private server and its 150 MB directory. Without
 * this, Node dies on the signal and skips every `finally`.
 */
const undo: Array<() => Promise<void>> = [];
function undoOnSignal(step: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  const once = () => (done ??= step());
  undo.unshift(once);
  return once;
}
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.once(signal, () => {
    say(`${signal}: cleaning up before exiting`);
    void (async () => {
      for (const step of undo) await step().catch((error: Error) => say(`cleaning up failed: ${error.message}`));
      process.exit(code);
    })();
  });
}

const { values: args } = parseArgs({
  options: {
    'use-env': { type: 'boolean', default: false },
    out: { type: 'string', default: fileURLToPath(new URL('../../out/', import.meta.url)) },
    help: { type: 'boolean', default: false },
  },
});
const OUT_DIR = args.out;
if (args.help) {
  process.stdout.write(`npm run demo                 a private PostgreSQL of its own (PG* ignored)
npm run demo -- --use-env    the server PGHOST/PGPORT/PGUSER/PGPASSWORD name; creates and then drops
                             a database and a role named daily_report_demo_<random>, nothing else
npm run demo -- --out DIR    where the report goes (default ./out)
`);
  process.exit(0);
}

/** Where the demo's data lives, and how to put it away. */
interface DemoTarget {
  readonly database: string;
  readonly reader: string;
  readonly readerPassword: string;
  cleanUp(): Promise<void>;
}

/** On a private server every name is ours. */
async function privateTarget(endpoint: PostgresEndpoint): Promise<DemoTarget> {
  await createDemoDatabase(endpoint, 'daily_report_demo', DATA);
  await setReaderPassword(endpoint, 'demo-reader-password');
  return { database: 'daily_report_demo', reader: READER_ROLE, readerPassword: 'demo-reader-password', cleanUp: async () => undefined };
}

/** On someone's server: fresh names only, checked before anything is created, dropped at the end. */
async function sharedTarget(endpoint: PostgresEndpoint): Promise<DemoTarget> {
  const name = `daily_report_demo_${randomBytes(4).toString('hex')}`;
  const readerPassword = randomBytes(18).toString('base64url');
  const admin = await adminClient(endpoint);
  try {
    const { rows: [me] } = await admin.query('SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user');
    if (!me?.rolsuper && !(me?.rolcreatedb && me?.rolcreaterole)) {
      throw new Error(`PGUSER=${endpoint.user} may not create databases and roles on ${endpoint.host}:${endpoint.port}; `
        + 'the demo needs CREATEDB and CREATEROLE there (ALTER ROLE ... CREATEDB CREATEROLE), or run `npm run demo` without --use-env');
    }
    await admin.query(`CREATE ROLE ${quoteIdentifier(name)} LOGIN PASSWORD ${quoteLiteral(readerPassword)}`);
  } finally {
    await admin.end();
  }
  // Registered at once: a Ctrl-C while the sample is loaded must drop the role and database too.
  const cleanUp = undoOnSignal(async () => {
    const client = await adminClient(endpoint);
    try {
      await client.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`);
      await client.query(`DROP ROLE IF EXISTS ${quoteIdentifier(name)}`);
      say(`dropped the database and the role ${name}`);
    } finally {
      await client.end();
    }
  });
  try {
    say(`creating the database and the role ${name} on ${endpoint.host}:${endpoint.port} (dropped at the end)`);
    await createDemoDatabase(endpoint, name, DATA, name);
  } catch (error) {
    await cleanUp().catch(() => undefined);
    throw error;
  }
  return { database: name, reader: name, readerPassword, cleanUp };
}

const DATA = { users: 2_000, transactions: 120_000, days: 7 };

async function countInWindow(endpoint: PostgresEndpoint, database: string, start: string, end: string): Promise<number> {
  const client = await adminClient(endpoint, database);
  try {
    const { rows } = await client.query('SELECT count(*)::int AS n FROM transacoes WHERE criado_em >= $1 AND criado_em < $2', [start, end]);
    return rows[0].n;
  } finally {
    await client.end();
  }
}

function runJob(env: NodeJS.ProcessEnv): Promise<{ exitCode: number; summary?: Record<string, any> }> {
  return new Promise((resolve) => {
    let summary: Record<string, any> | undefined;
    const child = spawn(process.execPath, [MAIN, 'run'], { env: { ...env, LOG_FORMAT: 'json' }, stdio: ['ignore', 'inherit', 'pipe'] });
    // The job logs JSON so the demo can read its summary; a person at a terminal sees the human lines.
    const show = process.stderr.isTTY ? humanDestination(2) : { write: (line: string) => void process.stderr.write(line) };
    let buffered = '';
    child.stderr.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        show.write(`${line}\n`);
        if (line.includes('"phase":"summary"')) summary = JSON.parse(line);
      }
    });
    const closed = new Promise<void>((done) => child.once('close', () => done()));
    undoOnSignal(async () => {
      child.kill('SIGTERM');
      await closed;
    });
    child.once('close', (code) => resolve({ exitCode: code ?? 1, summary }));
  });
}

async function demo(postgres: RunningPostgres): Promise<number> {
  const { endpoint } = postgres;
  say(`creating the demo database: ${DATA.users.toLocaleString('en')} users and ${DATA.transactions.toLocaleString('en')} transactions over the last ${DATA.days} days…`);
  const target = endpoint.embedded ? await privateTarget(endpoint) : await sharedTarget(endpoint);
  try {
    say('running: daily-report run (today; the report covers yesterday)');
    const { exitCode, summary } = await runJob({
      ...(endpoint.embedded ? withoutPgVariables(process.env) : process.env),
      PGHOST: endpoint.host,
      PGPORT: String(endpoint.port),
      PGDATABASE: target.database,
      PGUSER: target.reader,
      PGPASSWORD: target.readerPassword,
      STORAGE_PROVIDER: 'local',
      LOCAL_STORAGE_DIR: OUT_DIR,
    });
    if (exitCode !== 0 || !summary) {
      say(`the job failed with exit code ${exitCode}`);
      return exitCode || 1;
    }
    const records: string[][] = [];
    for await (const record of createReadStream(summary.location).pipe(parse({ relax_quotes: false }))) records.push(record);
    say('');
    say(`report:  ${summary.location}`);
    say(`window:  ${summary.window_start} → ${summary.window_end}`);
    const inWindow = await countInWindow(endpoint, target.database, summary.window_start, summary.window_end);
    say(`rows:    ${records.length - 1} (read back with an independent CSV parser; the job counted ${summary.rows}; the database holds ${inWindow} in the window)`);
    say(`header:  ${records[0]!.join(',')}`);
    say(`first:   ${JSON.stringify(records[1] ?? [])}`);
    process.stdout.write(`${summary.location}\n`);
    if (records.length - 1 !== inWindow || summary.rows !== inWindow) {
      say('MISMATCH between the report and the database');
      return 1;
    }
    return 0;
  } finally {
    await target.cleanUp();
  }
}

/** On the private server the job gets exactly the connection the demo chose, not a PGSSLMODE or PGOPTIONS meant for production. */
function withoutPgVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith('PG')));
}

let exitCode = 1;
// Without --use-env the shell's PG* (PGSSLMODE, PGOPTIONS …) must not reach even the demo's own clients.
if (!args['use-env']) forgetPgVariables();
try {
  const postgres = await startPostgres(say, { usePgEnv: args['use-env'] });
  const stop = undoOnSignal(async () => {
    await postgres.stop();
    if (postgres.endpoint.embedded) say('stopped and deleted the private PostgreSQL');
  });
  try {
    exitCode = await demo(postgres);
  } finally {
    await stop();
  }
} catch (error) {
  say(`failed: ${(error as Error).message}`);
  exitCode = 1;
}
process.exitCode = exitCode;
