import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';

/**
 * The guarantees the publishing protocol relies on (docs/s3-compatible.md, "Guarantees the protocol
 * relies on"), measured on a server: each answer is the phrase that table's cell starts with —
 * "refused: <error> (<status>)" where the server keeps the guarantee, "accepted" where it does not.
 * test/storage/s3-guarantees-table.test.ts holds the moto and MinIO rows to it.
 */
export interface S3Guarantees {
  /** DeleteObject If-Match: an ETag the object does not have ("accepted, deleted" when it deleted it anyway). */
  readonly deleteIfMatchChanged: string;
  /** PutObject If-None-Match: * over an existing key. */
  readonly createExisting: string;
  /** PutObject with a CRC32 header that is not its bytes'. */
  readonly putChecksum: string;
  /** PutObject If-Match: an ETag the object no longer has. */
  readonly ifMatchChanged: string;
  /** PutObject If-Match: the ETag of an object deleted since. */
  readonly ifMatchGone: string;
  /** CompleteMultipartUpload If-Match: the ETag of an object deleted since. */
  readonly completeIfMatchGone: string;
  /** CompleteMultipartUpload, ChecksumType FULL_OBJECT, with a CRC32 that is not the object's. */
  readonly fullObjectChecksum: string;
  /** CompleteMultipartUpload with x-amz-mp-object-size one byte short. */
  readonly objectSize: string;
}

const MiB = 1024 * 1024;
const b64 = (value: number) => {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value >>> 0);
  return buffer.toString('base64');
};

export async function probeS3Guarantees(endpoint: string, credentials: { accessKeyId: string; secretAccessKey: string }): Promise<S3Guarantees> {
  // The SDK must not compute checksums of its own: the probe sends the ones it means to.
  const client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials, requestChecksumCalculation: 'WHEN_REQUIRED', maxAttempts: 1 });
  const outcome = (request: Promise<unknown>) =>
    request.then(
      () => 'accepted',
      (error: { name?: string; $metadata?: { httpStatusCode?: number } }) => `refused: ${error.name} (${error.$metadata?.httpStatusCode})`,
    );
  try {
    const Bucket = `guarantees-${randomBytes(5).toString('hex')}`;
    await client.send(new CreateBucketCommand({ Bucket }));

    const putChecksum = await outcome(client.send(new PutObjectCommand({ Bucket, Key: 'crc', Body: 'x', ChecksumCRC32: 'AAAAAA==' })));
    await client.send(new PutObjectCommand({ Bucket, Key: 'exists', Body: 'first' }));
    const createExisting = await outcome(client.send(new PutObjectCommand({ Bucket, Key: 'exists', Body: 'second', IfNoneMatch: '*' })));
    const first = await client.send(new PutObjectCommand({ Bucket, Key: 'changed', Body: 'first' }));
    await client.send(new PutObjectCommand({ Bucket, Key: 'changed', Body: 'second' }));
    const ifMatchChanged = await outcome(client.send(new PutObjectCommand({ Bucket, Key: 'changed', Body: 'third', IfMatch: first.ETag })));

    await client.send(new PutObjectCommand({ Bucket, Key: 'delete', Body: 'first' }));
    let deleteIfMatchChanged = await outcome(client.send(new DeleteObjectCommand({ Bucket, Key: 'delete', IfMatch: '"0123456789abcdef0123456789abcdef"' })));
    if (deleteIfMatchChanged === 'accepted') {
      const kept = await client.send(new HeadObjectCommand({ Bucket, Key: 'delete' })).then(() => true, () => false);
      deleteIfMatchChanged = kept ? 'accepted, kept' : 'accepted, deleted';
    }
    const gone = await client.send(new PutObjectCommand({ Bucket, Key: 'gone', Body: 'first' }));
    await client.send(new DeleteObjectCommand({ Bucket, Key: 'gone' }));
    const ifMatchGone = await outcome(client.send(new PutObjectCommand({ Bucket, Key: 'gone', Body: 'second', IfMatch: gone.ETag })));

    /** A two-part upload with CRC32 FULL_OBJECT, completed with `complete`'s changes. */
    const multipart = async (Key: string, complete: { IfMatch?: string; wrongChecksum?: boolean; wrongSize?: boolean }) => {
      const parts = [randomBytes(5 * MiB), randomBytes(1024)];
      const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket, Key, ChecksumAlgorithm: 'CRC32', ChecksumType: 'FULL_OBJECT' }));
      const uploaded = [];
      for (const [i, Body] of parts.entries()) {
        const { ETag } = await client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body, ChecksumCRC32: b64(crc32(Body)) }));
        uploaded.push({ PartNumber: i + 1, ETag, ChecksumCRC32: b64(crc32(Body)) });
      }
      const whole = crc32(parts[1]!, crc32(parts[0]!));
      const bytes = parts[0]!.length + parts[1]!.length;
      return outcome(
        client.send(
          new CompleteMultipartUploadCommand({
            Bucket, Key, UploadId, MultipartUpload: { Parts: uploaded },
            ChecksumType: 'FULL_OBJECT', ChecksumCRC32: b64(complete.wrongChecksum ? whole ^ 1 : whole),
            MpuObjectSize: complete.wrongSize ? bytes - 1 : bytes,
            ...(complete.IfMatch ? { IfMatch: complete.IfMatch } : {}),
          }),
        ),
      );
    };
    const completeGone = await client.send(new PutObjectCommand({ Bucket, Key: 'complete-gone', Body: 'first' }));
    await client.send(new DeleteObjectCommand({ Bucket, Key: 'complete-gone' }));
    const completeIfMatchGone = await multipart('complete-gone', { IfMatch: completeGone.ETag! });
    const fullObjectChecksum = await multipart('full-object', { wrongChecksum: true });
    const objectSize = await multipart('object-size', { wrongSize: true });
    // The probe's control: the same upload, nothing wrong, is accepted.
    const control = await multipart('control', {});
    if (control !== 'accepted') throw new Error(`the probe's correct multipart upload was refused (${control}): the probe, not the server, is wrong`);
    return { deleteIfMatchChanged, createExisting, putChecksum, ifMatchChanged, ifMatchGone, completeIfMatchGone, fullObjectChecksum, objectSize };
  } finally {
    client.destroy();
  }
}
