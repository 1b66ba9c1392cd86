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
import { ConfigurationIsInvalid } from '../errors.ts';
import { PartBufferPool } from './part-buffer-pool.ts';
import { checksumOf, compositeChecksum } from './s3-checksum.ts';

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
  readonly bytes: number;
  /** 0 when the report went as a single PutObject. */
  readonly parts: number;
  /** The object checksum S3 should report (base64, "-N" for N parts); undefined with NONE. */
  readonly checksum: string | undefined;
}

/**
 * Streams a body into one S3 object: a single PutObject when it fits in one part, otherwise a
 * multipart upload whose parts are cut from a fixed pool of `queueSize + 1` buffers, so memory
 * stays at `partSize × (queueSize + 1)` for any report size. With `queueSize` parts in flight and
 * the next buffer full, the body is not read until a part is stored: back-pressure reaches the
 * database. Each part carries its checksum, which
 * S3 checks on arrival. Nothing is visible under the key before PutObject or
 * CompleteMultipartUpload succeeds; any failure aborts the parts in flight and the upload.
 */
export async function uploadToS3(body: AsyncIterable<Uint8Array>, request: S3UploadRequest): Promise<S3UploadResult> {
  return new S3Upload(request).run(body);
}

class S3Upload {
  readonly #request: S3UploadRequest;
  readonly #pool: PartBufferPool;
  /** Aborts our own requests: on the caller's signal, and when a part fails. */
  readonly #stop = new AbortController();
  readonly #signal: AbortSignal;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #stored: CompletedPart[] = [];
  readonly #digests: Buffer[] = [];
  #uploadId: Promise<string> | undefined;
  #partCount = 0;

  constructor(request: S3UploadRequest) {
    this.#request = request;
    this.#pool = new PartBufferPool(request.partSize, request.queueSize + 1);
    this.#signal = AbortSignal.any([request.signal, this.#stop.signal]);
  }

  async run(body: AsyncIterable<Uint8Array>): Promise<S3UploadResult> {
    const { partSize } = this.#request;
    let buffer = this.#pool.tryTake()!;
    let filled = 0;
    let bytes = 0;
    try {
      for await (const chunk of body) {
        bytes += chunk.length;
        for (let offset = 0; offset < chunk.length; ) {
          // A full buffer goes out only once more bytes arrive: a body of exactly one part is a PutObject.
          if (filled === partSize) {
            // Back-pressure: with queueSize parts in flight, the body is not read until one is stored.
            while (this.#inFlight.size >= this.#request.queueSize) await this.#nextSettled();
            this.#sendPart(buffer, filled);
            buffer = this.#pool.tryTake()!; // at most queueSize buffers are in flight: one is free
            filled = 0;
          }
          const take = Math.min(partSize - filled, chunk.length - offset);
          buffer.set(take === chunk.length ? chunk : chunk.subarray(offset, offset + take), filled);
          filled += take;
          offset += take;
        }
      }
      if (this.#uploadId === undefined) return await this.#putObject(buffer.subarray(0, filled), bytes);
      this.#sendPart(buffer, filled);
      while (this.#inFlight.size > 0) await this.#nextSettled();
      return await this.#complete(bytes);
    } catch (error) {
      await this.#abandon();
      throw error;
    }
  }

  async #putObject(bytes: Buffer, length: number): Promise<S3UploadResult> {
    const { client, bucket, key, attributes, checksumAlgorithm, ifNoneMatch } = this.#request;
    const digest = checksumAlgorithm === 'NONE' ? undefined : checksumOf(checksumAlgorithm, bytes);
    const put = new PutObjectCommand({
      Bucket: bucket,
      Key: key,
      Body: bytes,
      ContentLength: length,
      ...attributes,
      ...this.#checksumField(digest),
      ...(ifNoneMatch ? { IfNoneMatch: '*' } : {}),
    });
    await client.send(digest ? unsignedPayload(put) : put, { abortSignal: this.#signal });
    return { bytes: length, parts: 0, checksum: digest?.toString('base64') };
  }

  #sendPart(buffer: Buffer, length: number): void {
    const { client, bucket, key, checksumAlgorithm } = this.#request;
    const partNumber = ++this.#partCount;
    const maxParts = this.#request.maxParts ?? MAX_PARTS;
    if (partNumber > maxParts) {
      throw new ConfigurationIsInvalid(
        [`the report needs more than ${maxParts} parts of ${this.#request.partSize / 2 ** 20} MiB (S3's limit); raise S3_PART_SIZE_MB`],
        { phase: 'upload' },
      );
    }
    const body = buffer.subarray(0, length);
    const digest = checksumAlgorithm === 'NONE' ? undefined : checksumOf(checksumAlgorithm, body);
    if (digest) this.#digests[partNumber - 1] = digest;
    this.#uploadId ??= this.#createUpload();
    const uploadId = this.#uploadId;

    const part: Promise<void> = (async () => {
      const UploadId = await uploadId;
      const upload = new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: partNumber, Body: body, ContentLength: length, ...this.#checksumField(digest) });
      const response = await client.send(digest ? unsignedPayload(upload) : upload, { abortSignal: this.#signal });
      const { ChecksumAlgorithm: _, ...checksum } = this.#checksumField(digest);
      this.#stored.push({ PartNumber: partNumber, ETag: response.ETag, ...checksum });
      this.#request.onPartStored?.();
    })().finally(() => {
      this.#inFlight.delete(part);
      // After send() settles the SDK holds no reference to the bytes (retries happen inside it).
      this.#pool.release(buffer);
    });
    part.catch(() => undefined); // observed by #nextSettled or #abandon
    this.#inFlight.add(part);
  }

  async #createUpload(): Promise<string> {
    const { client, bucket, key, attributes, checksumAlgorithm } = this.#request;
    const created = await client.send(
      new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ...attributes, ...(checksumAlgorithm === 'NONE' ? {} : { ChecksumAlgorithm: checksumAlgorithm }) }),
      { abortSignal: this.#signal },
    );
    if (!created.UploadId) throw new Error('CreateMultipartUpload answered without an UploadId');
    return created.UploadId;
  }

  async #complete(bytes: number): Promise<S3UploadResult> {
    const { client, bucket, key, checksumAlgorithm, ifNoneMatch } = this.#request;
    const parts = this.#stored.toSorted((a, b) => a.PartNumber! - b.PartNumber!);
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId: await this.#uploadId!,
        MultipartUpload: { Parts: parts },
        ...(ifNoneMatch ? { IfNoneMatch: '*' } : {}),
      }),
      { abortSignal: this.#signal },
    );
    const checksum = checksumAlgorithm === 'NONE' ? undefined : compositeChecksum(checksumAlgorithm, this.#digests);
    return { bytes, parts: parts.length, checksum };
  }

  /** Resolves when some part in flight is stored; rejects with the first part failure or on abort. */
  async #nextSettled(): Promise<void> {
    this.#signal.throwIfAborted();
    let onAbort!: () => void;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(this.#signal.reason);
      this.#signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      await Promise.race([...this.#inFlight, aborted]);
    } finally {
      this.#signal.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Stops the parts in flight and aborts the multipart upload, within bounds: a request that
   * ignores its abort must not keep the run alive, and parts an abort races with are left to the
   * bucket's lifecycle rule (README, Storage providers).
   */
  async #abandon(): Promise<void> {
    this.#stop.abort(new Error('upload abandoned'));
    const settle = Promise.allSettled([...this.#inFlight, this.#uploadId ?? Promise.resolve()]);
    await Promise.race([settle, delay(10_000)]);
    const uploadId = await Promise.race([this.#uploadId?.catch(() => undefined), delay(0)]);
    if (!uploadId) return;
    const { client, bucket, key } = this.#request;
    await client
      .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }), { abortSignal: AbortSignal.timeout(10_000) })
      .catch(() => undefined);
  }

  /** The checksum S3 verifies on arrival and keeps with the object (and which algorithm it is). */
  #checksumField(digest: Buffer | undefined): Pick<PutObjectCommandInput, 'ChecksumAlgorithm' | 'ChecksumCRC32' | 'ChecksumCRC32C' | 'ChecksumSHA256'> {
    const { checksumAlgorithm } = this.#request;
    if (!digest || checksumAlgorithm === 'NONE') return {};
    return { ChecksumAlgorithm: checksumAlgorithm, [`Checksum${checksumAlgorithm}`]: digest.toString('base64') };
  }
}

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

function delay(ms: number): Promise<undefined> {
  return new Promise((resolve) => setTimeout(() => resolve(undefined), ms).unref());
}
