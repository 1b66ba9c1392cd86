import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { inject, describe, expect, it } from 'vitest';
import { freePort } from './support/child-processes.ts';
import { adminClient } from './support/postgres-server.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const DEMO = fileURLToPath(new URL('./support/demo.ts', import.meta.url));

function runDemo(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const out = mkdtempSync(join(tmpdir(), 'daily-report-demo-'));
    const child = spawn(process.execPath, [DEMO, '--out', out, ...args], { cwd: ROOT, env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => {
      rmSync(out, { recursive: true, force: true });
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts the demo and sends it `signal` once its stderr matches `when`; resolves with the exit code and stderr. */
function interruptDemo(args: string[], env: Record<string, string>, when: RegExp, signal: NodeJS.Signals): Promise<{ code: number | null; stderr: string; seen: RegExpMatchArray }> {
  return new Promise((resolve, reject) => {
    const out = mkdtempSync(join(tmpdir(), 'daily-report-demo-'));
    const child = spawn(process.execPath, [DEMO, '--out', out, ...args], { cwd: ROOT, env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let seen: RegExpMatchArray | null = null;
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      if (!seen && (seen = stderr.match(when))) child.kill(signal);
    });
    child.once('error', reject);
    child.once('close', (code) => {
      rmSync(out, { recursive: true, force: true });
      if (!seen) reject(new Error(`the demo ended before ${when}: ${stderr}`));
      else resolve({ code, stderr, seen });
    });
  });
}

function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(false); });
    socket.once('error', () => resolve(true));
  });
}

/**
 * The roles with their password hashes, and the databases, of the shared test server. Other test
 * files create databases meanwhile, so the check is: everything that was there is still there,
 * unchanged, and nothing of the demo's is left.
 */
async function serverState(): Promise<{ roles: Map<string, string>; databases: Set<string> }> {
  const client = await adminClient(inject('postgres'));
  try {
    const roles = await client.query('SELECT rolname, rolpassword, rolcanlogin, rolcreatedb FROM pg_authid');
    const databases = await client.query('SELECT datname FROM pg_database');
    return {
      roles: new Map(roles.rows.map((row) => [row.rolname as string, JSON.stringify(row)])),
      databases: new Set(databases.rows.map((row) => row.datname as string)),
    };
  } finally {
    await client.end();
  }
}

describe('npm run demo', () => {
  it('ignores the PG* variables of a shell pointed at another server (PGSSLMODE and PGOPTIONS too), and publishes from a private one', async () => {
    const connections: number[] = [];
    const trap = createServer((socket) => {
      connections.push(Date.now());
      socket.destroy();
    });
    const port = await freePort();
    await new Promise<void>((resolve) => trap.listen(port, '127.0.0.1', resolve));
    try {
      // node-postgres reads PGSSLMODE and PGOPTIONS for any client that leaves them out: a production
      // shell's verify-full (the private server's certificate is self-signed) or read-only sessions.
      const result = await runDemo([], {
        PGHOST: '127.0.0.1', PGPORT: String(port), PGUSER: 'postgres', PGPASSWORD: 'production', PGDATABASE: 'app',
        PGSSLMODE: 'verify-full', PGOPTIONS: '-c default_transaction_read_only=on', PGAPPNAME: 'production-shell',
      });
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout.trim()).toMatch(/daily-report-demo-\w+\/relatorio_\d{8}\.csv$/);
      expect(connections).toEqual([]);
    } finally {
      trap.close();
    }
  });

  it('with --use-env, creates and drops its own database and role and leaves every other role and database as it was', async () => {
    const endpoint = inject('postgres');
    const before = await serverState();
    const result = await runDemo(['--use-env'], { PGHOST: endpoint.host, PGPORT: String(endpoint.port), PGUSER: endpoint.user, PGPASSWORD: endpoint.password });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/dropped the database and the role daily_report_demo_[0-9a-f]{8}/);
    const after = await serverState();
    for (const [role, state] of before.roles) expect(after.roles.get(role), role).toBe(state);
    for (const database of before.databases) expect(after.databases.has(database), database).toBe(true);
    expect([...after.roles.keys(), ...after.databases].filter((name) => name.startsWith('daily_report_demo'))).toEqual([]);
  });

  it('with --use-env and a role that may not create databases, says what it needs, without a stack trace', async () => {
    const endpoint = inject('postgres');
    const admin = await adminClient(endpoint);
    const role = `demo_plain_${Date.now()}`;
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'plain-password'`);
    try {
      const result = await runDemo(['--use-env'], { PGHOST: endpoint.host, PGPORT: String(endpoint.port), PGUSER: role, PGPASSWORD: 'plain-password' });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`PGUSER=${role} may not create databases and roles`);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    } finally {
      await admin.query(`DROP ROLE ${role}`);
      await admin.end();
    }
  });

  it('on SIGTERM while it loads the sample, stops and deletes its private PostgreSQL and exits 143', async () => {
    const result = await interruptDemo([], {}, /started a private PostgreSQL \S+ on 127\.0\.0\.1:(\d+)/, 'SIGTERM');
    expect(result.code, result.stderr).toBe(143);
    expect(result.stderr).toContain('stopped and deleted the private PostgreSQL');
    expect(await refusesConnections(Number(result.seen[1]))).toBe(true);
  });

  it('with --use-env, on Ctrl-C (SIGINT) while it loads the sample, still drops its database and role and exits 130', async () => {
    const endpoint = inject('postgres');
    const result = await interruptDemo(['--use-env'], { PGHOST: endpoint.host, PGPORT: String(endpoint.port), PGUSER: endpoint.user, PGPASSWORD: endpoint.password },
      /creating the database and the role (daily_report_demo_[0-9a-f]{8})/, 'SIGINT');
    expect(result.code, result.stderr).toBe(130);
    const after = await serverState();
    expect([...after.roles.keys(), ...after.databases].filter((name) => name === result.seen[1])).toEqual([]);
  });
});
