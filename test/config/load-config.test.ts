import { describe, expect, it } from 'vitest';
import { DEFAULT_SQL_FILE, loadConfig } from '../../src/config/load-config.ts';
import { parseDuration } from '../../src/config/duration.ts';
import { ConfigurationIsInvalid } from '../../src/errors.ts';

const files: Record<string, string> = {
  [DEFAULT_SQL_FILE]: 'SELECT :report_date',
  '/secrets/password': 's3cr3t-from-file\n',
  '/etc/ca.pem': '-----BEGIN CERTIFICATE-----',
  '/sql/unknown.sql': "SELECT :report_date, :tenant_id, ':quoted' , x::int",
};
const readTextFile = (path: string) => {
  if (path in files) return files[path]!;
  throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
};
const minimal = { PGDATABASE: 'app', PGUSER: 'report_reader' };

function problemsOf(env: Record<string, string>, date?: string): string[] {
  try {
    loadConfig(env, { readTextFile, date });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationIsInvalid);
    expect((error as ConfigurationIsInvalid).exitCode).toBe(2);
    return [...(error as ConfigurationIsInvalid).problems];
  }
  throw new Error('expected the configuration to be rejected');
}

describe('configuration', () => {
  it('fills documented defaults and returns a frozen object', () => {
    const config = loadConfig({ ...minimal, REPORT_TIMEZONE: 'America/Sao_Paulo' }, { readTextFile });
    expect(config.database).toMatchObject({ host: 'localhost', port: 5432, sslMode: 'disable', connectTimeoutMs: 30_000, password: undefined });
    expect(config.report).toMatchObject({ timezone: 'America/Sao_Paulo', statementTimeoutMs: 7_200_000, fetchRows: 2_000, keyTemplate: 'relatorio_{YYYYMMDD}.csv', ifExists: 'overwrite', date: undefined });
    expect(config.report.query).toEqual({ file: DEFAULT_SQL_FILE, text: 'SELECT :report_date' });
    expect(config.csv).toEqual({ delimiter: ',', bom: false, escapeFormulas: true });
    expect(config.storage).toEqual({ provider: 'local', dir: './out' });
    expect(Object.isFrozen(config.report)).toBe(true);
  });

  it('reports every problem at once, naming the variable, what is wrong and an example', () => {
    const problems = problemsOf({
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
    });
    const expected = [
      /^PGDATABASE: is required/, /^PGUSER: is required/, /^PGPORT: must be a whole number from 1 to 65535 .*got "five"/,
      /^PGSSLMODE: .*cannot fall back/, /^REPORT_DATE: must be a calendar date .*example: 2024-10-05/, /^REPORT_TIMEZONE: .*America\/Sao_Paulo/,
      /^REPORT_FETCH_ROWS: /, /^REPORT_STATEMENT_TIMEOUT: .*2h/, /^REPORT_IF_EXISTS: must be one of overwrite \| skip \| fail/,
      /^STORAGE_PROVIDER: must be one of local \| s3 \| azure/, /^CSV_DELIMITER: /, /^CSV_BOM: must be true or false/, /^REPORT_KEY_TEMPLATE: must contain the date/,
    ];
    for (const pattern of expected) expect(problems).toContainEqual(expect.stringMatching(pattern));
    expect(problems).toHaveLength(expected.length);
  });

  it('reads secrets from X_FILE, trimming the trailing newline', () => {
    const config = loadConfig({ ...minimal, PGPASSWORD_FILE: '/secrets/password' }, { readTextFile });
    expect(config.database.password).toBe('s3cr3t-from-file');
  });

  it('refuses X together with X_FILE, and an unreadable X_FILE, without quoting the secret', () => {
    const problems = problemsOf({ ...minimal, PGPASSWORD: 'hunter2', PGPASSWORD_FILE: '/secrets/password', PGUSER_FILE: '/missing' });
    expect(problems).toContainEqual(expect.stringMatching(/^PGPASSWORD and PGPASSWORD_FILE are both set/));
    expect(problems).toContainEqual(expect.stringMatching(/^PGUSER and PGUSER_FILE are both set/));
    expect(problems.join('\n')).not.toContain('hunter2');
  });

  it('never echoes a password in a problem', () => {
    const problems = problemsOf({ PGPASSWORD: 'hunter2' });
    expect(problems.join('\n')).not.toContain('hunter2');
  });

  it('rejects a query that uses an unknown :name, naming it and the ones available', () => {
    const problems = problemsOf({ ...minimal, REPORT_SQL_FILE: '/sql/unknown.sql' });
    expect(problems).toEqual([expect.stringMatching(/unknown parameter\(s\) :tenant_id; the job provides :report_date, :window_start, :window_end, :extracted_at/)]);
  });

  it('names a missing SQL file or CA file', () => {
    const problems = problemsOf({ ...minimal, REPORT_SQL_FILE: '/nope.sql', PGSSLMODE: 'verify-full', PGSSLROOTCERT: '/nope.pem' });
    expect(problems).toEqual([expect.stringMatching(/^REPORT_SQL_FILE: cannot read \/nope.sql \(ENOENT\)/), expect.stringMatching(/^PGSSLROOTCERT: cannot read \/nope.pem/)]);
  });

  it('lets --date win over REPORT_DATE and validates it too', () => {
    expect(loadConfig({ ...minimal, REPORT_DATE: '2024-01-01' }, { readTextFile, date: '2024-10-05' }).report.date).toBe('2024-10-05');
    expect(problemsOf(minimal, '05/10/2024')).toEqual([expect.stringMatching(/^--date: must be a calendar date/)]);
  });

  it('treats empty variables as unset, as Helm renders empty values', () => {
    expect(loadConfig({ ...minimal, PGPORT: '', REPORT_IF_EXISTS: '' }, { readTextFile }).report.ifExists).toBe('overwrite');
  });

  it('parses delimiters, booleans and TLS settings', () => {
    const config = loadConfig({ ...minimal, CSV_DELIMITER: 'tab', CSV_BOM: 'yes', CSV_ESCAPE_FORMULAS: 'off', PGSSLMODE: 'verify-full', PGSSLROOTCERT: '/etc/ca.pem' }, { readTextFile });
    expect(config.csv).toEqual({ delimiter: '\t', bom: true, escapeFormulas: false });
    expect(config.database.sslRootCert).toBe('-----BEGIN CERTIFICATE-----');
  });

  it('warns about unknown variables with our prefixes (probably typos)', () => {
    expect(loadConfig({ ...minimal, REPORT_DAT: '2024-10-05' }, { readTextFile }).warnings).toEqual([expect.stringMatching(/^REPORT_DAT is not a setting/)]);
  });
});

describe('storage configuration', () => {
  it('builds the S3 settings with documented defaults', () => {
    const config = loadConfig({ ...minimal, STORAGE_PROVIDER: 's3', AWS_REGION: 'sa-east-1', S3_PREFIX: '/diarios/' }, { readTextFile });
    expect(config.storage).toEqual({
      provider: 's3', bucket: 'bucket-relatorios-aplicacao', prefix: 'diarios/', region: 'sa-east-1', endpoint: undefined, forcePathStyle: false,
      sse: 'AES256', kmsKeyId: undefined, checksumAlgorithm: 'CRC32', verify: true, partSizeBytes: 8 * 1024 * 1024, queueSize: 2,
      requestTimeoutMs: 120_000, maxAttempts: 5,
    });
  });

  it('lists every S3 problem: region missing, a KMS key without aws:kms, bad sizes and names', () => {
    const problems = problemsOf({ ...minimal, STORAGE_PROVIDER: 's3', S3_SSE_KMS_KEY_ID: 'key', S3_PART_SIZE_MB: '4', S3_BUCKET: 'Bad_Bucket', S3_CHECKSUM_ALGORITHM: 'MD5', S3_ENDPOINT: 'minio:9000' });
    for (const pattern of [/^S3_PART_SIZE_MB: must be a whole number from 5/, /^S3_BUCKET: must be a valid S3 bucket name/, /^S3_CHECKSUM_ALGORITHM: must be one of CRC32 \| CRC32C \| SHA256 \| NONE/, /^S3_ENDPOINT: must be an http\(s\) URL/]) {
      expect(problems).toContainEqual(expect.stringMatching(pattern));
    }
    const crossField = problemsOf({ ...minimal, STORAGE_PROVIDER: 's3', S3_SSE_KMS_KEY_ID: 'key' });
    expect(crossField).toEqual([expect.stringMatching(/^AWS_REGION: is required/), expect.stringMatching(/^S3_SSE_KMS_KEY_ID: only applies with S3_SSE=aws:kms/)]);
  });

  it('builds the Azure settings from a connection string file, never echoing it', () => {
    files['/secrets/azure'] = 'DefaultEndpointsProtocol=https;AccountName=a;AccountKey=c2VjcmV0;\n';
    const config = loadConfig({ ...minimal, STORAGE_PROVIDER: 'azure', AZURE_STORAGE_CONNECTION_STRING_FILE: '/secrets/azure', AZURE_STORAGE_PREFIX: 'r' }, { readTextFile });
    expect(config.storage).toMatchObject({ provider: 'azure', container: 'bucket-relatorios-aplicacao', prefix: 'r/', blockSizeBytes: 8 * 1024 * 1024, maxConcurrency: 2 });
    expect((config.storage as { connectionString: string }).connectionString).toBe('DefaultEndpointsProtocol=https;AccountName=a;AccountKey=c2VjcmV0;');
    const problems = problemsOf({ ...minimal, STORAGE_PROVIDER: 'azure', AZURE_STORAGE_CONNECTION_STRING: 'AccountKey=c2VjcmV0', AZURE_STORAGE_ACCOUNT_URL: 'https://a.blob.core.windows.net', AZURE_STORAGE_CONTAINER: 'a--b' });
    expect(problems).toContainEqual(expect.stringMatching(/set exactly one/));
    expect(problems).toContainEqual(expect.stringMatching(/^AZURE_STORAGE_CONTAINER: must be a valid container name/));
    expect(problems.join('\n')).not.toContain('c2VjcmV0');
  });

  it('requires an Azure account when the provider is azure', () => {
    expect(problemsOf({ ...minimal, STORAGE_PROVIDER: 'azure' })).toEqual([expect.stringMatching(/AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT_URL: set exactly one/)]);
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
