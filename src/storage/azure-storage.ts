import type { BlobHTTPHeaders, BlockBlobClient, ContainerClient } from '@azure/storage-blob';
import { createHash, randomUUID } from 'node:crypto';
import { TransientFailure } from '../errors.ts';
import { classifyAzureError } from './azure-errors.ts';
import { ObservedBody } from './observed-body.ts';
import { uploadInParts, type PartTarget } from './part-upload.ts';
import type { ReportStorage, WriteOptions, WriteResult } from './report-storage.ts';

export interface AzureStorageOptions {
  /** "" or ending in "/". */
  readonly prefix: string;
  /** Encryption scope for the blob (a per-request option); data is encrypted at rest regardless. */
  readonly encryptionScope?: string | undefined;
  /** @default 8 MiB per block. blockSize × (maxConcurrency + 1) bytes of block buffers. */
  readonly blockSizeBytes: number;
  /** @default 2 blocks uploading at once (one more is being filled). */
  readonly maxConcurrency: number;
}

/** Azure's limit on the committed blocks of one blob. */
const MAX_BLOCKS = 50_000;

/**
 * Reports in an Azure Blob Storage container. Blocks are staged as the CSV streams, from the same
 * fixed pool of part buffers as S3's upload (part-upload.ts), and the block list is committed only
 * after the stream ended without error, so a failed run leaves no blob (uncommitted blocks are
 * invisible and discarded by the service after a week). A report of one block or less is a
 * single Put Blob.
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
      // The upload publishes (Put Blob, or the block list) only after the body has ended: the blob
      // is committed with the Content-MD5 of exactly what was sent.
      onEnd: () => void (headers.blobContentMD5 = md5.digest()),
    });
    const target = new AzureBlob(blob, {
      blobHTTPHeaders: headers,
      metadata: { ...options.metadata },
      conditions: options.ifExists === 'fail' ? { ifNoneMatch: '*' } : {},
      ...(this.#options.encryptionScope ? { encryptionScope: this.#options.encryptionScope } : {}),
    });
    try {
      await uploadInParts(observed.readable(options.signal), target, {
        partSize: this.#options.blockSizeBytes,
        queueSize: this.#options.maxConcurrency,
        maxParts: MAX_BLOCKS,
        partSizeSetting: 'AZURE_BLOCK_SIZE_MB',
        signal: options.signal,
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

/** What the request that publishes the blob carries besides the bytes. */
interface BlobAttributes {
  readonly blobHTTPHeaders: BlobHTTPHeaders;
  readonly metadata: Record<string, string>;
  readonly conditions: { ifNoneMatch?: string };
  readonly encryptionScope?: string;
}

/** One blob: a single Put Blob, or blocks staged under this upload's own ids and one Put Block List. */
class AzureBlob implements PartTarget<void> {
  readonly #blob: BlockBlobClient;
  readonly #attributes: BlobAttributes;
  /** Block ids are per upload, so two writers of the same blob never stage into each other's blocks. */
  readonly #upload = randomUUID();

  constructor(blob: BlockBlobClient, attributes: BlobAttributes) {
    this.#blob = blob;
    this.#attributes = attributes;
  }

  async single(bytes: Buffer, signal: AbortSignal): Promise<void> {
    await this.#blob.upload(bytes, bytes.length, { ...this.#attributes, abortSignal: signal });
  }

  async part(number: number, bytes: Buffer, signal: AbortSignal): Promise<void> {
    const { encryptionScope } = this.#attributes;
    await this.#blob.stageBlock(this.#blockId(number), bytes, bytes.length, { abortSignal: signal, ...(encryptionScope ? { encryptionScope } : {}) });
  }

  async complete(parts: number, signal: AbortSignal): Promise<void> {
    const ids = Array.from({ length: parts }, (_, i) => this.#blockId(i + 1));
    await this.#blob.commitBlockList(ids, { ...this.#attributes, abortSignal: signal });
  }

  /** Nothing to do: staged blocks that are never committed are invisible and expire on their own. */
  async abandon(): Promise<void> {}

  /** Base64 of "<upload uuid>-<number, 6 digits>": every id of a blob must have the same length. */
  #blockId(number: number): string {
    return Buffer.from(`${this.#upload}-${String(number).padStart(6, '0')}`).toString('base64');
  }
}
