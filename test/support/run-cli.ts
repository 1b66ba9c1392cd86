import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stderr's JSON log lines, parsed. */
  readonly logs: Record<string, any>[];
}

export interface CliOptions {
  readonly env: Record<string, string | undefined>;
  readonly nodeOptions?: string[];
  /** Called once the process started; for tests that signal or disturb it mid-run. */
  readonly onSpawn?: (child: ReturnType<typeof spawn>) => void;
}

/**
 * Runs the real `daily-report` CLI in a child process on this Node (24), with only the given
 * environment (plus PATH, and TMPDIR so its temporary files stay in the test run's own directory),
 * exactly as the CronJob's container would.
 */
export function runDailyReport(args: string[], options: CliOptions): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(options.nodeOptions ?? []), MAIN, ...args], {
      env: { PATH: process.env.PATH, TMPDIR: process.env.TMPDIR, LOG_FORMAT: 'json', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      const err = Buffer.concat(stderr).toString('utf8');
      resolve({ code, signal, stdout: Buffer.concat(stdout).toString('utf8'), stderr: err, logs: parseLogLines(err) });
    });
    options.onSpawn?.(child);
  });
}

export function parseLogLines(text: string): Record<string, any>[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, any>);
}
