import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DateTime } from 'luxon';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { AccountSASPermissions, BlobServiceClient, generateAccountSASQueryParameters, StorageSharedKeyCredential } from '@azure/storage-blob';
import { randomBytes } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { forgetSecrets, rememberSecret } from '../../src/config/redaction.ts';
import { ExitCode } from '../../src/errors.ts';
import { createLogger } from '../../src/log/logger.ts';
import { errorOf, expectNoSecrets, filesIn, queryFile } from '../support/report-files.ts';
import { parseLogLines, runDailyReport } from '../support/run-cli.ts';
import { countingListener, expectRefusedBeforeAnyIo } from '../support/refused-run.ts';
import { directS3Client } from '../support/s3-test-config.ts';
import { S3_TEST_CREDENTIALS } from '../support/storage-servers.ts';
import { createTestDatabase } from '../support/test-database.ts';
import { startWebhookReceiver } from '../support/webhook-receiver.ts';


/** Through the real CLI, against the test PostgreSQL: what each refused input now gets, and that nothing was published. */
describe('inputs refused before any I/O (exit 2, nothing published)', () => {
  it.each([
    ['STORAGE_REQUEST_TIMEOUT=30d (every request would time out)', { STORAGE_REQUEST_TIMEOUT: '30d' }, /STORAGE_REQUEST_TIMEOUT: must be from 1s to 30m/],
    ['REPORT_PROGRESS_INTERVAL=30d (the timer would overflow)', { REPORT_PROGRESS_INTERVAL: '30d' }, /REPORT_PROGRESS_INTERVAL: must be from 100ms to 1h/],
    ['REPORT_STATEMENT_TIMEOUT=30d (refused only after connecting)', { REPORT_STATEMENT_TIMEOUT: '30d' }, /REPORT_STATEMENT_TIMEOUT: must be from 100ms to 1d/],
    ["REPORT_KEY_TEMPLATE='r_{YYYYMMDD}/' (the CSV published, then the manifest failed)", { REPORT_KEY_TEMPLATE: 'r_{YYYYMMDD}/' }, /REPORT_KEY_TEMPLATE: must not end with "\/"/],
    ["AZURE_STORAGE_PREFIX='../other/' (the report landed in container other)", { STORAGE_PROVIDER: 'azure', AZURE_STORAGE_CONNECTION_STRING: 'UseDevelopmentStorage=true', AZURE_STORAGE_PREFIX: '../other/' }, /AZURE_STORAGE_PREFIX: must not contain "\." or "\.\." segments/],
    ['a malformed AWS_REGION (found after the whole extraction)', { STORAGE_PROVIDER: 's3', AWS_REGION: 'sa-east1' }, /AWS_REGION: must be an AWS region such as sa-east-1/],
    ['a malformed Azure connection string ("Invalid URL", exit 1)', { STORAGE_PROVIDER: 'azure', AZURE_STORAGE_CONNECTION_STRING: 'AccountName=a;AccountKey=c2VjcmV0;BlobEndpoint=not a url' }, /AZURE_STORAGE_CONNECTION_STRING: has a BlobEndpoint that is not an http\(s\) URL/],
  ])('%s is exit 2 with its message, and the database is never contacted', async (_, extra, message) => {
    await expectRefusedBeforeAnyIo(extra, message);
  });

  it('(the control: with a valid configuration the job does reach the listener, and fails transiently)', async () => {
    const database = await countingListener();
    try {
      const env = { PGHOST: '127.0.0.1', PGPORT: String(database.port), PGDATABASE: 'app', PGUSER: 'report_reader', REPORT_TIMEZONE: 'America/Sao_Paulo', LOCAL_STORAGE_DIR: mkdtempSync(join(tmpdir(), 'daily-report-control-')) };
      const result = await runDailyReport(['run', '--date', '2024-10-05'], { env });
      expect(result.code).toBe(ExitCode.transient);
      expect(database.connections()).toBeGreaterThan(0);
    } finally {
      await database.close();
    }
  });

  it('--out without --dry-run is refused instead of being ignored while the real report is published', async () => {
    const db = await createTestDatabase('out_without_dry_run');
    const result = await runDailyReport(['run', '--date', '2024-10-05', '--out', join(db.outDir, 'r.csv')], { env: db.env });
    expect(result.code).toBe(ExitCode.invalidInput);
    expect(errorOf(result).err.message).toMatch(/--out: only applies with --dry-run/);
    expect(await filesIn(db.outDir)).toEqual([]);
  });

  it("run --date of a day that has not ended is refused, naming the report's zone, as rerun refuses it", async () => {
    const db = await createTestDatabase('future_date');
    const tomorrow = DateTime.now().setZone('America/Sao_Paulo').plus({ days: 1 }).toISODate()!;
    const result = await runDailyReport(['run', '--date', tomorrow], { env: db.env });
    expect(result.code).toBe(ExitCode.invalidInput);
    expect(errorOf(result).err.message).toContain(`--date: ${tomorrow} is in the future in America/Sao_Paulo (the report's zone)`);
    expect(await filesIn(db.outDir)).toEqual([]);
  });

  it('a query with $1 is exit 2 before connecting, not 08P01 read as transient', async () => {
    const db = await createTestDatabase('positional');
    const sqlFile = await queryFile(db.outDir, 'positional', 'SELECT now() AS data_extracao WHERE $1 > 0');
    const result = await runDailyReport(['run', '--date', '2024-10-05'], { env: { ...db.env, REPORT_SQL_FILE: sqlFile } });
    expect(result.code).toBe(ExitCode.invalidInput);
    expect(errorOf(result).err.message).toMatch(/uses positional parameter\(s\) \$1; the job binds none/);
  });

  it('an empty TZ without REPORT_TIMEZONE is exit 2, not a report for the zone Etc/Unknown', async () => {
    const db = await createTestDatabase('empty_tz');
    const { REPORT_TIMEZONE: _, ...env } = db.env;
    const result = await runDailyReport(['run', '--date', '2024-10-05'], { env: { ...env, TZ: '' } });
    expect(result.code).toBe(ExitCode.invalidInput);
    expect(errorOf(result).err.message).toMatch(/TZ: .*empty.*REPORT_TIMEZONE/);
    expect(await filesIn(db.outDir)).toEqual([]);
  });

  it('PGSSLMOD=verify-full is refused, naming PGSSLMODE, instead of connecting in plaintext with exit 0', async () => {
    const db = await createTestDatabase('typo');
    const result = await runDailyReport(['run', '--date', '2024-10-05'], { env: { ...db.env, PGSSLMOD: 'verify-full' } });
    expect(result.code).toBe(ExitCode.invalidInput);
    expect(errorOf(result).err.message).toMatch(/PGSSLMOD: is not a setting of daily-report; did you mean PGSSLMODE\?/);
    expect(await filesIn(db.outDir)).toEqual([]);
  });

  it('a connection URI in PGHOST is exit 2 and its password is in no log line or webhook, which still goes out', async () => {
    const db = await createTestDatabase('pghost_uri');
    const webhook = await startWebhookReceiver();
    try {
      const password = 'Uri-Pa55word-77';
      const result = await runDailyReport(['run', '--date', '2024-10-05'], {
        env: { ...db.env, PGHOST: `postgres://report_reader:${password}@127.0.0.1:5432/app`, ALERT_WEBHOOK_URL: webhook.url },
      });
      expect(result.code).toBe(ExitCode.invalidInput);
      expect(errorOf(result).err.message).toMatch(/PGHOST: must be a host name, not a connection URI/);
      expect(result.stderr).not.toContain(password);
      // One bad setting elsewhere no longer costs the alert: its settings were valid on their own.
      expect(webhook.requests).toHaveLength(1);
      expect(webhook.requests[0]!.body).toMatchObject({ event: 'report.failed', exit_code: 2 });
      expect(JSON.stringify(webhook.requests[0]!.body)).not.toContain(password);
    } finally {
      await webhook.stop();
    }
  });
});

describe('secret files, read by the real process', () => {
  it('a FIFO with no writer is exit 2 at once (it used to hang, deaf to SIGTERM); /dev/zero is exit 2 without reading 2.6 GB', async () => {
    const db = await createTestDatabase('secret_fifo');
    const fifo = join(db.outDir, 'password-fifo');
    await promisify(execFile)('mkfifo', [fifo]);
    const result = await runDailyReport(['run', '--date', '2024-10-05'], { env: { ...db.env, PGPASSWORD: '', PGPASSWORD_FILE: fifo, ALERT_WEBHOOK_URL_FILE: '/dev/zero' } });
    expect(result.code).toBe(ExitCode.invalidInput);
    expect(errorOf(result).err.message).toMatch(/PGPASSWORD_FILE: cannot read .*password-fifo \(not a regular file \(a FIFO\)\)/);
    expect(errorOf(result).err.message).toMatch(/ALERT_WEBHOOK_URL_FILE: cannot read \/dev\/zero \(not a regular file \(a device\)\)/);
  });
});

describe('secrets, by one mechanism', () => {
  it('are redacted from every log line, whatever logged them', async () => {
    forgetSecrets();
    rememberSecret('Log-Secret-31f');
    const path = join(mkdtempSync(join(tmpdir(), 'daily-report-log-')), 'log');
    const { openSync, closeSync } = await import('node:fs');
    const fd = openSync(path, 'w');
    createLogger({ level: 'info', format: 'json', fd }).error({ err: new Error('driver said: password "Log-Secret-31f" is wrong') }, 'connect failed for Log-Secret-31f');
    closeSync(fd);
    const text = readFileSync(path, 'utf8');
    expect(text).not.toContain('Log-Secret-31f');
    expect(parseLogLines(text)[0]).toMatchObject({ msg: 'connect failed for [redacted]', err: { message: 'driver said: password "[redacted]" is wrong' } });
    forgetSecrets();
  });
});

describe('a SAS token in the Azure connection string', () => {
  const azurite = inject('azurite');

  it('is in no log line of a published run: the connection string and its parts are secrets', async () => {
    const db = await createTestDatabase('azure_sas');
    const account = /AccountName=([^;]+)/.exec(azurite.connectionString)![1]!;
    const key = /AccountKey=([^;]+)/.exec(azurite.connectionString)![1]!;
    const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
    const container = service.getContainerClient(`sas-${randomBytes(5).toString('hex')}`);
    await container.create();
    const sas = generateAccountSASQueryParameters(
      { expiresOn: new Date(Date.now() + 3_600_000), permissions: AccountSASPermissions.parse('rwdlac'), services: 'b', resourceTypes: 'sco' },
      new StorageSharedKeyCredential(account, key),
    ).toString();
    const signature = new URLSearchParams(sas).get('sig')!;
    const result = await runDailyReport(['run', '--date', '2024-10-05'], {
      env: { ...db.env, STORAGE_PROVIDER: 'azure', AZURE_STORAGE_CONNECTION_STRING: `BlobEndpoint=${azurite.url};SharedAccessSignature=${sas}`, AZURE_STORAGE_CONTAINER: container.containerName },
    });
    expect(result.code, result.stderr).toBe(ExitCode.ok);
    expect(await container.getBlockBlobClient('relatorio_20241005.csv').exists()).toBe(true);
    // The adapter logs blob locations without their query string: the SAS never reaches a log line to be redacted.
    expect(result.stderr).toMatch(/"location":"http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1\/[^"?]+\/relatorio_20241005\.csv"/);
    for (const secret of [signature, encodeURIComponent(signature), sas]) expect(result.stderr).not.toContain(secret);
  });
});

describe('daily-report validate checks database and storage in one run', () => {
  const s3 = inject('s3');

  it('prints both when the password is wrong and the storage is fine; exits with the database code (4)', async () => {
    const db = await createTestDatabase('validate_both');
    const result = await runDailyReport(['validate'], { env: { ...db.env, PGPASSWORD: 'wrong-password' } });
    expect(result.code).toBe(ExitCode.accessDenied);
    expect(result.stdout).toMatch(/^database: 127\.0\.0\.1:\d+\/validate_both_\w+: FAILED \(exit 4\) — /m);
    expect(result.stdout).toMatch(/^storage: .*relatorio_\d{8}\.csv: ok$/m);
    expectNoSecrets(result);
  });

  it.skipIf('skipped' in s3)('finds a wrong password and a missing bucket in one run, through the storage preflight (moto)', async () => {
    if ('skipped' in s3) return;
    const db = await createTestDatabase('validate_bucket');
    await directS3Client(s3.url).send(new CreateBucketCommand({ Bucket: 'validate-present' }));
    const env = (bucket: string, password: string) => ({ ...db.env, ...S3_TEST_CREDENTIALS, PGPASSWORD: password, STORAGE_PROVIDER: 's3', AWS_REGION: 'us-east-1', S3_ENDPOINT: s3.url, S3_BUCKET: bucket, STORAGE_MAX_ATTEMPTS: '1' });

    const both = await runDailyReport(['validate'], { env: env('validate-missing', 'wrong-password') });
    expect(both.code).toBe(ExitCode.accessDenied);
    expect(both.stdout).toMatch(/^database: .*: FAILED \(exit 4\) — .*password/m);
    expect(both.stdout).toMatch(/^storage: s3:\/\/validate-missing\/relatorio_\d{8}\.csv: FAILED \(exit 4\) — .*validate-missing/m);
    expectNoSecrets(both);

    const fine = await runDailyReport(['validate'], { env: env('validate-present', db.env.PGPASSWORD!) });
    expect(fine.code, fine.stderr).toBe(ExitCode.ok);
    expect(fine.stdout).toMatch(/^contract: ok$/m);
    expect(fine.stdout).toMatch(/^storage: s3:\/\/validate-present\/relatorio_\d{8}\.csv: ok$/m);
  });
});

describe('failures that are not ours', () => {
  it('are exit 1 and logged as a bug with their stack', async () => {
    const script = `
      import { withConfig } from ${JSON.stringify(new URL('../../src/cli/command-context.ts', import.meta.url).href)};
      const code = await withConfig({ env: { PGDATABASE: 'app', PGUSER: 'u', REPORT_TIMEZONE: 'Etc/UTC', LOG_FORMAT: 'json' }, stdout: process.stdout, signal: new AbortController().signal },
        {}, async () => { null.boom; });
      process.exitCode = code;`;
    const error = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { env: { PATH: process.env.PATH } }).catch((e: { code: number; stderr: string }) => e);
    expect((error as { code: number }).code).toBe(ExitCode.transient);
    const line = parseLogLines((error as { stderr: string }).stderr).find((l) => l.level === 'error')!;
    expect(line).toMatchObject({ bug: true, err: { class: 'TypeError' } });
    expect(line.msg).toMatch(/^unexpected error \(a bug in daily-report/);
    expect(line.err.stack).toMatch(/at /);
  });

  it('leave usage errors at exit 2 (yargs) and ours at their own code', async () => {
    const result = await runDailyReport(['run', '--no-such-flag'], { env: {} });
    expect(result.code).toBe(ExitCode.invalidInput);
    expect(result.stderr).toMatch(/Unknown argument/);
    expect(result.stderr).not.toMatch(/unexpected error/);
  });
});
