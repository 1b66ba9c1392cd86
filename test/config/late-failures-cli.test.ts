import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.ts';
import { errorOf, filesIn } from '../support/report-files.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { countingListener, expectRefusedBeforeAnyIo } from '../support/refused-run.ts';
import { createTestDatabase } from '../support/test-database.ts';

/**
 * Inputs an outside review (review-15) found accepted by the loader and failing late, wrongly or
 * leakily: each is now exit 2 with its message, before the database is contacted.
 */


const scratch = mkdtempSync(join(tmpdir(), 'daily-report-late-'));
const aFile = join(scratch, 'not-a-directory');
writeFileSync(aFile, '');
const sslModeFile = join(scratch, 'sslmode');
writeFileSync(sslModeFile, 'verify-full\n');
const SECRET = 'TOPSECRET-pw-9c1e';

describe('inputs that used to fail late are exit 2 before any I/O (review-15)', () => {
  it.each([
    ['LOCAL_STORAGE_DIR naming a file (was: exit 1 "a bug", ENOTDIR after connecting)', { LOCAL_STORAGE_DIR: aFile }, /LOCAL_STORAGE_DIR: .*not-a-directory is a file, not a directory/],
    ['LOCAL_STORAGE_DIR under a file (was: exit 1, ENOTDIR after connecting)', { LOCAL_STORAGE_DIR: join(aFile, 'reports') }, /LOCAL_STORAGE_DIR: .* cannot be created: .*not-a-directory is a file/],
    ['PGSSLMODE_FILE holding verify-full (was: a warning, then a plaintext connection, exit 0)', { PGSSLMODE_FILE: sslModeFile }, /PGSSLMODE_FILE: PGSSLMODE cannot be read from a file \(set PGSSLMODE itself\)/],
    ['REPORT_TIMEZONE=+03:00 (was: every timestamp written at -03:00, PostgreSQL reading it as POSIX)', { REPORT_TIMEZONE: '+03:00' }, /REPORT_TIMEZONE: must be an IANA time zone name, not an offset/],
    ['TZ=+03:00 without REPORT_TIMEZONE (the same, through the process zone)', { REPORT_TIMEZONE: '', TZ: '+03:00' }, /TZ: REPORT_TIMEZONE is not set and TZ="\+03:00" is not an IANA time zone name/],
    ['AWS_REGOIN (was: silently ignored)', { STORAGE_PROVIDER: 's3', AWS_REGION: 'sa-east-1', AWS_REGOIN: 'us-east-1' }, /AWS_REGOIN: is not a setting of daily-report; did you mean AWS_REGION\?/],
  ])('%s', async (_, extra, message) => {
    await expectRefusedBeforeAnyIo(extra, message, scratch);
  });

  it.each([
    ['0000-01-01', 'was: exit 1 "a bug" (a window before year 1)'],
    ['0001-01-01', 'was: exit 3 after connecting (year 0 out of range)'],
  ])('run --date %s is exit 2 before connecting (%s)', async (date) => {
    const message = /--date: must be a calendar date YYYY-MM-DD from 0001-01-02 to 9999-12-31/;
    const database = await countingListener();
    try {
      const env = { PGHOST: '127.0.0.1', PGPORT: String(database.port), PGDATABASE: 'app', PGUSER: 'report_reader', REPORT_TIMEZONE: 'UTC', LOCAL_STORAGE_DIR: join(scratch, 'dates') };
      const result = await runDailyReport(['run', '--date', date], { env });
      expect(result.code).toBe(ExitCode.invalidInput);
      expect(errorOf(result).err.message).toMatch(message);
      expect(database.connections()).toBe(0);
    } finally {
      await database.close();
    }
  });

  it.each([
    ['a connection URI', `postgresql://report_reader:${SECRET}@127.0.0.1:5432/app`],
    ['a libpq key=value string', `dbname=app password=${SECRET}`],
  ])('PGDATABASE holding %s (libpq would expand it) is exit 2, its password in no output (was: printed by validate and every log line)', async (_, value) => {
    const database = await countingListener();
    try {
      const env = { PGHOST: '127.0.0.1', PGPORT: String(database.port), PGDATABASE: value, PGUSER: 'report_reader', REPORT_TIMEZONE: 'UTC', LOCAL_STORAGE_DIR: join(scratch, 'uri') };
      const result = await runDailyReport(['validate'], { env });
      expect(result.code).toBe(ExitCode.invalidInput);
      expect(errorOf(result).err.message).toMatch(/PGDATABASE: must be a database name, not a connection URI/);
      expect(result.stdout + result.stderr).not.toContain(SECRET);
      expect(database.connections()).toBe(0);
    } finally {
      await database.close();
    }
  });
});

describe('validate and the storage preflight (review-15)', () => {
  it('claims the storage is valid only once its preflight passed: the lock taken and released under LOCAL_STORAGE_DIR', async () => {
    const db = await createTestDatabase('validate_checked_storage');
    const result = await runDailyReport(['validate', '--date', '2024-10-05'], { env: db.env });
    expect(result.code, result.stderr).toBe(ExitCode.ok);
    expect(result.stdout).toMatch(/^storage: .*relatorio_20241005\.csv: ok$/m);
    expect(result.logs.at(-1)?.msg).toBe('configuration, connection, query and storage are valid');
  });
});

describe('a key template with a file name too long for the disk (review-15)', () => {
  it('is exit 2 before connecting (was: exit 1 "a bug", ENAMETOOLONG after the extraction)', async () => {
    const database = await countingListener();
    try {
      const env = { PGHOST: '127.0.0.1', PGPORT: String(database.port), PGDATABASE: 'app', PGUSER: 'report_reader', REPORT_TIMEZONE: 'UTC', LOCAL_STORAGE_DIR: join(scratch, 'long') };
      const result = await runDailyReport(['run', '--date', '2024-10-05'], { env: { ...env, REPORT_KEY_TEMPLATE: `${'a'.repeat(250)}_{YYYYMMDD}.csv` } });
      expect(result.code).toBe(ExitCode.invalidInput);
      expect(errorOf(result).err.message).toMatch(/REPORT_KEY_TEMPLATE: must not have a folder or file name longer than 180 bytes/);
      expect(database.connections()).toBe(0);
    } finally {
      await database.close();
    }
  });
});

describe('a dry run (review-15)', () => {
  it('does not check LOCAL_STORAGE_DIR, which it never writes: a read-only or absent directory is fine, the CSV goes to stdout', async () => {
    const db = await createTestDatabase('dry_run_unwritable_dir');
    const result = await runDailyReport(['run', '--dry-run', '--date', '2024-10-05'], { env: { ...db.env, LOCAL_STORAGE_DIR: aFile } });
    expect(result.code, result.stderr).toBe(ExitCode.ok);
    expect(result.stdout).toMatch(/^data_extracao,nome_usuario,id_transacao,valor_transacao,status_transacao\r\n/);
  });
});
