/**
 * The storage port: everything the pipeline needs from a place reports are published to.
 * Adapters (local today; S3 and Azure Blob next) must keep one promise: nothing is ever visible
 * under a key unless its whole body was written without error.
 */

export interface WriteOptions {
  readonly signal: AbortSignal;
  /**
   * `fail`: publish only if nothing exists under the key, atomically (a conditional write, never
   * check-then-put); otherwise throw `ReportAlreadyPublished`. `overwrite`: replace atomically.
   */
  readonly ifExists: 'overwrite' | 'fail';
  readonly contentType: string;
  /** Facts stored with the object where the provider supports it (report date, run id…). */
  readonly metadata: Readonly<Record<string, string>>;
}

export interface WriteResult {
  /** Where the report landed, for logs and people (a path, s3://…, https://…). */
  readonly location: string;
}

export interface ReportStorage {
  readonly provider: string;
  /** Where a key is (or would be), for logs. */
  locate(key: string): string;
  exists(key: string, signal: AbortSignal): Promise<boolean>;
  /** Streams `body` under `key`; aborted (and nothing left behind) when `body` or `signal` fails. */
  write(key: string, body: AsyncIterable<Uint8Array>, options: WriteOptions): Promise<WriteResult>;
}
