import { describe, expect, it } from 'vitest';
import { runDailyReport } from '../support/run-cli.ts';

const env = {};

describe('daily-report CLI', () => {
  it('lists its commands and exit codes in --help', async () => {
    const result = await runDailyReport(['--help'], { env });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/daily-report run\s/);
    expect(result.stdout).toMatch(/daily-report validate\s/);
    expect(result.stdout).toMatch(/143\s+terminated by SIGTERM/);
  });

  it.each([
    ['run', /--dry-run/, /daily-report run --date 2024-10-05/],
    ['validate', /--date/, /daily-report validate/],
  ])('shows options and examples in "%s --help"', async (command, option, example) => {
    const result = await runDailyReport([command, '--help'], { env });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(option);
    expect(result.stdout).toMatch(/Examples:/);
    expect(result.stdout).toMatch(example);
  });

  it.each([
    [[], /Name a command/],
    [['publish'], /Unknown argument: publish/],
    [['run', '--dryrun'], /Unknown arguments?: dryrun/],
  ])('exits 2 (not yargs’ 1) on a usage error: %j', async (args, message) => {
    const result = await runDailyReport(args, { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
  });

  it.each([
    [['run', '--dry-run', '--out'], /--out: needs a file path, or - for stdout \(got nothing\)/],
    [['backfill', '--from', '2024-10-01', '--to', '2024-10-07', '--max-days', '1.5'], /--max-days: must be a whole number ≥ 1 \(got 1\.5\)/],
    [['status', '--days', '99999999999999999999'], /--days: must be a whole number ≥ 1 \(got 100000000000000000000\)/],
  ])('exits 2, before any I/O, on an option value no command can use: %j', async (args, message) => {
    const result = await runDailyReport(args, { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
  });

  it('prints its version', async () => {
    const result = await runDailyReport(['--version'], { env });
    expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
