import { readFileSync } from 'node:fs';
import { expect, inject, it } from 'vitest';
import { probeS3Server } from '../support/s3-capabilities.ts';
import { describeOnS3Servers } from '../support/s3-servers.ts';
import { MOTO_REQUIREMENT, S3_TEST_CREDENTIALS } from '../support/storage-servers.ts';

const doc = readFileSync(new URL('../../docs/s3-compatible.md', import.meta.url), 'utf8');
const credentials = { accessKeyId: S3_TEST_CREDENTIALS.AWS_ACCESS_KEY_ID, secretAccessKey: S3_TEST_CREDENTIALS.AWS_SECRET_ACCESS_KEY };

/** The table row of `server` in docs/s3-compatible.md, by column header. */
function rowOf(server: string): Record<string, string> {
  const lines = doc.split('\n').filter((line) => line.startsWith('| '));
  const cells = (line: string) => line.slice(2, -2).split(' | ');
  const headers = cells(lines.find((line) => line.startsWith('| Server |'))!);
  const row = lines.find((line) => line.toLowerCase().startsWith(`| ${server} |`));
  expect(row, `docs/s3-compatible.md has a row for ${server}`).toBeDefined();
  return Object.fromEntries(cells(row!).map((cell, i) => [headers[i], cell]));
}

describeOnS3Servers("docs/s3-compatible.md's row", (server) => {
  it('says what the server does, as probed now', async () => {
    const row = rowOf(server.name);
    const probed = await probeS3Server(server.url, credentials);
    expect(row['Checksums']).toBe(probed.checksums);
    expect(row['If-None-Match on PutObject']).toBe(probed.conditionalPut);
    // moto's race is not deterministic (the row says how often it lost); MinIO's must hold every time.
    if (server.strict) expect(row['If-None-Match at CompleteMultipartUpload']).toBe(probed.conditionalComplete);
    // The cell starts with what was probed; what follows explains it.
    expect(`${row['SSE-S3 header']} `.startsWith(`${probed.sseS3} `), row['SSE-S3 header']).toBe(true);
    expect(`${row['Lifecycle file']} `.startsWith(`${probed.lifecycle} `), row['Lifecycle file']).toBe(true);
    const pinned = server.name === 'minio' ? /minio (v\S+)/.exec(readFileSync(new URL('../tools/build-tools.sh', import.meta.url), 'utf8'))![1]! : MOTO_REQUIREMENT.split('==')[1]!;
    expect(row['Version']).toContain(pinned);
  });
});

it("docs/s3-compatible.md's MinIO row says MinIO without a KMS refuses the SSE-S3 header, as probed now", async () => {
  const withoutKms = inject('minioWithoutKms');
  if (!('url' in withoutKms)) return void process.stderr.write(`!!! MinIO without a KMS SKIPPED: ${withoutKms.skipped}\n`);
  const probed = await probeS3Server(withoutKms.url, credentials);
  expect(rowOf('minio')['SSE-S3 header']).toContain(`without: ${probed.sseS3}`);
});
