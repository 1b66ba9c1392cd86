/**
 * The storage port: what the publisher (src/publish/) needs from a place reports are published to.
 * Adapters only speak their service: they stream, read, compare-and-write and delete, and report
 * what they stored. The protocol — lock, order of steps, verification, what a failure means — is
 * the publisher's, once for every provider (docs/publishing.md).
 *
 * One promise every adapter keeps: nothing is visible under a key unless its whole body was written
 * without error, and a conditional request never overwrites what its condition did not name.
 */

export interface WriteOptions {
  readonly signal: AbortSignal;
  /**
   * `fail`: publish only if nothing exists under the key, atomically (If-None-Match: *, never
   * check-then-put); otherwise throw `ConditionNotMet`. `overwrite`: replace — only the object
   * whose identity is `ifMatch` when that is given (If-Match), anything otherwise.
   */
  readonly ifExists: 'overwrite' | 'fail';
  /** With `overwrite`: the etag of the object the write may replace (see StoredObject.etag). */
  readonly ifMatch?: string | undefined;
  readonly contentType: string;
  /** Facts stored with the object (report date, run id…): how a run recognises its own write. */
  readonly metadata: Readonly<Record<string, string>>;
  /**
   * Awaited once the body has ended and every part is stored, just before the request that makes
   * the object visible; if it throws, nothing becomes visible. `pending` is the identity the object
   * will have, where the provider knows it in advance (a local file keeps its inode through rename).
   */
  readonly beforePublish?: ((pending?: StoredObject) => Promise<void>) | undefined;
}

/** What one object is, as its service identifies it: enough for a consumer to tell "the same object". */
export interface StoredObject {
  /**
   * The token conditional requests compare: S3 and Azure ETag; locally `<inode>-<mtime ns>-<size>`.
   */
  readonly etag: string;
  readonly size: number;
  readonly metadata: Readonly<Record<string, string>>;
  /** S3 VersionId on a versioned bucket. */
  readonly versionId?: string | undefined;
  /** The local file's inode and modification time (ns), for the manifest. */
  readonly inode?: string | undefined;
  readonly mtimeNs?: string | undefined;
}

export interface WriteResult {
  /** Where the object landed, for logs and people (a path, s3://…, https://… without a query). */
  readonly location: string;
  /** What the service says it stored (from the response; the publisher verifies it with `head`). */
  readonly object: StoredObject;
}

export interface ReportStorage {
  readonly provider: string;
  /** Where a key is (or would be), for logs: never a query string (SAS) or userinfo. */
  locate(key: string): string;
  exists(key: string, signal: AbortSignal): Promise<boolean>;
  /** The object's identity, size and metadata; undefined when nothing is there. */
  head(key: string, signal: AbortSignal): Promise<StoredObject | undefined>;
  /** A small object (lock, manifest) whole; undefined when nothing is there. */
  read(key: string, signal: AbortSignal): Promise<{ readonly bytes: Buffer; readonly object: StoredObject } | undefined>;
  /** Streams `body` under `key`; aborted (and nothing left behind) when `body` or `signal` fails. */
  write(key: string, body: AsyncIterable<Uint8Array>, options: WriteOptions): Promise<WriteResult>;
  /** Deletes `key` if its etag is still `ifMatch`; nothing there already counts as deleted. */
  remove(key: string, options: { readonly signal: AbortSignal; readonly ifMatch: string }): Promise<void>;
}
