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

  it('prints its version', async () => {
    const result = await runDailyReport(['--version'], { env });
    expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
