import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigurationIsInvalid } from '../../src/errors.ts';
import { loadConfig, loadStorageConfig } from '../../src/loader/load-config.ts';
import { directoryProblem } from '../../src/loader/setting-directories.ts';
import { readSettingFile, SettingFileUnreadable } from '../../src/loader/setting-files.ts';
import { reportDateProblems } from '../../src/ops/date-range.ts';

/** The loader against the inputs of the outside review (review-15); pure, or local files only. */

const dir = mkdtempSync(join(tmpdir(), 'daily-report-hostile-'));
const aFile = join(dir, 'a-file');
writeFileSync(aFile, 'x');
const minimal = { PGDATABASE: 'app', PGUSER: 'report_reader', REPORT_TIMEZONE: 'America/Sao_Paulo', LOCAL_STORAGE_DIR: join(dir, 'out') };
const now = new Date('2024-10-05T15:00:00Z');

async function problemsOf(load: Promise<unknown>): Promise<string[]> {
  const error = await load.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigurationIsInvalid);
  return [...(error as ConfigurationIsInvalid).problems];
}

describe('LOCAL_STORAGE_DIR', () => {
  it('is accepted when it exists, or when it can be created under an existing directory (nothing is created)', async () => {
    expect(await directoryProblem(dir)).toBeUndefined();
    expect(await directoryProblem(join(dir, 'not', 'yet', 'there'))).toBeUndefined();
    await expect(loadConfig({ ...minimal, LOCAL_STORAGE_DIR: join(dir, 'later') }, { now })).resolves.toBeDefined();
  });

  it('is refused when it is a file, or lies under one, with every other problem', async () => {
    expect(await problemsOf(loadConfig({ ...minimal, LOCAL_STORAGE_DIR: aFile, PGPORT: 'x' }, { now }))).toEqual([
      'PGPORT: must be a whole number from 1 to 65535 (example: 5432) (got "x")',
      `LOCAL_STORAGE_DIR: ${aFile} is a file, not a directory; point it at a directory (it is created if missing)`,
    ]);
    expect(await directoryProblem(join(aFile, 'sub', 'dir'))).toBe(`${join(aFile, 'sub', 'dir')} cannot be created: ${aFile} is a file, not a directory; point it at a directory (it is created if missing)`);
  });

  it('is checked for backfill --missing-only too (the same storage spec), and only with the local provider', async () => {
    expect(await problemsOf(loadStorageConfig({ LOCAL_STORAGE_DIR: aFile }))).toEqual([expect.stringMatching(/^LOCAL_STORAGE_DIR: .* is a file/)]);
    await expect(loadStorageConfig({ LOCAL_STORAGE_DIR: aFile, STORAGE_PROVIDER: 's3', AWS_REGION: 'sa-east-1' })).resolves.toBeDefined();
  });
});

describe('X_FILE for a setting that has no file form', () => {
  it('is refused, naming what to set, instead of leaving the setting at its default (PGSSLMODE_FILE: plaintext)', async () => {
    expect(await problemsOf(loadConfig({ ...minimal, PGSSLMODE_FILE: aFile, PGSSLROOTCERT_FILE: aFile }, { now }))).toEqual([
      'PGSSLMODE_FILE: PGSSLMODE cannot be read from a file (set PGSSLMODE itself); as written, it is ignored and PGSSLMODE keeps its default',
      'PGSSLROOTCERT_FILE: PGSSLROOTCERT cannot be read from a file (its value is already a path: set PGSSLROOTCERT=<path>); as written, it is ignored and PGSSLROOTCERT keeps its default',
    ]);
  });
});

describe('AWS_* variables', () => {
  it('near one of ours are typos, named (AWS_REGOIN → AWS_REGION)', async () => {
    expect(await problemsOf(loadConfig({ ...minimal, AWS_REGOIN: 'sa-east-1', AWS_DEFUALT_REGION: 'sa-east-1' }, { now }))).toEqual([
      'AWS_REGOIN: is not a setting of daily-report; did you mean AWS_REGION? (as written, it is ignored and AWS_REGION keeps its default)',
      'AWS_DEFUALT_REGION: is not a setting of daily-report; did you mean AWS_DEFAULT_REGION? (as written, it is ignored and AWS_DEFAULT_REGION keeps its default)',
    ]);
  });

  it("of the AWS SDK's own are neither refused nor warned about", async () => {
    const sdk = [
      'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_CONFIG_FILE', 'AWS_ROLE_ARN', 'AWS_ROLE_SESSION_NAME',
      'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE', 'AWS_STS_REGIONAL_ENDPOINTS',
      'AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3', 'AWS_MAX_ATTEMPTS', 'AWS_RETRY_MODE', 'AWS_DEFAULTS_MODE', 'AWS_EC2_METADATA_DISABLED', 'AWS_CA_BUNDLE',
      'AWS_USE_FIPS_ENDPOINT', 'AWS_USE_DUALSTACK_ENDPOINT', 'AWS_REQUEST_CHECKSUM_CALCULATION', 'AWS_RESPONSE_CHECKSUM_VALIDATION', 'AWS_SDK_LOAD_CONFIG',
    ];
    const config = await loadConfig({ ...minimal, ...Object.fromEntries(sdk.map((name) => [name, 'x'])) }, { now });
    expect(config.warnings).toEqual([]);
  });
});

describe("the report's zone and dates (issue 14's rules, which integ now has)", () => {
  it('refuses a UTC offset, which PostgreSQL would read with the opposite sign', async () => {
    for (const zone of ['+03:00', '-0300', '+03']) {
      expect(await problemsOf(loadConfig({ ...minimal, REPORT_TIMEZONE: zone }, { now }))).toEqual([expect.stringMatching(/^REPORT_TIMEZONE: must be an IANA time zone name, not an offset/)]);
    }
    await expect(loadConfig({ ...minimal, REPORT_TIMEZONE: 'Etc/GMT-3' }, { now })).resolves.toBeDefined();
  });

  it('refuses a date whose window starts before year 1 (was: exit 1 "a bug", or exit 3 after connecting), for run and for rerun/backfill', async () => {
    expect(await problemsOf(loadConfig(minimal, { now, date: '0001-01-01' }))).toEqual([expect.stringMatching(/^--date: must be a calendar date YYYY-MM-DD from 0001-01-02/)]);
    expect(reportDateProblems('--from', '0000-01-01')).toEqual([expect.stringMatching(/^--from: must be a calendar date YYYY-MM-DD from 0001-01-02/)]);
  });
});

describe('secret files', () => {
  it('that fail after opening (EIO from /proc/self/mem) are a file the job cannot use, not "a bug"', async () => {
    const error = await readSettingFile('/proc/self/mem', 64 * 1024, new AbortController().signal).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SettingFileUnreadable);
    expect((error as SettingFileUnreadable).reason).toBe('EIO');
  });
});

mkdirSync(join(dir, 'out'), { recursive: true });

describe('key templates and prefixes', () => {
  it('are bounded in length, so a long name is exit 2 at once rather than ENAMETOOLONG or KeyTooLong when publishing', async () => {
    const longName = `${'a'.repeat(181)}_{YYYYMMDD}.csv`;
    expect(await problemsOf(loadConfig({ ...minimal, REPORT_KEY_TEMPLATE: longName }, { now }))).toEqual([
      `REPORT_KEY_TEMPLATE: must not have a folder or file name longer than 180 bytes (file systems stop at 255) (got ${JSON.stringify(longName)})`,
    ]);
    const deep = `${'abcdefgh/'.repeat(100)}{YYYYMMDD}.csv`;
    expect(await problemsOf(loadConfig({ ...minimal, REPORT_KEY_TEMPLATE: deep }, { now }))).toEqual([
      `REPORT_KEY_TEMPLATE: must be at most 880 bytes long (prefix and key together stay under the 1024 of S3 and Azure) (got ${JSON.stringify(deep)})`,
    ]);
    const prefix = 'p/'.repeat(61);
    expect(await problemsOf(loadStorageConfig({ STORAGE_PROVIDER: 's3', AWS_REGION: 'sa-east-1', S3_PREFIX: prefix }))).toEqual([
      `S3_PREFIX: must be at most 120 bytes long (prefix and key together stay under the 1024 of S3 and Azure) (example: diarios/) (got ${JSON.stringify(prefix)})`,
    ]);
    await expect(loadConfig({ ...minimal, REPORT_KEY_TEMPLATE: `${'a'.repeat(160)}/{YYYY}/{MM}/relatorio_{YYYYMMDD}.csv` }, { now })).resolves.toBeDefined();
  });
});

describe('upload buffers', () => {
  it('are bounded as a whole: size × (in flight + 1) over 2 GiB is refused, not OOM-killed (exit 137, retried) mid-upload', async () => {
    expect(await problemsOf(loadStorageConfig({ STORAGE_PROVIDER: 's3', AWS_REGION: 'sa-east-1', S3_PART_SIZE_MB: '5120', S3_QUEUE_SIZE: '64' }))).toEqual([
      'S3_PART_SIZE_MB and S3_QUEUE_SIZE: hold 5120 MiB × (64 + 1) = 332800 MiB of buffers, more than 2048 MiB: the pod would be OOM-killed mid-upload; lower one of them (the defaults hold 24 MiB)',
    ]);
    expect(await problemsOf(loadStorageConfig({ STORAGE_PROVIDER: 'azure', AZURE_STORAGE_ACCOUNT_URL: 'https://a.blob.core.windows.net', AZURE_BLOCK_SIZE_MB: '1024', AZURE_MAX_CONCURRENCY: '2' }))).toEqual([
      'AZURE_BLOCK_SIZE_MB and AZURE_MAX_CONCURRENCY: hold 1024 MiB × (2 + 1) = 3072 MiB of buffers, more than 2048 MiB: the pod would be OOM-killed mid-upload; lower one of them (the defaults hold 24 MiB)',
    ]);
    await expect(loadStorageConfig({ STORAGE_PROVIDER: 's3', AWS_REGION: 'sa-east-1', S3_PART_SIZE_MB: '64', S3_QUEUE_SIZE: '8' })).resolves.toBeDefined();
  });
});

describe('PGHOST', () => {
  it("is one host name: libpq's host list or a stray space is exit 2, not a DNS failure retried as transient", async () => {
    expect(await problemsOf(loadConfig({ ...minimal, PGHOST: 'db-1,db-2' }, { now }))).toEqual([
      `PGHOST: must be one host: libpq's host list (h1,h2) is not supported by node-postgres, which would look the whole text up in DNS on every retry (point it at the replica's service name) (got "db-1,db-2")`,
    ]);
    expect(await problemsOf(loadConfig({ ...minimal, PGHOST: 'db.internal ' }, { now }))).toEqual([
      'PGHOST: must not contain spaces (a host name never does; is there a stray space or newline?) (got "db.internal ")',
    ]);
    await expect(loadConfig({ ...minimal, PGHOST: '/var/run/postgresql' }, { now })).resolves.toBeDefined();
  });
});
