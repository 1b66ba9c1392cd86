import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigurationIsInvalid, ExitCode } from '../../src/errors.ts';
import { loadConfig } from '../../src/loader/load-config.ts';

/** REPORT_PARALLELISM and REPORT_SPILL_DIR are judged before any I/O, like every setting. */

const minimal = { PGDATABASE: 'app', PGUSER: 'report_reader', REPORT_TIMEZONE: 'America/Sao_Paulo', REPORT_DATE: '2024-10-05' };
const now = new Date('2024-10-05T15:00:00Z');

async function problemsOf(env: Record<string, string>): Promise<string[]> {
  const error = await loadConfig({ ...minimal, ...env }, { now }).then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(ConfigurationIsInvalid);
  expect((error as ConfigurationIsInvalid).exitCode).toBe(ExitCode.invalidInput);
  return [...(error as ConfigurationIsInvalid).problems];
}

describe('the parallel settings', () => {
  it('default to one worker and the OS temporary directory', async () => {
    const config = await loadConfig(minimal, { now });
    expect(config.report.parallelism).toBe(1);
    expect(config.report.spillDir).toBe(tmpdir());
  });

  it.each(['0', '17', '2.5', 'four', '-1'])('refuse REPORT_PARALLELISM=%s, naming the range', async (value) => {
    expect(await problemsOf({ REPORT_PARALLELISM: value })).toEqual([expect.stringMatching(/^REPORT_PARALLELISM: .*must be a whole number from 1 to 16/)]);
  });

  it('refuse a REPORT_SPILL_DIR that is a file, and accept one that can be created', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spill-settings-'));
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    expect(await problemsOf({ REPORT_PARALLELISM: '4', REPORT_SPILL_DIR: file })).toEqual([expect.stringMatching(/^REPORT_SPILL_DIR: .*is a file, not a directory/)]);
    const config = await loadConfig({ ...minimal, REPORT_PARALLELISM: '4', REPORT_SPILL_DIR: join(dir, 'new', 'spill') }, { now });
    expect(config.report).toMatchObject({ parallelism: 4, spillDir: join(dir, 'new', 'spill') });
  });
});
