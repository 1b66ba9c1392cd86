import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { S3ChecksumAlgorithm } from '../config/config.ts';
import { TransientFailure } from '../errors.ts';
import { ObservedBody } from './observed-body.ts';
import type { ReportStorage, WriteOptions, WriteResult } from './report-storage.ts';
import { classifyS3Error } from './s3-errors.ts';
import { uploadToS3, type S3UploadResult } from './s3-upload.ts';
import { StallWatchdog } from './stall-watchdog.ts';

export interface S3StorageOptions {
  readonly bucket: string;
  /** "" or ending in "/". */
  readonly prefix: string;
  /** `none`: no encryption header, for an S3-compatible server that encrypts by its own means (or not at all). */
  readonly sse: 'AES256' | 'aws:kms' | 'none';
  readonly kmsKeyId?: string | undefined;
  readonly checksumAlgorithm: S3ChecksumAlgorithm;
  /** HeadObject after the upload to confirm size and checksum. */
  readonly verify: boolean;
  /** @default 8 MiB. At most partSize × (queueSize + 1) bytes are buffered. */
  readonly partSizeBytes: number;
  /** @default 2 parts uploading at once (one more is being filled). */
  readonly queueSize: number;
  /**
   * An upload that makes no progress (no body read, no part completed) for this long fails as
   * transient. The SDK has its own request timeouts; this is the backstop for a request they miss.
   */
  readonly stallTimeoutMs: number;
}

/**
 * Reports in an S3 bucket. Streams the body into a multipart upload (s3-upload.ts), so
 * extraction, encoding and upload overlap in fixed memory. Nothing is visible under the key
 * until CompleteMultipartUpload (or the single PutObject of a small report); any failure before
 * that aborts the multipart upload. The SDK client is injected (built in create-storage.ts).
 */
export class S3Storage implements ReportStorage {
  readonly provider = 's3';
  readonly #client: S3Client;
  readonly #options: S3StorageOptions;

  constructor(client: S3Client, options: S3StorageOptions) {
    this.#client = client;
    this.#options = options;
  }

  locate(key: string): string {
    return `s3://${this.#options.bucket}/${this.#options.prefix}${key}`;
  }

  async exists(key: string, signal: AbortSignal): Promise<boolean> {
    try {
      await this.#client.send(new HeadObjectCommand({ Bucket: this.#options.bucket, Key: this.#key(key) }), { abortSignal: signal });
      return true;
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404 || (error as Error).name === 'NotFound') return false;
      // Without s3:ListBucket, S3 answers a HEAD of a missing key with 403, not 404.
      throw classifyS3Error(error, 'HeadObject (needs s3:GetObject, and s3:ListBucket for a missing key to answer 404)', this.locate(key));
    }
  }

  async write(key: string, body: AsyncIterable<Uint8Array>, options: WriteOptions): Promise<WriteResult> {
    const { bucket, sse, kmsKeyId, checksumAlgorithm, partSizeBytes, queueSize } = this.#options;
    const location = this.locate(key);
    // The watchdog stops the upload through the same signal as a SIGTERM would.
    const stalled = new AbortController();
    const watchdog = new StallWatchdog(this.#options.stallTimeoutMs, location, (error) => stalled.abort(error));
    const signal = AbortSignal.any([options.signal, stalled.signal]);
    const observed = new ObservedBody(body, { onChunk: () => watchdog.progress() });
    let uploaded: S3UploadResult;
    try {
      uploaded = await uploadToS3(observed.readable(signal), {
        client: this.#client,
        bucket,
        key: this.#key(key),
        attributes: {
          ContentType: options.contentType,
          Metadata: { ...options.metadata },
          // Always sent (unless S3_SSE=none), so a bucket policy that denies unencrypted puts accepts ours.
          ...(sse === 'none' ? {} : { ServerSideEncryption: sse }),
          ...(sse === 'aws:kms' ? { BucketKeyEnabled: true, ...(kmsKeyId ? { SSEKMSKeyId: kmsKeyId } : {}) } : {}),
        },
        checksumAlgorithm,
        // A conditional write, not check-then-put: S3 answers 412 if the key exists by the time
        // PutObject or CompleteMultipartUpload lands.
        ifNoneMatch: options.ifExists === 'fail',
        partSize: partSizeBytes,
        queueSize,
        signal,
        onPartStored: () => watchdog.progress(),
      });
    } catch (error) {
      // A stall aborts the body too, so it comes first: the body's AbortError would hide it.
      if (stalled.signal.aborted) throw stalled.signal.reason;
      throw observed.failureOr(() => classifyS3Error(error, 'upload', location));
    } finally {
      watchdog.stop();
    }
    if (this.#options.verify) await this.#verify(key, observed.bytes, uploaded);
    return { location };
  }

  /** Size and checksum of what S3 stored, against what we sent. */
  async #verify(key: string, bytes: number, sent: S3UploadResult): Promise<void> {
    const location = this.locate(key);
    const head = await this.#client
      .send(new HeadObjectCommand({ Bucket: this.#options.bucket, Key: this.#key(key), ChecksumMode: 'ENABLED' }))
      .catch((error: unknown) => {
        throw classifyS3Error(error, 'HeadObject (verify; set S3_VERIFY=false for a role without s3:GetObject)', location);
      });
    const problems: string[] = [];
    if (head.ContentLength !== bytes) problems.push(`size ${head.ContentLength} ≠ ${bytes} bytes sent`);
    const algorithm = this.#options.checksumAlgorithm;
    const reported = algorithm === 'NONE' ? undefined : head[`Checksum${algorithm}`];
    if (sent.checksum !== undefined && reported !== undefined) {
      // Some S3-compatible servers omit the "-<parts>" suffix of a composite checksum.
      const matches = reported === sent.checksum || (sent.parts > 0 && reported === sent.checksum.replace(/-\d+$/, ''));
      if (!matches) problems.push(`${algorithm} ${reported} ≠ ${sent.checksum} computed from the bytes sent`);
    }
    if (problems.length > 0) {
      throw new TransientFailure(`verification of ${location} failed: ${problems.join('; ')}`, { phase: 'upload', context: { location } });
    }
  }

  #key(key: string): string {
    return `${this.#options.prefix}${key}`;
  }
}
