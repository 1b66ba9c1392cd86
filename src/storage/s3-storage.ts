import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, type HeadObjectCommandOutput, type S3Client } from '@aws-sdk/client-s3';
import type { S3ChecksumAlgorithm } from '../config/config.ts';
import { ConditionNotMet, TransientFailure } from '../errors.ts';
import { ObservedBody } from './observed-body.ts';
import { PublishFence } from './publish-fence.ts';
import type { ReportStorage, StoredObject, WriteOptions, WriteResult } from './report-storage.ts';
import { classifyS3Error } from './s3-errors.ts';
import { uploadToS3, type S3UploadResult } from './s3-upload.ts';
import { readAtMost } from './small-object-read.ts';
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
    return (await this.head(key, signal)) !== undefined;
  }

  async head(key: string, signal: AbortSignal): Promise<StoredObject | undefined> {
    try {
      return storedObject(await this.#client.send(new HeadObjectCommand({ Bucket: this.#options.bucket, Key: this.#key(key) }), { abortSignal: signal }));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      // Without s3:ListBucket, S3 answers a HEAD of a missing key with 403, not 404.
      throw classifyS3Error(error, 'HeadObject (needs s3:GetObject, and s3:ListBucket for a missing key to answer 404)', this.locate(key));
    }
  }

  async read(key: string, signal: AbortSignal): Promise<{ bytes: Buffer; object: StoredObject } | undefined> {
    try {
      const answer = await this.#client.send(new GetObjectCommand({ Bucket: this.#options.bucket, Key: this.#key(key) }), { abortSignal: signal });
      const bytes = await readAtMost(answer.Body as unknown as AsyncIterable<Uint8Array> & { destroy?: () => void });
      return { bytes, object: storedObject({ ...answer, ContentLength: answer.ContentLength ?? bytes.length }) };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw classifyS3Error(error, 'GetObject (needs s3:GetObject, and s3:ListBucket for a missing key to answer 404)', this.locate(key));
    }
  }

  async remove(key: string, options: { signal: AbortSignal; ifMatch: string }): Promise<void> {
    // Some S3-compatible servers (MinIO) ignore If-Match on DeleteObject and delete whatever is
    // there: the ETag is checked first, so only a replace in the instant between the two requests
    // could slip through (the lock bounds that; docs/s3-compatible.md). AWS S3 enforces it atomically.
    const current = await this.head(key, options.signal);
    if (current === undefined) return; // deleted already (by our own earlier attempt whose answer was lost)
    if (current.etag !== options.ifMatch) {
      throw new ConditionNotMet(`${this.locate(key)} changed (ETag ${current.etag} ≠ ${options.ifMatch}): not deleting it`, { phase: 'upload', context: { location: this.locate(key) } });
    }
    try {
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.#options.bucket, Key: this.#key(key), IfMatch: options.ifMatch }), { abortSignal: options.signal });
    } catch (error) {
      const classified = isNotFound(error) ? undefined : classifyS3Error(error, 'DeleteObject (needs s3:DeleteObject)', this.locate(key));
      // Deleted already (by our own earlier attempt whose answer was lost): what we wanted.
      if (classified === undefined || (classified instanceof ConditionNotMet && (await this.head(key, options.signal)) === undefined)) return;
      throw classified;
    }
  }

  async write(key: string, body: AsyncIterable<Uint8Array>, options: WriteOptions): Promise<WriteResult> {
    const { bucket, sse, kmsKeyId, checksumAlgorithm, partSizeBytes, queueSize } = this.#options;
    const location = this.locate(key);
    // The watchdog stops the upload through the same signal as a SIGTERM would.
    const stalled = new AbortController();
    const watchdog = new StallWatchdog(this.#options.stallTimeoutMs, location, (error) => stalled.abort(error));
    const signal = AbortSignal.any([options.signal, stalled.signal]);
    const observed = new ObservedBody(watchdog.watch(body));
    const fence = new PublishFence(options.beforePublish);
    const beforePublish = fence.call;
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
        // A conditional write, not check-then-put: S3 answers 412 if the key exists (or, with
        // If-Match, is no longer the object named) by the time PutObject or Complete lands.
        ifNoneMatch: options.ifExists === 'fail',
        ifMatch: options.ifExists === 'overwrite' ? options.ifMatch : undefined,
        partSize: partSizeBytes,
        queueSize,
        signal,
        onPartStored: () => watchdog.progress(),
        // The publisher's own requests between the parts and Complete are not the upload's stall.
        beforePublish: beforePublish && (() => (watchdog.stop(), beforePublish())),
      });
    } catch (error) {
      // A stall aborts the body too, so it comes first: the body's AbortError would hide it.
      if (stalled.signal.aborted) throw stalled.signal.reason;
      throw observed.failureOr(() => fence.failureOr(() => (options.ifMatch !== undefined && isNoSuchKey(error) ? goneSinceSeen(error, location) : classifyS3Error(error, 'upload', location))));
    } finally {
      watchdog.stop();
    }
    if (this.#options.verify) await this.#verify(key, observed.bytes, uploaded, options.signal);
    return {
      location,
      object: { etag: uploaded.etag ?? '', size: uploaded.bytes, metadata: { ...options.metadata }, versionId: uploaded.versionId },
    };
  }

  /** Size and checksum of what S3 stored, against what we sent. */
  async #verify(key: string, bytes: number, sent: S3UploadResult, signal: AbortSignal): Promise<void> {
    const location = this.locate(key);
    const head = await this.#client
      .send(new HeadObjectCommand({ Bucket: this.#options.bucket, Key: this.#key(key), ChecksumMode: 'ENABLED' }), { abortSignal: signal })
      .catch((error: unknown) => {
        // Removed right after our write (a server that ignores If-Match on DeleteObject, as MinIO does): a lost race, like a replacement.
        if (isNotFound(error)) throw new ConditionNotMet(`${location} was removed right after our write`, { phase: 'upload', cause: error, context: { location } });
        throw classifyS3Error(error, 'HeadObject (verify; set S3_VERIFY=false for a role without s3:GetObject)', location);
      });
    // Another writer replaced the object right after ours (a server whose conditional writes are
    // not atomic, as moto's are not): not a damaged upload, but a lost race the caller must judge.
    if (sent.etag !== undefined && head.ETag !== undefined && head.ETag !== sent.etag) {
      throw new ConditionNotMet(`${location} was replaced right after our write (ETag ${head.ETag}, ours ${sent.etag})`, { phase: 'upload', context: { location } });
    }
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
      throw new TransientFailure(`verification of ${location} failed: ${problems.join('; ')}`, { phase: 'upload', context: { location, verification: 'mismatch' } });
    }
  }

  #key(key: string): string {
    return `${this.#options.prefix}${key}`;
  }
}

function storedObject(head: Pick<HeadObjectCommandOutput, 'ETag' | 'ContentLength' | 'Metadata' | 'VersionId'>): StoredObject {
  return { etag: head.ETag ?? '', size: head.ContentLength ?? 0, metadata: { ...head.Metadata }, versionId: head.VersionId };
}

function isNoSuchKey(error: unknown): boolean {
  const e = error as { name?: string; Code?: string };
  return (e.Code ?? e.name) === 'NoSuchKey';
}

/** S3 (and MinIO, moto) answer If-Match on a key that no longer exists with 404 NoSuchKey, not 412: the condition failed all the same. */
function goneSinceSeen(error: unknown, location: string): ConditionNotMet {
  return new ConditionNotMet(`${location} is gone since the ETag the conditional S3 upload names was seen (404 NoSuchKey)`, {
    phase: 'upload',
    cause: error,
    context: { operation: 'upload', location, s3_error: 'NoSuchKey', http_status: 404 },
  });
}

function isNotFound(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return status === 404 || ['NotFound', 'NoSuchKey'].includes((error as Error).name);
}
