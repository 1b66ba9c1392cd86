import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { expect } from 'vitest';
import type { CliResult } from './run-cli.ts';
import { READER_PASSWORD } from './test-database.ts';

/** Every file in the output folder, hidden temporary files included. */
export async function filesIn(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).sort();
}

/** A CSV read back with an independent parser; NULL (unquoted empty) is null, "" stays "". */
export async function readReport(path: string): Promise<(string | null)[][]> {
  return parse(await readFile(path), { cast: (value, context) => (value === '' && !context.quoting ? null : value), bom: true });
}

/** Writes a query file next to the output and returns its path. */
export async function queryFile(dir: string, name: string, text: string): Promise<string> {
  const path = join(dir, '..', `${name}-${Math.random().toString(36).slice(2)}.sql`);
  await writeFile(path, text);
  return path;
}

/** The run's final log line (the one with phase=summary). */
export function summaryOf(result: CliResult): Record<string, any> {
  const summary = result.logs.find((line) => line.phase === 'summary');
  expect(summary, `no summary line in:\n${result.stderr}`).toBeDefined();
  return summary!;
}

/** The password must never appear in anything the job prints. */
export function expectNoSecrets(result: CliResult): void {
  expect(result.stdout).not.toContain(READER_PASSWORD);
  expect(result.stderr).not.toContain(READER_PASSWORD);
}

/** The error line the CLI logged before exiting. */
export function errorOf(result: CliResult): Record<string, any> {
  const line = result.logs.find((entry) => entry.level === 'error');
  expect(line, `no error line in:\n${result.stderr}`).toBeDefined();
  return line!;
}
