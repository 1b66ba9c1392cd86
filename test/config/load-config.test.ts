import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/config/duration.ts';
import { redactSecrets } from '../../src/config/redaction.ts';
import { ConfigurationIsInvalid, ExitCode, RunWasTerminated } from '../../src/errors.ts';
import { loadAlertsConfig, loadConfig, loadStorageConfig, type LoadOptions } from '../../src/loader/load-config.ts';
import { LIBPQ_VARIABLES } from '../../src/loader/settings-spec.ts';
import { DEFAULT_SQL_FILE } from '../../src/report/report-settings.ts';

const dir = mkdtempSync(join(tmpdir(), 'daily-report-config-'));
function file(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}
const passwordFile = file('password', 's3cr3t-from-file\n');
const caFile = file('ca.pem', '-----BEGIN CERTIFICATE-----');
const unknownSql = file('unknown.sql', "SELECT :report_date, :tenant_id, ':quoted' , x::int");
const minimal = { PGDATABASE: 'app', PGUSER: 'report_reader', REPORT_TIMEZONE: 'America/Sao_Paulo' };
// Mid-day on 2024-10-05 in São Paulo: the report of 2024-10-05 (covering the 4th) may run, the 6th may not.
const now = new Date('2024-10-05T15:00:00Z');

async function problemsOf(env: Record<string, string>, options: LoadOptions = {}): Promise<string[]> {
  const error = await loadConfig(env, { now, ...options }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigurationIsInvalid);
  expect((error as ConfigurationIsInvalid).exitCode).toBe(ExitCode.invalidInput);
  return [...(error as ConfigurationIsInvalid).problems];
}

describe('configuration', () => {
  it('fills documented defaults and returns a frozen object', async () => {
    const config = await loadConfig(minimal, { now });
    expect(config.database).toMatchObject({ host: 'localhost', port: 5432, sslMode: 'disable', connectTimeoutMs: 30_000, password: undefined });
    expect(config.report).toMatchObject({ timezone: 'America/Sao_Paulo', statementTimeoutMs: 7_200_000, fetchRows: 2_000, keyTemplate: 'relatorio_{YYYYMMDD}.csv', ifExists: 'overwrite', date: undefined, progressIntervalMs: 10_000 });
    expect(config.report.query.file).toBe(DEFAULT_SQL_FILE);
    expect(config.report.query.text).toMatch(/SELECT/);
    expect(config.csv).toEqual({ delimiter: ',', bom: false, escapeFormulas: true });
    expect(config.storage).toEqual({ provider: 'local', dir: './out' });
    expect(config.alerts).toEqual({ webhook: undefined, onSuccess: false, kubernetes: undefined });
    expect(config.telemetry).toEqual({ flushTimeoutMs: 5_000 });
    expect(Object.isFrozen(config.report)).toBe(true);
  });

  it('reports every problem at once, naming the variable, what is wrong and an example', async () => {
    const problems = await problemsOf({
      PGPORT: 'five',
      PGSSLMODE: 'prefer',
      REPORT_DATE: '2024-02-30',
      REPORT_TIMEZONE: 'Mars/Olympus',
      REPORT_FETCH_ROWS: '0',
      REPORT_STATEMENT_TIMEOUT: 'forever',
      REPORT_IF_EXISTS: 'maybe',
      STORAGE_PROVIDER: 'ftp',
      CSV_DELIMITER: '#',
      CSV_BOM: 'sometimes',
      REPORT_KEY_TEMPLATE: 'relatorio.csv',
      ALERT_WEBHOOK_FORMAT: 'discord',
    });
    const expected = [
      /^PGDATABASE: is required/, /^PGUSER: is required/, /^PGPORT: must be a whole number from 1 to 65535 .*got "five"/,
      /^PGSSLMODE: .*cannot fall back/, /^REPORT_DATE: must be a calendar date .*example: 2024-10-05/, /^REPORT_TIMEZONE: .*America\/Sao_Paulo/,
      /^REPORT_FETCH_ROWS: /, /^REPORT_STATEMENT_TIMEOUT: .*2h/, /^REPORT_IF_EXISTS: must be one of overwrite \| skip \| fail/,
      /^STORAGE_PROVIDER: must be one of local \| s3 \| azure/, /^CSV_DELIMITER: /, /^CSV_BOM: must be true or false/, /^REPORT_KEY_TEMPLATE: must contain the date/,
      // One bad alert value no longer silently drops the webhook: it is a problem like any other.
      /^ALERT_WEBHOOK_FORMAT: must be one of generic \| slack \| teams/,
    ];
    for (const pattern of expected) expect(problems).toContainEqual(expect.stringMatching(pattern));
    expect(problems).toHaveLength(expected.length);
  });

  it('lets --date win over REPORT_DATE and validates it too', async () => {
    expect((await loadConfig({ ...minimal, REPORT_DATE: '2024-01-01' }, { now, date: '2024-10-05' })).report.date).toBe('2024-10-05');
    expect(await problemsOf(minimal, { date: '05/10/2024' })).toEqual([expect.stringMatching(/^--date: must be a calendar date/)]);
  });

  it('treats empty variables as unset, as Helm renders empty values', async () => {
    expect((await loadConfig({ ...minimal, PGPORT: '', REPORT_IF_EXISTS: '' }, { now })).report.ifExists).toBe('overwrite');
  });

  it('parses delimiters, booleans and TLS settings', async () => {
    const config = await loadConfig({ ...minimal, CSV_DELIMITER: 'tab', CSV_BOM: 'yes', CSV_ESCAPE_FORMULAS: 'off', PGSSLMODE: 'verify-full', PGSSLROOTCERT: caFile }, { now });
    expect(config.csv).toEqual({ delimiter: '\t', bom: true, escapeFormulas: false });
    expect(config.database.sslRootCert).toBe('-----BEGIN CERTIFICATE-----');
  });

  it('names a missing SQL file or CA file', async () => {
    const problems = await problemsOf({ ...minimal, REPORT_SQL_FILE: '/nope.sql', PGSSLMODE: 'verify-full', PGSSLROOTCERT: '/nope.pem' });
    expect(problems).toEqual([expect.stringMatching(/^PGSSLROOTCERT: cannot read \/nope.pem \(ENOENT\)/), expect.stringMatching(/^REPORT_SQL_FILE: cannot read \/nope.sql \(ENOENT\)/)]);
  });
});

describe('the query', () => {
  it('is refused when it uses an unknown :name, naming it and the ones available', async () => {
    expect(await problemsOf({ ...minimal, REPORT_SQL_FILE: unknownSql })).toEqual([
      expect.stringMatching(/unknown parameter\(s\) :tenant_id; the job provides :report_date, :window_start, :window_end, :extracted_at/),
    ]);
  });

  it('is refused with exit 2 when it uses $1 (no value is bound: PostgreSQL would answer 08P01, read as transient)', async () => {
    const sql = file('positional.sql', "SELECT * FROM t WHERE d = $1 AND e = $2 AND note <> '$3' -- $4\n");
    expect(await problemsOf({ ...minimal, REPORT_SQL_FILE: sql })).toEqual([expect.stringMatching(/^REPORT_SQL_FILE: .* uses positional parameter\(s\) \$1, \$2; the job binds none: use the named ones \(:report_date/)]);
    const quoted = file('dollar-quoted.sql', "SELECT $$costs $1$$ AS a, '$2' AS b, :report_date AS c");
    expect((await loadConfig({ ...minimal, REPORT_SQL_FILE: quoted }, { now })).report.query.file).toBe(quoted);
  });

  it('is refused when empty', async () => {
    expect(await problemsOf({ ...minimal, REPORT_SQL_FILE: file('empty.sql', '  \n') })).toEqual([expect.stringMatching(/is empty; it must hold the report's SELECT/)]);
  });
});

describe('secrets', () => {
  it('come from X_FILE, without the trailing newline', async () => {
    expect((await loadConfig({ ...minimal, PGPASSWORD_FILE: passwordFile }, { now })).database.password).toBe('s3cr3t-from-file');
  });

  it('refuse X together with X_FILE, and an unreadable X_FILE, without quoting the secret', async () => {
    const problems = await problemsOf({ ...minimal, PGPASSWORD: 'hunter2', PGPASSWORD_FILE: passwordFile, PGUSER_FILE: '/missing' });
    expect(problems).toContainEqual(expect.stringMatching(/^PGPASSWORD and PGPASSWORD_FILE are both set/));
    expect(problems).toContainEqual(expect.stringMatching(/^PGUSER and PGUSER_FILE are both set/));
    expect(problems.join('\n')).not.toContain('hunter2');
  });

  it('are never echoed in a problem: a password, or any value read from a file (PGPORT_FILE pointing at a secret)', async () => {
    expect((await problemsOf({ PGPASSWORD: 'hunter2' })).join('\n')).not.toContain('hunter2');
    const problems = await problemsOf({ ...minimal, PGPORT_FILE: passwordFile });
    expect(problems).toEqual([expect.stringMatching(/^PGPORT: must be a whole number from 1 to 65535 \(example: 5432\)$/)]);
  });

  it('refuse a connection URI in PGHOST (exit 2) without echoing its password', async () => {
    const problems = await problemsOf({ ...minimal, PGHOST: 'postgres://report:Pa55word@db.internal:5432/app' });
    expect(problems).toEqual([expect.stringMatching(/^PGHOST: must be a host name, not a connection URI .*set PGHOST, PGPORT, PGDATABASE, PGUSER and PGPASSWORD separately$/)]);
    expect(problems.join('\n')).not.toContain('Pa55word');
    expect((await loadConfig({ ...minimal, PGHOST: '/var/run/postgresql' }, { now })).database.host).toBe('/var/run/postgresql');
  });

  it('are remembered by the loader and redacted from any text written afterwards', async () => {
    await loadConfig({ ...minimal, PGPASSWORD: 'Remembered-9e2c', ALERT_WEBHOOK_URL: 'https://hooks.example.com/services/T0/B0/TokenXyz123' }, { now });
    expect(redactSecrets('auth failed for "Remembered-9e2c"')).toBe('auth failed for "[redacted]"');
    expect(redactSecrets('{"url":"https://hooks.example.com/services/T0/B0/TokenXyz123"}')).toBe('{"url":"[redacted]"}');
  });
});

describe('setting files', () => {
  it('refuses a FIFO with no writer at once instead of hanging', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect(await problemsOf({ ...minimal, PGPASSWORD_FILE: fifo })).toEqual([
      expect.stringMatching(/^PGPASSWORD_FILE: cannot read .*fifo \(not a regular file \(a FIFO\)\); mount the Secret there as a file, or unset PGPASSWORD_FILE$/),
    ]);
  });

  it('refuses /dev/zero and a secret file over 64 KiB without reading it all', async () => {
    const problems = await problemsOf({ ...minimal, PGPASSWORD_FILE: '/dev/zero', ALERT_WEBHOOK_URL_FILE: file('huge', Buffer.alloc(64 * 1024 + 1, 'a')) });
    expect(problems).toEqual([
      expect.stringMatching(/^PGPASSWORD_FILE: cannot read \/dev\/zero \(not a regular file \(a device\)\)/),
      expect.stringMatching(/^ALERT_WEBHOOK_URL_FILE: cannot read .*huge \(larger than 64 KiB\)/),
    ]);
  });

  it('stops reading when SIGTERM has aborted the run (exit 143)', async () => {
    const controller = new AbortController();
    controller.abort(new Error('received SIGTERM'));
    const error = await loadConfig({ ...minimal, PGPASSWORD_FILE: passwordFile }, { now, signal: controller.signal }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RunWasTerminated);
    expect((error as RunWasTerminated).exitCode).toBe(ExitCode.terminated);
  });
});

describe('typos', () => {
  it('name the setting meant and refuse to run (PGSSLMOD would otherwise connect in plaintext with exit 0)', async () => {
    const problems = await problemsOf({ PGDATABSE: 'app', PGUSER: 'report_reader', PGSSLMOD: 'verify-full', REPORT_SQLFILE: '/x.sql', REPORT_TIMEZONE: 'America/Sao_Paulo' });
    expect(problems).toEqual([
      'PGDATABASE: is required: the database to read (example: PGDATABASE=app)',
      expect.stringMatching(/^PGDATABSE: is not a setting of daily-report; did you mean PGDATABASE\?/),
      expect.stringMatching(/^PGSSLMOD: is not a setting of daily-report; did you mean PGSSLMODE\?/),
      expect.stringMatching(/^REPORT_SQLFILE: is not a setting of daily-report; did you mean REPORT_SQL_FILE\?/),
    ]);
  });

  it('never take a libpq variable the job does not read for a typo of one it does', async () => {
    const env = Object.fromEntries(Object.keys(LIBPQ_VARIABLES).map((name) => [name, 'x']));
    const config = await loadConfig({ ...minimal, ...env }, { now });
    expect(config.warnings).toHaveLength(Object.keys(LIBPQ_VARIABLES).length);
  });

  it('only warn about unknown variables far from every setting, libpq variables we do not read, and skip Kubernetes service links', async () => {
    const config = await loadConfig({ ...minimal, REPORT_COLOUR: 'blue', PGAPPNAME: 'x', PG_SERVICE_HOST: '10.0.0.1', PG_PORT: 'tcp://10.0.0.1:5432' }, { now });
    expect(config.warnings).toEqual(['REPORT_COLOUR is not a setting of daily-report and is ignored', 'PGAPPNAME is a libpq variable daily-report does not use']);
  });

  it('warn, without the value, that a secret under four characters cannot be redacted, and redact one of four', async () => {
    const short = await loadConfig({ ...minimal, PGPASSWORD: 'p4s' }, { now });
    expect(short.warnings).toEqual([expect.stringMatching(/^PGPASSWORD is shorter than 4 characters, .* not redacted from logs, spans and webhooks: use a longer secret$/)]);
    expect(short.warnings[0]).not.toContain('p4s');
    const long = await loadConfig({ ...minimal, PGPASSWORD: 'p4s5' }, { now });
    expect(long.warnings).toEqual([]);
    expect(redactSecrets('password p4s5')).toBe('password [redacted]');
  });
});

describe('bounds and forms', () => {
  it('refuses durations that would overflow a timer or time every request out', async () => {
    const problems = await problemsOf({ ...minimal, STORAGE_REQUEST_TIMEOUT: '30d', REPORT_PROGRESS_INTERVAL: '30d', REPORT_STATEMENT_TIMEOUT: '30d', TELEMETRY_FLUSH_TIMEOUT: '0' });
    expect(problems).toEqual([
      'REPORT_STATEMENT_TIMEOUT: must be from 100ms to 1d (example: 2h) (got "30d")',
      'REPORT_PROGRESS_INTERVAL: must be from 100ms to 1h (example: 10s) (got "30d")',
      'STORAGE_REQUEST_TIMEOUT: must be from 1s to 30m (example: 2m) (got "30d")',
      'TELEMETRY_FLUSH_TIMEOUT: must be from 100ms to 1m (example: 5s) (got "0")',
    ]);
  });

  it('refuses keys and prefixes that climb out of the bucket, container or directory', async () => {
    const problems = await problemsOf({ ...minimal, REPORT_KEY_TEMPLATE: 'r_{YYYYMMDD}/', STORAGE_PROVIDER: 'azure', AZURE_STORAGE_ACCOUNT_URL: 'https://a.blob.core.windows.net', AZURE_STORAGE_PREFIX: '../other/' });
    expect(problems).toEqual([
      expect.stringMatching(/^REPORT_KEY_TEMPLATE: must not end with "\/" \(it names an object, not a folder\) \(got "r_\{YYYYMMDD\}\/"\)$/),
      expect.stringMatching(/^AZURE_STORAGE_PREFIX: must not contain "." or ".." segments/),
    ]);
    expect(await problemsOf({ ...minimal, STORAGE_PROVIDER: 's3', AWS_REGION: 'sa-east-1', S3_PREFIX: '/diarios//x/' })).toEqual([expect.stringMatching(/^S3_PREFIX: must not start with "\/"/)]);
    expect(await problemsOf({ ...minimal, STORAGE_PROVIDER: 's3', AWS_REGION: 'sa-east-1', S3_PREFIX: 'diarios//x' })).toEqual([expect.stringMatching(/^S3_PREFIX: must not contain an empty segment/)]);
  });

  it('refuses a malformed AWS region, but takes any region name an S3-compatible endpoint expects', async () => {
    expect(await problemsOf({ ...minimal, STORAGE_PROVIDER: 's3', AWS_REGION: 'Sao Paulo' })).toEqual(['AWS_REGION: must be an AWS region such as sa-east-1 or us-east-1 (got "Sao Paulo")']);
    expect(await problemsOf({ ...minimal, STORAGE_PROVIDER: 's3', AWS_DEFAULT_REGION: 'sa-east1' })).toEqual([expect.stringMatching(/^AWS_DEFAULT_REGION: must be an AWS region/)]);
    const config = await loadConfig({ ...minimal, STORAGE_PROVIDER: 's3', AWS_REGION: 'auto', S3_ENDPOINT: 'http://127.0.0.1:9000' }, { now });
    expect(config.storage).toMatchObject({ region: 'auto', endpoint: 'http://127.0.0.1:9000' });
  });

  it('parses the Azure connection string at load time, never echoing it', async () => {
    const key = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
    const azurite = `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${key};BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;`;
    const env = { ...minimal, STORAGE_PROVIDER: 'azure' };
    expect((await loadConfig({ ...env, AZURE_STORAGE_CONNECTION_STRING: azurite }, { now })).storage).toMatchObject({ provider: 'azure', connectionString: azurite });
    expect((await loadConfig({ ...env, AZURE_STORAGE_CONNECTION_STRING: 'UseDevelopmentStorage=true' }, { now })).storage.provider).toBe('azure');
    const cases: [string, RegExp][] = [
      [`AccountName=a;AccountKey=${key};BlobEndpoint=not a url`, /has a BlobEndpoint that is not an http\(s\) URL/],
      ['just-a-key-Eby8vdM02xNOcqFl', /is not a connection string/],
      [`AccountKey=${key}`, /has an AccountKey but no AccountName/],
      ['SharedAccessSignature=sv=2024&sig=SigSecret123', /has a SharedAccessSignature but no BlobEndpoint/],
    ];
    for (const [connectionString, pattern] of cases) {
      const problems = await problemsOf({ ...env, AZURE_STORAGE_CONNECTION_STRING: connectionString });
      expect(problems).toEqual([expect.stringMatching(new RegExp(`^AZURE_STORAGE_CONNECTION_STRING: ${pattern.source}`))]);
      expect(problems.join('\n')).not.toMatch(/Eby8vdM02xNOcqFl|SigSecret123/);
    }
  });

  it('refuses an account URL or S3 endpoint carrying credentials (they would be logged with the URL)', async () => {
    const problems = await problemsOf({ ...minimal, STORAGE_PROVIDER: 'azure', AZURE_STORAGE_ACCOUNT_URL: 'https://a.blob.core.windows.net/?sv=2024&sig=abc' });
    expect(problems).toEqual([expect.stringMatching(/^AZURE_STORAGE_ACCOUNT_URL: must not carry credentials/)]);
    const s3 = await problemsOf({ ...minimal, STORAGE_PROVIDER: 's3', AWS_REGION: 'us-east-1', S3_ENDPOINT: 'http://minio:Secret99@127.0.0.1:9000' });
    expect(s3).toEqual([expect.stringMatching(/^S3_ENDPOINT: must not carry credentials/)]);
    expect([...problems, ...s3].join('\n')).not.toMatch(/sig=abc|Secret99/);
  });
});

describe("the report's zone and date", () => {
  it('refuses an empty TZ or a POSIX TZ when REPORT_TIMEZONE is unset (the zone would be Etc/Unknown)', async () => {
    const env = { PGDATABASE: 'app', PGUSER: 'report_reader' };
    expect(await problemsOf({ ...env, TZ: '' })).toEqual([expect.stringMatching(/^TZ: .*empty.*set REPORT_TIMEZONE .*America\/Sao_Paulo/)]);
    expect(await problemsOf({ ...env, TZ: 'BRT3' })).toEqual([expect.stringMatching(/^TZ: .*"BRT3" is not an IANA time zone/)]);
    expect((await loadConfig({ ...env, TZ: ':America/Sao_Paulo' }, { now })).report.timezone).toBe('America/Sao_Paulo');
    expect((await loadConfig({ ...env, TZ: '', REPORT_TIMEZONE: 'Europe/Lisbon' }, { now })).report.timezone).toBe('Europe/Lisbon');
  });

  it("refuses a report date whose day has not ended in the report's zone, as rerun does", async () => {
    expect((await loadConfig(minimal, { now, date: '2024-10-05' })).report.date).toBe('2024-10-05');
    expect(await problemsOf(minimal, { date: '2024-10-06' })).toEqual(["--date: 2024-10-06 is in the future in America/Sao_Paulo (the report's zone): a report covers a day that has ended"]);
    expect(await problemsOf({ ...minimal, REPORT_DATE: '2024-10-06' })).toEqual([expect.stringMatching(/^REPORT_DATE: 2024-10-06 is in the future in America\/Sao_Paulo/)]);
    // 15:00 UTC on the 5th is already the 6th in Kiritimati (UTC+14).
    expect((await loadConfig({ ...minimal, REPORT_TIMEZONE: 'Pacific/Kiritimati' }, { now, date: '2024-10-06' })).report.date).toBe('2024-10-06');
  });
});

describe('storage configuration', () => {
  it('builds the S3 settings with documented defaults', async () => {
    const config = await loadConfig({ ...minimal, STORAGE_PROVIDER: 's3', AWS_REGION: 'sa-east-1', S3_PREFIX: 'diarios' }, { now });
    expect(config.storage).toEqual({
      provider: 's3', bucket: 'bucket-relatorios-aplicacao', prefix: 'diarios/', region: 'sa-east-1', endpoint: undefined, forcePathStyle: false,
      sse: 'AES256', kmsKeyId: undefined, checksumAlgorithm: 'CRC32', verify: true, partSizeBytes: 8 * 1024 * 1024, queueSize: 2,
      requestTimeoutMs: 120_000, maxAttempts: 5,
    });
  });

  it('lists every S3 problem: region missing, a KMS key without aws:kms, bad sizes and names', async () => {
    const problems = await problemsOf({ ...minimal, STORAGE_PROVIDER: 's3', S3_SSE_KMS_KEY_ID: 'key', S3_PART_SIZE_MB: '4', S3_BUCKET: 'Bad_Bucket', S3_CHECKSUM_ALGORITHM: 'MD5', S3_ENDPOINT: 'minio:9000' });
    for (const pattern of [/^S3_PART_SIZE_MB: must be a whole number from 5/, /^S3_BUCKET: must be a valid S3 bucket name/, /^S3_CHECKSUM_ALGORITHM: must be one of CRC32 \| CRC32C \| SHA256 \| NONE/, /^S3_ENDPOINT: must be an http\(s\) URL/]) {
      expect(problems).toContainEqual(expect.stringMatching(pattern));
    }
    const crossField = await problemsOf({ ...minimal, STORAGE_PROVIDER: 's3', S3_SSE_KMS_KEY_ID: 'key' });
    expect(crossField).toEqual([expect.stringMatching(/^AWS_REGION: is required/), expect.stringMatching(/^S3_SSE_KMS_KEY_ID: only applies with S3_SSE=aws:kms/)]);
  });

  it('uses path-style requests with S3_ENDPOINT (virtual-host style only for AWS), unless S3_FORCE_PATH_STYLE says otherwise', async () => {
    const s3 = { ...minimal, STORAGE_PROVIDER: 's3', AWS_REGION: 'us-east-1' };
    const styleOf = async (env: Record<string, string>) => ((await loadConfig({ ...s3, ...env }, { now })).storage as { forcePathStyle: boolean }).forcePathStyle;
    expect(await styleOf({})).toBe(false);
    expect(await styleOf({ S3_ENDPOINT: 'https://minio.storage.svc:9000' })).toBe(true);
    expect(await styleOf({ S3_ENDPOINT: 'https://minio.storage.svc:9000', S3_FORCE_PATH_STYLE: 'false' })).toBe(false);
    expect(await styleOf({ S3_FORCE_PATH_STYLE: 'true' })).toBe(true);
  });

  it('accepts S3_SSE=none only with S3_ENDPOINT, and then warns on every command that reports go without an encryption header', async () => {
    const s3 = { ...minimal, STORAGE_PROVIDER: 's3', AWS_REGION: 'us-east-1', S3_SSE: 'none' };
    expect(await problemsOf(s3)).toEqual([expect.stringMatching(/^S3_SSE: none is only for S3-compatible servers \(with S3_ENDPOINT\): AWS S3 encrypts every object, so use AES256 or aws:kms$/)]);
    const config = await loadConfig({ ...s3, S3_ENDPOINT: 'http://minio:9000' }, { now });
    expect(config.storage).toMatchObject({ sse: 'none', endpoint: 'http://minio:9000' });
    expect(config.warnings).toEqual([expect.stringMatching(/^S3_SSE=none: reports are sent to http:\/\/minio:9000 without a server-side encryption header/)]);
    expect((await loadStorageConfig({ ...s3, S3_ENDPOINT: 'http://minio:9000' }, { now })).warnings).toEqual(config.warnings);
  });

  it('builds the Azure settings from a connection string file', async () => {
    const azure = file('azure', 'DefaultEndpointsProtocol=https;AccountName=a;AccountKey=c2VjcmV0;\n');
    const config = await loadConfig({ ...minimal, STORAGE_PROVIDER: 'azure', AZURE_STORAGE_CONNECTION_STRING_FILE: azure, AZURE_STORAGE_PREFIX: 'r' }, { now });
    expect(config.storage).toMatchObject({ provider: 'azure', container: 'bucket-relatorios-aplicacao', prefix: 'r/', blockSizeBytes: 8 * 1024 * 1024, maxConcurrency: 2 });
    expect((config.storage as { connectionString: string }).connectionString).toBe('DefaultEndpointsProtocol=https;AccountName=a;AccountKey=c2VjcmV0;');
    const problems = await problemsOf({ ...minimal, STORAGE_PROVIDER: 'azure', AZURE_STORAGE_CONNECTION_STRING: 'AccountName=a;AccountKey=c2VjcmV0', AZURE_STORAGE_ACCOUNT_URL: 'https://a.blob.core.windows.net', AZURE_STORAGE_CONTAINER: 'a--b' });
    expect(problems).toContainEqual(expect.stringMatching(/set exactly one/));
    expect(problems).toContainEqual(expect.stringMatching(/^AZURE_STORAGE_CONTAINER: must be a valid container name/));
    expect(problems.join('\n')).not.toContain('c2VjcmV0');
  });

  it('requires an Azure account when the provider is azure', async () => {
    expect(await problemsOf({ ...minimal, STORAGE_PROVIDER: 'azure' })).toEqual([expect.stringMatching(/AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT_URL: set exactly one/)]);
  });
});

describe('per-command subsets of the same spec', () => {
  it('backfill --missing-only reads only the storage settings and the key template, with the same rules', async () => {
    const loaded = await loadStorageConfig({ STORAGE_PROVIDER: 's3', AWS_REGION: 'sa-east-1', REPORT_KEY_TEMPLATE: 'd/{YYYY-MM-DD}.csv', PGPORT: 'not read' });
    expect(loaded).toMatchObject({ storage: { provider: 's3', region: 'sa-east-1' }, keyTemplate: 'd/{YYYY-MM-DD}.csv' });
    const error = await loadStorageConfig({ STORAGE_PROVIDER: 's3', AWS_REGION: 'sa east', REPORT_KEY_TEMPLATE: 'd/{YYYY-MM-DD}/', STORAGE_REQUEST_TIMEOUT: '30d' }).catch((e: unknown) => e);
    expect((error as ConfigurationIsInvalid).problems).toEqual([
      expect.stringMatching(/^REPORT_KEY_TEMPLATE: must not end with "\/"/),
      expect.stringMatching(/^STORAGE_REQUEST_TIMEOUT: must be from 1s to 30m/),
      expect.stringMatching(/^AWS_REGION: must be an AWS region/),
    ]);
  });

  it('backfill --missing-only reads REPORT_COMPRESSION too, and refuses a key template that names another compression', async () => {
    expect(await loadStorageConfig({ REPORT_COMPRESSION: 'zstd' })).toMatchObject({ keyTemplate: 'relatorio_{YYYYMMDD}.csv', compression: 'zstd' });
    expect((await loadStorageConfig({})).compression).toBe('none');
    const error = await loadStorageConfig({ REPORT_KEY_TEMPLATE: 'r_{YYYYMMDD}.csv.zst', REPORT_COMPRESSION: 'gzip', STORAGE_REQUEST_TIMEOUT: '30d' }).catch((e: unknown) => e);
    expect((error as ConfigurationIsInvalid).problems).toEqual([
      expect.stringMatching(/^STORAGE_REQUEST_TIMEOUT: /),
      expect.stringMatching(/^REPORT_COMPRESSION: REPORT_KEY_TEMPLATE ends in \.zst but REPORT_COMPRESSION is gzip: set REPORT_COMPRESSION=zstd/),
    ]);
    const bad = await loadStorageConfig({ REPORT_COMPRESSION: 'xz' }).catch((e: unknown) => e);
    expect((bad as ConfigurationIsInvalid).problems).toEqual([expect.stringMatching(/^REPORT_COMPRESSION: must be one of none \| gzip \| zstd \(got "xz"\)/)]);
  });

  it('notify reads the alert settings alone, so an alert goes out when only the rest is invalid', async () => {
    const alerts = await loadAlertsConfig({ PGPORT: 'five', PGSSLMOD: 'require', ALERT_WEBHOOK_URL: 'https://hooks.example.com/x', ALERT_WEBHOOK_FORMAT: 'slack' });
    expect(alerts.webhook).toEqual({ url: 'https://hooks.example.com/x', format: 'slack' });
    const error = await loadAlertsConfig({ ALERT_WEBHOOK_URL: 'https://hooks.example.com/x', ALERT_ON_SUCCES: 'true' }).catch((e: unknown) => e);
    expect((error as ConfigurationIsInvalid).problems).toEqual([expect.stringMatching(/^ALERT_ON_SUCCES: is not a setting of daily-report; did you mean ALERT_ON_SUCCESS\?/)]);
  });

  it('refuses ALERT_KUBERNETES_EVENTS outside a pod instead of silently sending nothing', async () => {
    expect(await problemsOf({ ...minimal, ALERT_KUBERNETES_EVENTS: 'true' })).toEqual([expect.stringMatching(/^ALERT_KUBERNETES_EVENTS: needs JOB_NAME and POD_NAMESPACE/)]);
    const config = await loadConfig({ ...minimal, ALERT_KUBERNETES_EVENTS: 'true', JOB_NAME: 'daily-report-1', POD_NAMESPACE: 'reports', CRONJOB_NAME: 'daily-report' }, { now });
    expect(config.alerts.kubernetes).toEqual({ namespace: 'reports', job: 'daily-report-1', cronJob: 'daily-report' });
  });
});

describe('durations', () => {
  it('reads units, compounds and bare milliseconds', () => {
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('90000')).toBe(90_000);
    for (const bad of ['', 'h', '2 hours', '-1s', '1.5.2h']) expect(parseDuration(bad)).toBeUndefined();
  });
});
