import type { BlobHTTPHeaders, BlockBlobClient, ContainerClient } from '@azure/storage-blob';
import { createHash } from 'node:crypto';
import { TransientFailure } from '../errors.ts';
import { classifyAzureError } from './azure-errors.ts';
import { ObservedBody } from './observed-body.ts';
import type { ReportStorage, WriteOptions, WriteResult } from './report-storage.ts';

export interface AzureStorageOptions {
  /** "" or ending in "/". */
  readonly prefix: string;
  /** Encryption scope for the blob (a per-request option); data is encrypted at rest regardless. */
  readonly encryptionScope?: string | undefined;
  /** @default 8 MiB per block. At most blockSize × maxConcurrency bytes are buffered. */
  readonly blockSizeBytes: number;
  /** @default 4 blocks uploading at once. */
  readonly maxConcurrency: number;
}

/**
 * Reports in an Azure Blob Storage container. `uploadStream` stages blocks as the CSV streams and
 * commits the block list only after the stream ended without error, so a failed run leaves no
 * blob (uncommitted blocks are invisible and discarded by the service after a week).
 */
export class AzureStorage implements ReportStorage {
  readonly provider = 'azure';
  readonly #container: ContainerClient;
  readonly #options: AzureStorageOptions;

  constructor(container: ContainerClient, options: AzureStorageOptions) {
    this.#container = container;
    this.#options = options;
  }

  locate(key: string): string {
    return this.#container.getBlockBlobClient(this.#name(key)).url;
  }

  async exists(key: string, signal: AbortSignal): Promise<boolean> {
    try {
      return await this.#container.getBlockBlobClient(this.#name(key)).exists({ abortSignal: signal });
    } catch (error) {
      throw classifyAzureError(error, 'exists', this.locate(key));
    }
  }

  async write(key: string, body: AsyncIterable<Uint8Array>, options: WriteOptions): Promise<WriteResult> {
    const blob = this.#container.getBlockBlobClient(this.#name(key));
    const location = blob.url;
    const headers: BlobHTTPHeaders = { blobContentType: options.contentType };
    const md5 = createHash('md5');
    const observed = new ObservedBody(body, {
      onChunk: (chunk) => md5.update(chunk),
      // uploadStream reads these headers when it commits the block list, after the stream has
      // ended: the blob is committed with the Content-MD5 of exactly what was staged.
      onEnd: () => void (headers.blobContentMD5 = md5.digest()),
    });
    try {
      await blob.uploadStream(observed.readable(options.signal), this.#options.blockSizeBytes, this.#options.maxConcurrency, {
        abortSignal: options.signal,
        blobHTTPHeaders: headers,
        metadata: { ...options.metadata },
        conditions: options.ifExists === 'fail' ? { ifNoneMatch: '*' } : {},
        ...(this.#options.encryptionScope ? { encryptionScope: this.#options.encryptionScope } : {}),
      });
    } catch (error) {
      throw observed.failureOr(() => classifyAzureError(error, 'upload', location));
    }
    await this.#verify(blob, observed.bytes, headers.blobContentMD5);
    return { location };
  }

  /** Size and Content-MD5 of the committed blob, against what we sent. */
  async #verify(blob: BlockBlobClient, bytes: number, md5: Uint8Array | undefined): Promise<void> {
    const location = blob.url;
    const stored = await blob.getProperties().catch((error: unknown) => {
      throw classifyAzureError(error, 'getProperties (verify)', location);
    });
    const problems: string[] = [];
    if (stored.contentLength !== bytes) problems.push(`size ${stored.contentLength} ≠ ${bytes} bytes sent`);
    if (md5 && stored.contentMD5 && !Buffer.from(stored.contentMD5).equals(Buffer.from(md5))) problems.push('Content-MD5 differs from the bytes sent');
    if (problems.length > 0) throw new TransientFailure(`verification of ${location} failed: ${problems.join('; ')}`, { phase: 'upload', context: { location } });
  }

  #name(key: string): string {
    return `${this.#options.prefix}${key}`;
  }
}
