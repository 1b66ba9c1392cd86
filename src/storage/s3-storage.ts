import { AbortMultipartUploadCommand, HeadObjectCommand, type S3Client, type PutObjectCommandInput } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { S3ChecksumAlgorithm } from '../config/config.ts';
import { TransientFailure } from '../errors.ts';
import { ObservedBody } from './observed-body.ts';
import { PartChecksums } from './part-checksums.ts';
import type { ReportStorage, WriteOptions, WriteResult } from './report-storage.ts';
import { classifyS3Error } from './s3-errors.ts';

export interface S3StorageOptions {
  readonly bucket: string;
  /** "" or ending in "/". */
  readonly prefix: string;
  readonly sse: 'AES256' | 'aws:kms';
  readonly kmsKeyId?: string | undefined;
  readonly checksumAlgorithm: S3ChecksumAlgorithm;
  /** HeadObject after the upload to confirm size and checksum. */
  readonly verify: boolean;
  /** @default 8 MiB. At most partSize × (queueSize + 1) bytes are buffered. */
  readonly partSizeBytes: number;
  /** @default 4 parts uploading at once. */
  readonly queueSize: number;
  /**
   * An upload that makes no progress (no body read, no part completed) for this long fails as
   * transient. The SDK has its own request timeouts; this is the backstop for a request they miss.
   */
  readonly stallTimeoutMs: number;
}

/**
 * Reports in an S3 bucket. Streams the body through lib-storage's multipart Upload, so
 * extraction, encoding and upload overlap in bounded memory. Nothing is visible under the key
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
    const checksums = checksumAlgorithm === 'NONE' ? undefined : new PartChecksums(checksumAlgorithm, partSizeBytes);
    const watchdog = new StallWatchdog(this.#options.stallTimeoutMs, location);
    const observed = new ObservedBody(body, {
      onChunk: (chunk) => {
        watchdog.progress();
        checksums?.update(chunk);
      },
    });
    // Aborting fails the body rather than calling Upload.abort(), whose done() rejects before the
    // multipart upload is aborted: this way done() itself waits for AbortMultipartUpload.
    const source = observed.readable(options.signal);

    const params: PutObjectCommandInput = {
      Bucket: bucket,
      Key: this.#key(key),
      Body: source,
      ContentType: options.contentType,
      Metadata: { ...options.metadata },
      // Always sent, so a bucket policy that denies unencrypted puts accepts ours.
      ServerSideEncryption: sse,
      ...(sse === 'aws:kms' ? { BucketKeyEnabled: true, ...(kmsKeyId ? { SSEKMSKeyId: kmsKeyId } : {}) } : {}),
      ...(checksumAlgorithm === 'NONE' ? {} : { ChecksumAlgorithm: checksumAlgorithm }),
      // A conditional write, not check-then-put: S3 answers 412 if the key exists by the time
      // PutObject or CompleteMultipartUpload (which lib-storage sends with these params) lands.
      ...(options.ifExists === 'fail' ? { IfNoneMatch: '*' } : {}),
    };
    const upload = new Upload({ client: this.#client, params, partSize: partSizeBytes, queueSize, leavePartsOnError: false });
    upload.on('httpUploadProgress', () => watchdog.progress());
    try {
      await Promise.race([upload.done(), watchdog.stalled]);
    } catch (error) {
      if (error === watchdog.error) void upload.abort();
      await this.#abortLeftovers(upload, key);
      throw observed.failureOr(() => classifyS3Error(error, 'upload', location));
    } finally {
      watchdog.stop();
    }
    if (this.#options.verify) await this.#verify(key, observed.bytes, checksums, isMultipart(upload));
    return { location };
  }

  /** Size and checksum of what S3 stored, against what we sent. */
  async #verify(key: string, bytes: number, checksums: PartChecksums | undefined, multipart: boolean): Promise<void> {
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
    if (checksums && reported !== undefined) {
      const expected = checksums.expected(multipart);
      // Some S3-compatible servers omit the "-<parts>" suffix of a composite checksum.
      const matches = reported === expected.value || (multipart && reported === expected.value.replace(/-\d+$/, ''));
      if (!matches) problems.push(`${algorithm} ${reported} ≠ ${expected.value} computed from the bytes sent`);
    }
    if (problems.length > 0) {
      throw new TransientFailure(`verification of ${location} failed: ${problems.join('; ')}`, { phase: 'upload', context: { location } });
    }
  }

  /** Backstop: if a multipart upload was created and is still open, abort it (idempotent, bounded). */
  async #abortLeftovers(upload: Upload, key: string): Promise<void> {
    const uploadId = (upload as unknown as { uploadId?: string }).uploadId;
    if (!uploadId) return;
    const abort = this.#client.send(new AbortMultipartUploadCommand({ Bucket: this.#options.bucket, Key: this.#key(key), UploadId: uploadId }), {
      abortSignal: AbortSignal.timeout(10_000),
    });
    await abort.catch(() => undefined); // NoSuchUpload: lib-storage already aborted it; the lifecycle rule covers the rest
  }

  #key(key: string): string {
    return `${this.#options.prefix}${key}`;
  }
}

/** Rejects `stalled` when `progress()` has not been called for `timeoutMs`. */
class StallWatchdog {
  readonly error: TransientFailure;
  readonly stalled: Promise<never>;
  #last = performance.now();
  #timer: NodeJS.Timeout | undefined;

  constructor(timeoutMs: number, location: string) {
    this.error = new TransientFailure(`S3 upload of ${location} made no progress for ${Math.round(timeoutMs / 1000)} s; abandoned so a retry can start afresh`, {
      phase: 'upload',
      context: { location },
    });
    this.stalled = new Promise<never>((_, reject) => {
      this.#timer = setInterval(() => {
        if (performance.now() - this.#last > timeoutMs) reject(this.error);
      }, Math.min(1_000, timeoutMs / 4));
    });
    this.stalled.catch(() => undefined);
  }

  progress(): void {
    this.#last = performance.now();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

function isMultipart(upload: Upload): boolean {
  return (upload as unknown as { isMultiPart: boolean }).isMultiPart;
}
