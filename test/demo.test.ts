import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
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
});
