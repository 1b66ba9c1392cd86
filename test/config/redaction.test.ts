import { describe, expect, it } from 'vitest';
import { forgetSecrets, redactSecrets, redactUrl, rememberSecret } from '../../src/config/redaction.ts';
import { closestName } from '../../src/loader/did-you-mean.ts';
import { connectionStringSecrets } from '../../src/storage/azure-connection-string.ts';

describe('redaction', () => {
  it('writes a URL without user:password@ and without its query string (a SAS token lives there)', () => {
    expect(redactUrl('https://acct.blob.core.windows.net/c/relatorio.csv?sv=2024&sig=abc%2Fdef')).toBe('https://acct.blob.core.windows.net/c/relatorio.csv');
    expect(redactUrl('postgres://report:Pa55@db:5432/app')).toBe('postgres://db:5432/app');
    expect(redactUrl('s3://bucket/key.csv')).toBe('s3://bucket/key.csv');
    expect(redactUrl('/var/reports/key.csv')).toBe('/var/reports/key.csv');
  });

  it('replaces a remembered secret as written, as escaped inside JSON, and percent-encoded', () => {
    forgetSecrets();
    rememberSecret('pa"ss/wörd');
    expect(redactSecrets('raw pa"ss/wörd')).toBe('raw [redacted]');
    expect(redactSecrets(JSON.stringify({ msg: 'pa"ss/wörd' }))).toBe('{"msg":"[redacted]"}');
    expect(redactSecrets(`https://x/?p=${encodeURIComponent('pa"ss/wörd')}`)).toBe('https://x/?p=[redacted]');
    forgetSecrets();
  });

  it('ignores values too short to redact without mangling every line', () => {
    forgetSecrets();
    rememberSecret('ab');
    expect(redactSecrets('about abc')).toBe('about abc');
  });

  it("takes a connection string's account key, SAS token and signature as secrets of their own", () => {
    expect(connectionStringSecrets('BlobEndpoint=https://a.blob.core.windows.net;SharedAccessSignature=sv=2024&sig=ab%2Fc')).toEqual(['sv=2024&sig=ab%2Fc', 'ab/c', 'ab%2Fc']);
    expect(connectionStringSecrets('AccountName=a;AccountKey=c2VjcmV0')).toEqual(['c2VjcmV0']);
  });
});

describe('did you mean', () => {
  it('names the closest setting for a slip of one or two letters, and nothing for a different name', () => {
    const known = ['PGSSLMODE', 'PGDATABASE', 'REPORT_SQL_FILE', 'PGHOST', 'PGPORT'];
    expect(closestName('PGSSLMOD', known)).toBe('PGSSLMODE');
    expect(closestName('PGDATABSE', known)).toBe('PGDATABASE');
    expect(closestName('REPORT_SQLFILE', known)).toBe('REPORT_SQL_FILE');
    expect(closestName('PGHOTS', known)).toBe('PGHOST');
    expect(closestName('PGAPPNAME', known)).toBeUndefined();
    expect(closestName('PGTZ', known)).toBeUndefined();
  });
});
