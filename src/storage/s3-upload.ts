import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type PutObjectCommandInput,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { S3ChecksumAlgorithm } from '../config/config.ts';
import { uploadInParts, type PartTarget } from './part-upload.ts';
import { checksumOf, compositeChecksum, fullObjectChecksum, type RunningChecksum } from './s3-checksum.ts';

/** S3's limit on the parts of one multipart upload. */
export const MAX_PARTS = 10_000;

/** What PutObject and CreateMultipartUpload carry besides the bytes. */
export type ObjectAttributes = Pick<PutObjectCommandInput, 'ContentType' | 'Metadata' | 'ServerSideEncryption' | 'SSEKMSKeyId' | 'BucketKeyEnabled'>;

export interface S3UploadRequest {
  readonly client: S3Client;
  readonly bucket: string;
  readonly key: string;
  readonly attributes: ObjectAttributes;
  readonly checksumAlgorithm: S3ChecksumAlgorithm;
  /** Publish only if nothing exists under the key (If-None-Match: * on the request that publishes). */
  readonly ifNoneMatch: boolean;
  /** Publish only over the object with this ETag (If-Match on the request that publishes). */
  readonly ifMatch?: string | undefined;
  /** Awaited after every part is stored, before the request that publishes. */
  readonly beforePublish?: (() => Promise<void>) | undefined;
  readonly partSize: number;
  /** Parts uploading at once; one more buffer is being filled meanwhile. */
  readonly queueSize: number;
  readonly signal: AbortSignal;
  /** @default MAX_PARTS (lower only to test the limit). */
  readonly maxParts?: number;
  /** Called whenever a part has been stored, for a stall watchdog. */
  readonly onPartStored?: () => void;
}

export interface S3UploadResult {
  /** 0 when the report went as a single PutObject. */
  readonly parts: number;
  /** The object checksum S3 should report (base64; "-N" for N composite parts); undefined with NONE. */
  readonly checksum: string | undefined;
  /** Bytes sent, which S3 was told to expect (x-amz-mp-object-size) for a multipart upload. */
  readonly bytes: number;
  readonly etag: string | undefined;
  readonly versionId: string | undefined;
}

/**
 * Streams a body into one S3 object: a single PutObject when it fits in one part, otherwise a
 * multipart upload fed by `uploadInParts` (a fixed pool of part buffers, back-pressure). Each part
 * carries the checksum the job computed, which S3 checks on arrival. Nothing is visible under the
 * key before PutObject or CompleteMultipartUpload succeeds; a failure aborts the multipart upload.
 */
export async function uploadToS3(body: AsyncIterable<Uint8Array>, request: S3UploadRequest): Promise<S3UploadResult> {
  return uploadInParts(body, new S3Object(request), {
    partSize: request.partSize,
    queueSize: request.queueSize,
    maxParts: request.maxParts ?? MAX_PARTS,
    partSizeSetting: 'S3_PART_SIZE_MB',
    signal: request.signal,
    ...(request.onPartStored ? { onPartStored: request.onPartStored } : {}),
    ...(request.beforePublish ? { beforePublish: request.beforePublish } : {}),
  });
}

/**
 * One object: its PutObject, or its multipart upload, created with the first part. With CRC32 or
 * CRC32C the multipart upload is FULL_OBJECT: CompleteMultipartUpload carries the checksum of the
 * whole object (computed here as the parts are cut, in order) and its size, so a server that
 * checks them (S3) refuses to assemble anything but exactly the bytes read.
 */
class S3Object implements PartTarget<S3UploadResult> {
  readonly #request: S3UploadRequest;
  readonly #stored: CompletedPart[] = [];
  readonly #digests: Buffer[] = [];
  readonly #whole: RunningChecksum | undefined;
  #bytes = 0;
  #uploadId: Promise<string> | undefined;

  constructor(request: S3UploadRequest) {
    this.#request = request;
    this.#whole = fullObjectChecksum(request.checksumAlgorithm);
  }

  async single(bytes: Buffer, signal: AbortSignal): Promise<S3UploadResult> {
    const { client, bucket, key, attributes, ifNoneMatch } = this.#request;
    const digest = this.#digest(bytes);
    const put = new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: bytes,
      ContentLength: bytes.length,
      ...attributes,
      ...this.#checksumField(digest),
      ...this.#condition(ifNoneMatch),
    });
    const response = await client.send(digest ? unsignedPayload(put) : put, { abortSignal: signal });
    return { parts: 0, checksum: digest?.toString('base64'), bytes: bytes.length, etag: response.ETag, versionId: response.VersionId };
  }

  async part(number: number, bytes: Buffer, signal: AbortSignal): Promise<void> {
    const { client, bucket, key } = this.#request;
    const digest = this.#digest(bytes);
    if (digest) this.#digests[number - 1] = digest;
    // Parts are cut (and this runs up to here) in order: the whole object's checksum follows them.
    this.#whole?.update(bytes);
    this.#bytes += bytes.length;
    this.#uploadId ??= this.#create(signal);
    const UploadId = await this.#uploadId;
    const upload = new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: number, Body: bytes, ContentLength: bytes.length, ...this.#checksumField(digest) });
    const response = await client.send(digest ? unsignedPayload(upload) : upload, { abortSignal: signal });
    const { ChecksumAlgorithm: _, ...checksum } = this.#checksumField(digest);
    this.#stored.push({ PartNumber: number, ETag: response.ETag, ...checksum });
  }

  async complete(parts: number, signal: AbortSignal): Promise<S3UploadResult> {
    const { client, bucket, key, checksumAlgorithm, ifNoneMatch } = this.#request;
    const whole = this.#whole?.digest().toString('base64');
    const response = await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId: await this.#uploadId!,
        MultipartUpload: { Parts: this.#stored.toSorted((a, b) => a.PartNumber! - b.PartNumber!) },
        MpuObjectSize: this.#bytes,
        ...(whole ? { ChecksumType: 'FULL_OBJECT', [`Checksum${checksumAlgorithm}`]: whole } : {}),
        ...this.#condition(ifNoneMatch),
      }),
      { abortSignal: signal },
    );
    const checksum = checksumAlgorithm === 'NONE' ? undefined : (whole ?? compositeChecksum(checksumAlgorithm, this.#digests));
    return { parts, checksum, bytes: this.#bytes, etag: response.ETag, versionId: response.VersionId };
  }

  #condition(ifNoneMatch: boolean): { IfNoneMatch?: string; IfMatch?: string } {
    if (ifNoneMatch) return { IfNoneMatch: '*' };
    return this.#request.ifMatch ? { IfMatch: this.#request.ifMatch } : {};
  }

  /** Aborts the multipart upload if one was created (parts an abort races with are left to the bucket's lifecycle rule). */
  async abandon(): Promise<void> {
    const uploadId = await this.#uploadId?.catch(() => undefined);
    if (!uploadId) return;
    const { client, bucket, key } = this.#request;
    await client
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }), { abortSignal: AbortSignal.timeout(10_000) })
      .catch(() => undefined);
  }

  async #create(signal: AbortSignal): Promise<string> {
    const { client, bucket, key, attributes, checksumAlgorithm } = this.#request;
    const created = await client.send(
      new CreateMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        ...attributes,
        ...(checksumAlgorithm === 'NONE' ? {} : { ChecksumAlgorithm: checksumAlgorithm, ...(this.#whole ? { ChecksumType: 'FULL_OBJECT' as const } : {}) }),
      }),
      { abortSignal: signal },
    );
    if (!created.UploadId) throw new Error('CreateMultipartUpload answered without an UploadId');
    return created.UploadId;
  }

  #digest(bytes: Buffer): Buffer | undefined {
    const { checksumAlgorithm } = this.#request;
    return checksumAlgorithm === 'NONE' ? undefined : checksumOf(checksumAlgorithm, bytes);
  }

  /** The checksum S3 verifies on arrival and keeps with the object (and which algorithm it is). */
  #checksumField(digest: Buffer | undefined): Pick<PutObjectCommandInput, 'ChecksumAlgorithm' | 'ChecksumCRC32' | 'ChecksumCRC32C' | 'ChecksumSHA256'> {
    const { checksumAlgorithm } = this.#request;
    if (!digest || checksumAlgorithm === 'NONE') return {};
    return { ChecksumAlgorithm: checksumAlgorithm, [`Checksum${checksumAlgorithm}`]: digest.toString('base64') };
  }
}

/**
 * Sends a body without signing its SHA-256. The body carries its own checksum, which S3 verifies
 * before storing it; signing the payload too would hash every byte a second time (120 ms of CPU
 * per 75 MB in a profile) for no integrity the checksum does not give. In transit TLS
 * authenticates the body, as with the SDK's own streaming uploads, which are never signed either.
 */
function unsignedPayload<C extends PutObjectCommand | UploadPartCommand>(command: C): C {
  (command.middlewareStack as unknown as BuildStack).add(
    (next) => async (args) => {
      args.request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      return next(args);
    },
    { step: 'build', name: 'dailyReportUnsignedPayload' },
  );
  return command;
}

/** The one middleware-stack shape unsignedPayload needs (the full types differ per command). */
interface BuildStack {
  add(
    middleware: (next: (args: BuildArgs) => Promise<unknown>) => (args: BuildArgs) => Promise<unknown>,
    options: { step: 'build'; name: string },
  ): void;
}
type BuildArgs = { request: { headers: Record<string, string> } };
