import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { probeS3Guarantees } from '../support/s3-guarantees.ts';
import { describeOnS3Servers } from '../support/s3-servers.ts';
import { S3_TEST_CREDENTIALS } from '../support/storage-servers.ts';

const doc = readFileSync(new URL('../../docs/s3-compatible.md', import.meta.url), 'utf8');
const credentials = { accessKeyId: S3_TEST_CREDENTIALS.AWS_ACCESS_KEY_ID, secretAccessKey: S3_TEST_CREDENTIALS.AWS_SECRET_ACCESS_KEY };

/** The row of `server` in the guarantees table of docs/s3-compatible.md, by column header. */
function guaranteesRowOf(server: string): Record<string, string> {
  const lines = doc.split('\n').filter((line) => line.startsWith('| '));
  const cells = (line: string) => line.slice(2, -2).split(' | ');
  const start = lines.findIndex((line) => line.startsWith('| Guarantee |'));
  expect(start, 'docs/s3-compatible.md has the guarantees table').toBeGreaterThanOrEqual(0);
  const headers = cells(lines[start]!);
  const column = headers.findIndex((header) => header.toLowerCase() === server);
  expect(column, `the guarantees table has a column for ${server}`).toBeGreaterThan(0);
  const rows = lines.slice(start + 1).filter((line) => !line.startsWith('| Server |'));
  return Object.fromEntries(rows.map((line) => cells(line)).filter((c) => c.length === headers.length).map((c) => [c[0], c[column]!]));
}

describeOnS3Servers("docs/s3-compatible.md's guarantees column", (server) => {
  it('says what the server does with each condition and check the protocol relies on, as probed now', async () => {
    const column = guaranteesRowOf(server.name);
    const probed = await probeS3Guarantees(server.url, credentials);
    const starts = (cell: string | undefined, phrase: string) => expect(`${cell} `.startsWith(`${phrase} `), `"${cell}" should start with "${phrase}"`).toBe(true);
    starts(column['`If-None-Match: *` on PutObject (the lock, the manifest)'], probed.createExisting);
    starts(column['`If-Match` on DeleteObject, the object changed since (the old manifest, the lock\'s release)'], probed.deleteIfMatchChanged);
    starts(column['A wrong CRC32 on PutObject'], probed.putChecksum);
    starts(column['`If-Match` on PutObject, the object changed since'], probed.ifMatchChanged);
    starts(column['`If-Match` on PutObject, the object deleted since'], probed.ifMatchGone);
    starts(column['`If-Match` at CompleteMultipartUpload, the object deleted since'], probed.completeIfMatchGone);
    starts(column['A wrong `FULL_OBJECT` CRC32 at CompleteMultipartUpload'], probed.fullObjectChecksum);
    starts(column['A wrong `x-amz-mp-object-size`'], probed.objectSize);
  });
});
