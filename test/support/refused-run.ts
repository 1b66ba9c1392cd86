import { mkdtempSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { ExitCode } from '../../src/errors.ts';
import { errorOf, filesIn } from './report-files.ts';
import { runDailyReport } from './run-cli.ts';

/** A TCP listener standing in for the database: it counts the connections the job opens. */
export async function countingListener(): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, connections: () => connections, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/**
 * Runs `daily-report run` with `extra` over a valid configuration whose database is a counting
 * listener, and asserts what a refused input must get: exit 2 with `message`, nothing written under
 * LOCAL_STORAGE_DIR, and not one connection to the database.
 */
export async function expectRefusedBeforeAnyIo(extra: Record<string, string>, message: RegExp, parentDir: string = tmpdir()): Promise<void> {
  const database = await countingListener();
  const outDir = mkdtempSync(join(parentDir, 'daily-report-refused-'));
  try {
    const env = { PGHOST: '127.0.0.1', PGPORT: String(database.port), PGDATABASE: 'app', PGUSER: 'report_reader', REPORT_TIMEZONE: 'America/Sao_Paulo', LOCAL_STORAGE_DIR: outDir };
    const result = await runDailyReport(['run', '--date', '2024-10-05'], { env: { ...env, ...extra } });
    expect(result.code, result.stderr).toBe(ExitCode.invalidInput);
    expect(errorOf(result).err.message).toMatch(message);
    expect(await filesIn(outDir)).toEqual([]);
    expect(database.connections()).toBe(0);
  } finally {
    await database.close();
  }
}
