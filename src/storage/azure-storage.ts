import type { BlobHTTPHeaders, BlockBlobClient, ContainerClient, BlobRequestConditions } from '@azure/storage-blob';
import { createHash, randomUUID } from 'node:crypto';
import { ConditionNotMet, TransientFailure } from '../errors.ts';
import { classifyAzureError } from './azure-errors.ts';
import { ObservedBody } from './observed-body.ts';
import { PublishFence } from './publish-fence.ts';
import { uploadInParts, type PartTarget } from './part-upload.ts';
import type { ReportStorage, StoredObject, WriteOptions, WriteResult } from './report-storage.ts';
import { readAtMost } from './small-object-read.ts';

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

  /** The blob's URL without its query (a SAS token is a credential) or userinfo. */
  locate(key: string): string {
    return withoutCredentials(this.#container.getBlockBlobClient(this.#name(key)).url);
  }

  async exists(key: string, signal: AbortSignal): Promise<boolean> {
    return (await this.head(key, signal)) !== undefined;
  }

  async head(key: string, signal: AbortSignal): Promise<StoredObject | undefined> {
    try {
      const properties = await this.#container.getBlockBlobClient(this.#name(key)).getProperties({ abortSignal: signal });
      return { etag: properties.etag ?? '', size: properties.contentLength ?? 0, metadata: { ...properties.metadata } };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw classifyAzureError(error, 'getProperties', this.locate(key));
    }
  }

  async read(key: string, signal: AbortSignal): Promise<{ bytes: Buffer; object: StoredObject } | undefined> {
    try {
      // One GET: the bytes and the identity of the same version (downloadToBuffer would HEAD first).
      const answer = await this.#container.getBlockBlobClient(this.#name(key)).download(0, undefined, { abortSignal: signal });
      const bytes = await readAtMost(answer.readableStreamBody as AsyncIterable<Uint8Array> & { destroy?: () => void });
      return { bytes, object: { etag: answer.etag ?? '', size: answer.contentLength ?? bytes.length, metadata: { ...answer.metadata } } };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw classifyAzureError(error, 'download', this.locate(key));
    }
  }

  async remove(key: string, options: { signal: AbortSignal; ifMatch: string }): Promise<void> {
    try {
      await this.#container.getBlockBlobClient(this.#name(key)).delete({ abortSignal: options.signal, conditions: { ifMatch: options.ifMatch } });
    } catch (error) {
      const classified = isNotFound(error) ? undefined : classifyAzureError(error, 'delete', this.locate(key));
      // Deleted already (our own earlier attempt, its answer lost; Azure answers If-Match on a missing blob with 412).
      if (classified === undefined || (classified instanceof ConditionNotMet && (await this.head(key, options.signal)) === undefined)) return;
      throw classified;
    }
  }

  async write(key: string, body: AsyncIterable<Uint8Array>, options: WriteOptions): Promise<WriteResult> {
    const blob = this.#container.getBlockBlobClient(this.#name(key));
    const location = this.locate(key);
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
      conditions: options.ifExists === 'fail' ? { ifNoneMatch: '*' } : options.ifMatch ? { ifMatch: options.ifMatch } : {},
      ...(this.#options.encryptionScope ? { encryptionScope: this.#options.encryptionScope } : {}),
    });
    let etag: string | undefined;
    const fence = new PublishFence(options.beforePublish);
    const beforePublish = fence.call;
    try {
      etag = await uploadInParts(observed.readable(options.signal), target, {
        partSize: this.#options.blockSizeBytes,
        queueSize: this.#options.maxConcurrency,
        maxParts: MAX_BLOCKS,
        partSizeSetting: 'AZURE_BLOCK_SIZE_MB',
        signal: options.signal,
        ...(beforePublish ? { beforePublish } : {}),
      });
    } catch (error) {
      throw observed.failureOr(() => fence.failureOr(() => classifyAzureError(error, 'upload', location)));
    }
    await this.#verify(blob, location, observed.bytes, headers.blobContentMD5, etag, options.signal);
    return { location, object: { etag: etag ?? '', size: observed.bytes, metadata: { ...options.metadata } } };
  }

  /** Size and Content-MD5 of the committed blob, against what we sent. */
  async #verify(blob: BlockBlobClient, location: string, bytes: number, md5: Uint8Array | undefined, etag: string | undefined, signal: AbortSignal): Promise<void> {
    const stored = await blob.getProperties({ abortSignal: signal }).catch((error: unknown) => {
      throw classifyAzureError(error, 'getProperties (verify)', location);
    });
    if (etag !== undefined && stored.etag !== undefined && stored.etag !== etag) {
      throw new ConditionNotMet(`${location} was replaced right after our write (ETag ${stored.etag}, ours ${etag})`, { phase: 'upload', context: { location } });
    }
    const problems: string[] = [];
    if (stored.contentLength !== bytes) problems.push(`size ${stored.contentLength} ≠ ${bytes} bytes sent`);
    if (md5 && stored.contentMD5 && !Buffer.from(stored.contentMD5).equals(Buffer.from(md5))) problems.push('Content-MD5 differs from the bytes sent');
    if (problems.length > 0) throw new TransientFailure(`verification of ${location} failed: ${problems.join('; ')}`, { phase: 'upload', context: { location, verification: 'mismatch' } });
  }

  #name(key: string): string {
    return `${this.#options.prefix}${key}`;
  }
}

/** What the request that publishes the blob carries besides the bytes. */
interface BlobAttributes {
  readonly blobHTTPHeaders: BlobHTTPHeaders;
  readonly metadata: Record<string, string>;
  readonly conditions: BlobRequestConditions;
  readonly encryptionScope?: string;
}

/** One blob: a single Put Blob, or blocks staged under this upload's own ids and one Put Block List. */
class AzureBlob implements PartTarget<string | undefined> {
  readonly #blob: BlockBlobClient;
  readonly #attributes: BlobAttributes;
  /** Block ids are per upload, so two writers of the same blob never stage into each other's blocks. */
  readonly #upload = randomUUID();

  constructor(blob: BlockBlobClient, attributes: BlobAttributes) {
    this.#blob = blob;
    this.#attributes = attributes;
  }

  async single(bytes: Buffer, signal: AbortSignal): Promise<string | undefined> {
    return (await this.#blob.upload(bytes, bytes.length, { ...this.#attributes, abortSignal: signal })).etag;
  }

  async part(number: number, bytes: Buffer, signal: AbortSignal): Promise<void> {
    const { encryptionScope } = this.#attributes;
    await this.#blob.stageBlock(this.#blockId(number), bytes, bytes.length, { abortSignal: signal, ...(encryptionScope ? { encryptionScope } : {}) });
  }

  async complete(parts: number, signal: AbortSignal): Promise<string | undefined> {
    const ids = Array.from({ length: parts }, (_, i) => this.#blockId(i + 1));
    return (await this.#blob.commitBlockList(ids, { ...this.#attributes, abortSignal: signal })).etag;
  }

  /** Nothing to do: staged blocks that are never committed are invisible and expire on their own. */
  async abandon(): Promise<void> {}

  /** Base64 of "<upload uuid>-<number, 6 digits>": every id of a blob must have the same length. */
  #blockId(number: number): string {
    return Buffer.from(`${this.#upload}-${String(number).padStart(6, '0')}`).toString('base64');
  }
}

function isNotFound(error: unknown): boolean {
  const e = error as { statusCode?: number; code?: string };
  // A missing container is a 404 too, and must not read as "no blob yet".
  return e.code === 'BlobNotFound' || (e.statusCode === 404 && e.code !== 'ContainerNotFound');
}

/** A URL for logs and messages: no query (a SAS carries `sig=`), no userinfo. */
export function withoutCredentials(url: string): string {
  const parsed = new URL(url);
  parsed.search = '';
  parsed.username = '';
  parsed.password = '';
  return parsed.toString();
}
