/**
 * `npm run demo`: the real job on an embedded default. Starts an embedded PostgreSQL, creates the
 * application's schema with a realistic sample, runs `daily-report run` for today with local
 * storage into ./out, shows where the report is and what it holds, and stops the database.
 */
import { createReadStream } from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse';
import { createDemoDatabase, setReaderPassword } from './demo-database.ts';
import { adminClient, startPostgres } from './postgres-server.ts';
import { MAIN } from './run-cli.ts';

const OUT_DIR = fileURLToPath(new URL('../../out/', import.meta.url));
const say = (line: string) => process.stderr.write(`demo: ${line}\n`);

const postgres = await startPostgres(say);

async function countInWindow(start: string, end: string): Promise<number> {
  const client = await adminClient(postgres.endpoint, 'app');
  try {
    const { rows } = await client.query('SELECT count(*)::int AS n FROM transacoes WHERE criado_em >= $1 AND criado_em < $2', [start, end]);
    return rows[0].n;
  } finally {
    await client.end();
  }
}
let exitCode = 1;
try {
  say('creating the demo database "app": 2,000 users and 120,000 transactions over the last 7 days…');
  await createDemoDatabase(postgres.endpoint, 'app', { users: 2_000, transactions: 120_000, days: 7 });
  await setReaderPassword(postgres.endpoint, 'demo-reader-password');

  say('running: daily-report run (today; the report covers yesterday)');
  const env = {
    ...process.env,
    PGHOST: postgres.endpoint.host,
    PGPORT: String(postgres.endpoint.port),
    PGDATABASE: 'app',
    PGUSER: 'report_reader',
    PGPASSWORD: 'demo-reader-password',
    STORAGE_PROVIDER: 'local',
    LOCAL_STORAGE_DIR: OUT_DIR,
  };
  let summary: Record<string, any> | undefined;
  exitCode = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, [MAIN, 'run'], { env: { ...env, LOG_FORMAT: 'json' }, stdio: ['ignore', 'inherit', 'pipe'] });
    let buffered = '';
    child.stderr.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const line of lines) {
        process.stderr.write(`${line}\n`);
        if (line.includes('"phase":"summary"')) summary = JSON.parse(line);
      }
    });
    child.once('close', (code) => resolve(code ?? 1));
  });

  if (exitCode === 0 && summary) {
    const records: string[][] = [];
    for await (const record of createReadStream(summary.location).pipe(parse({ relax_quotes: false }))) records.push(record);
    say('');
    say(`report:  ${summary.location}`);
    say(`window:  ${summary.window_start} → ${summary.window_end}`);
    const inWindow = await countInWindow(summary.window_start, summary.window_end);
    say(`rows:    ${records.length - 1} (read back with an independent CSV parser; the job counted ${summary.rows}; the database holds ${inWindow} in the window)`);
    if (records.length - 1 !== inWindow || summary.rows !== inWindow) {
      say('MISMATCH between the report and the database');
      exitCode = 1;
    }
    say(`header:  ${records[0]!.join(',')}`);
    say(`first:   ${JSON.stringify(records[1] ?? [])}`);
    process.stdout.write(`${summary.location}\n`);
  } else {
    say(`the job failed with exit code ${exitCode}`);
  }
} finally {
  await postgres.stop();
  say('stopped the embedded PostgreSQL');
}
process.exitCode = exitCode;
