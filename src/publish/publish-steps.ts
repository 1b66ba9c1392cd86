/**
 * The publishing protocol's steps, in order, as data: docs/publishing.md describes each one, the
 * publisher reports each one as it starts (log, span event), and the fault-matrix test is generated
 * from this list — a step added here adds its rows to the matrix.
 *
 * `requests` says, per provider, which request (or file-system call) carries the step, so a fault
 * can be aimed at it: the object it names, its method, a header or query it carries, and — where
 * the same request shape occurs twice in a run — the request that must have been seen before it.
 */

export type ProviderName = 's3' | 'azure' | 'local';

/** Which object of a report a request names. */
export type ObjectRole = 'csv' | 'manifest' | 'lock';

export interface RequestShape {
  readonly object: ObjectRole;
  readonly methods: readonly ('GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE')[];
  /** A query parameter the request carries (S3 `partNumber`, Azure `comp=block`…), as "name" or "name=value". */
  readonly query?: string;
  /** Query parameters it must not carry. */
  readonly notQuery?: readonly string[];
  /** A request header it carries (lower case). */
  readonly header?: string;
  /** The step's request is the first of this shape after a request of that shape was seen. */
  readonly after?: RequestShape;
}

/** A local step: the file-system call and the object it touches. */
export interface LocalCall {
  readonly object: ObjectRole;
  readonly operations: readonly ('stat' | 'read' | 'link' | 'rename' | 'unlink')[];
  /** The step's call is the first of this shape after a call of that shape was seen. */
  readonly after?: LocalCall;
}

export interface PublishStep {
  readonly name: string;
  readonly summary: string;
  /** When the step happens at all. */
  readonly when: 'always' | 'over an existing report' | 'multipart';
  readonly requests: { readonly s3: RequestShape; readonly azure: RequestShape; readonly local: LocalCall | undefined };
}

const csvPublishS3: RequestShape = { object: 'csv', methods: ['PUT', 'POST'], notQuery: ['partNumber', 'uploads'] };
const csvPublishAzure: RequestShape = { object: 'csv', methods: ['PUT'], notQuery: ['comp=block'] };
const csvPublishLocal: LocalCall = { object: 'csv', operations: ['link', 'rename'] };

export const PUBLISH_STEPS = [
  {
    name: 'lock.read',
    summary: 'read the lock object, if any: who holds it, since when, until when',
    when: 'always',
    requests: { s3: { object: 'lock', methods: ['GET'] }, azure: { object: 'lock', methods: ['GET'] }, local: { object: 'lock', operations: ['read'] } },
  },
  {
    name: 'lock.take',
    summary: 'create the lock (If-None-Match: *), or replace an expired one (If-Match: its ETag)',
    when: 'always',
    requests: {
      s3: { object: 'lock', methods: ['PUT'], header: 'if-none-match' },
      azure: { object: 'lock', methods: ['PUT'], header: 'if-none-match' },
      local: { object: 'lock', operations: ['link'] },
    },
  },
  {
    name: 'state.read',
    summary: 'read the manifest and look at the CSV: published, incomplete, or absent',
    when: 'always',
    requests: { s3: { object: 'manifest', methods: ['GET'] }, azure: { object: 'manifest', methods: ['GET'] }, local: { object: 'manifest', operations: ['read'] } },
  },
  {
    name: 'csv.parts',
    summary: 'stream the CSV into invisible parts (S3 UploadPart, Azure Put Block, a temporary file)',
    when: 'multipart',
    requests: {
      s3: { object: 'csv', methods: ['PUT'], query: 'partNumber' },
      azure: { object: 'csv', methods: ['PUT'], query: 'comp=block' },
      local: undefined,
    },
  },
  {
    name: 'lock.renew',
    summary: 'the fence: renew the lock (If-Match: our ETag) — a run that lost its lock stops here',
    when: 'always',
    requests: {
      s3: { object: 'lock', methods: ['PUT'], header: 'if-match' },
      azure: { object: 'lock', methods: ['PUT'], header: 'if-match' },
      local: { object: 'lock', operations: ['rename'] },
    },
  },
  {
    name: 'manifest.delete',
    summary: 'delete the old manifest (If-Match: its ETag): from here the old CSV is "not published"',
    when: 'over an existing report',
    requests: { s3: { object: 'manifest', methods: ['DELETE'] }, azure: { object: 'manifest', methods: ['DELETE'] }, local: { object: 'manifest', operations: ['unlink'] } },
  },
  {
    name: 'csv.publish',
    summary: 'make the CSV visible (PutObject / CompleteMultipartUpload, Put Blob / Put Block List, link / rename), If-None-Match: * or If-Match: the old ETag',
    when: 'always',
    requests: {
      s3: { ...csvPublishS3, after: { object: 'lock', methods: ['PUT'], header: 'if-match' } },
      azure: { ...csvPublishAzure, after: { object: 'lock', methods: ['PUT'], header: 'if-match' } },
      local: csvPublishLocal,
    },
  },
  {
    name: 'csv.verify',
    summary: 'HEAD the CSV: its size, checksum and run_id are what this run wrote; capture its identity',
    when: 'always',
    requests: {
      s3: { object: 'csv', methods: ['HEAD'], after: csvPublishS3 },
      azure: { object: 'csv', methods: ['HEAD'], after: csvPublishAzure },
      local: { object: 'csv', operations: ['stat'], after: csvPublishLocal },
    },
  },
  {
    name: 'manifest.write',
    summary: 'write the manifest (If-None-Match: *) with the CSV’s bytes, sha256, identity and trace id: published',
    when: 'always',
    requests: {
      s3: { object: 'manifest', methods: ['PUT'] },
      azure: { object: 'manifest', methods: ['PUT'] },
      local: { object: 'manifest', operations: ['link'] },
    },
  },
  {
    name: 'lock.release',
    summary: 'delete the lock (If-Match: our ETag)',
    when: 'always',
    requests: { s3: { object: 'lock', methods: ['DELETE'] }, azure: { object: 'lock', methods: ['DELETE'] }, local: { object: 'lock', operations: ['unlink'] } },
  },
] as const satisfies readonly PublishStep[];

export type PublishStepName = (typeof PUBLISH_STEPS)[number]['name'];
