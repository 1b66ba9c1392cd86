import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  PutBucketLifecycleConfigurationCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';

/**
 * What an S3-compatible server does with the requests the job relies on, measured: the facts
 * behind docs/s3-compatible.md's table (test/storage/s3-compatible-table.test.ts holds the table to
 * them on moto and MinIO). Each value is a short phrase as it appears in the table.
 */
export interface S3Capabilities {
  /** A PutObject whose CRC32 header does not match its bytes: "refused" or "accepted". */
  readonly checksums: 'verified' | 'not verified';
  /** If-None-Match: * on PutObject over an existing key. */
  readonly conditionalPut: 'enforced' | 'ignored';
  /** Two CompleteMultipartUpload of one key at once, both with If-None-Match: *, over `rounds` rounds: "atomic" when exactly one published every time. */
  readonly conditionalComplete: string;
  /** The SSE-S3 header (AES256) with the server as it was started. */
  readonly sseS3: string;
  /** src/storage/policies/aws-lifecycle.json through PutBucketLifecycleConfiguration. */
  readonly lifecycle: string;
}

const RACE_ROUNDS = 4;

export async function probeS3Server(endpoint: string, credentials: { accessKeyId: string; secretAccessKey: string }): Promise<S3Capabilities> {
  // The SDK must not compute checksums of its own: the probe sends the ones it means to.
  const client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials, requestChecksumCalculation: 'WHEN_REQUIRED', maxAttempts: 1 });
  try {
    const Bucket = `probe-${randomBytes(5).toString('hex')}`;
    await client.send(new CreateBucketCommand({ Bucket }));
    const outcome = (request: Promise<unknown>) =>
      request.then(
        () => 'accepted',
        (error: { name?: string; $metadata?: { httpStatusCode?: number } }) => `refused: ${error.name} (${error.$metadata?.httpStatusCode})`,
      );

    const checksums = await outcome(client.send(new PutObjectCommand({ Bucket, Key: 'crc', Body: 'x', ChecksumCRC32: 'AAAAAA==' })));
    await client.send(new PutObjectCommand({ Bucket, Key: 'put', Body: 'first' }));
    const conditionalPut = await outcome(client.send(new PutObjectCommand({ Bucket, Key: 'put', Body: 'second', IfNoneMatch: '*' })));

    let atomic = 0;
    for (let round = 0; round < RACE_ROUNDS; round++) {
      const Key = `race-${round}`;
      const uploads = await Promise.all(
        [0, 1].map(async () => {
          const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket, Key }));
          const { ETag } = await client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: randomBytes(5 * 1024 * 1024) }));
          return { UploadId, ETag };
        }),
      );
      const completed = await Promise.allSettled(
        uploads.map(({ UploadId, ETag }) => client.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, IfNoneMatch: '*', MultipartUpload: { Parts: [{ PartNumber: 1, ETag }] } }))),
      );
      if (completed.filter((c) => c.status === 'fulfilled').length === 1) atomic++;
    }

    const sseS3 = await outcome(client.send(new PutObjectCommand({ Bucket, Key: 'sse', Body: 'x', ServerSideEncryption: 'AES256' })));
    let sseReported = '';
    if (sseS3 === 'accepted') {
      const head = await client.send(new HeadObjectCommand({ Bucket, Key: 'sse' }));
      sseReported = head.ServerSideEncryption === 'AES256' ? '' : ', not reported by HEAD';
    }
    const policy = JSON.parse(await readFile(new URL('../../src/storage/policies/aws-lifecycle.json', import.meta.url), 'utf8'));
    const lifecycle = await outcome(client.send(new PutBucketLifecycleConfigurationCommand({ Bucket, LifecycleConfiguration: policy })));

    return {
      checksums: checksums === 'accepted' ? 'not verified' : 'verified',
      conditionalPut: conditionalPut === 'accepted' ? 'ignored' : 'enforced',
      conditionalComplete: atomic === RACE_ROUNDS ? `atomic (${atomic}/${RACE_ROUNDS})` : `not atomic (${atomic}/${RACE_ROUNDS})`,
      sseS3: `${sseS3}${sseReported}`,
      lifecycle,
    };
  } finally {
    client.destroy();
  }
}
