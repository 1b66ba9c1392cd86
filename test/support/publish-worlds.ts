import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { CreateBucketCommand, GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { AzureStorageConfig, Config, S3StorageConfig, StorageConfig } from '../../src/config/config.ts';
import { loadConfig } from '../../src/loader/load-config.ts';
import { PostgresReportSource } from '../../src/extract/postgres-report-source.ts';
import type { LocalCall, ProviderName, RequestShape } from '../../src/publish/publish-steps.ts';
import { runReport, type RunSummary } from '../../src/report/run-report.ts';
import { AzureStorage } from '../../src/storage/azure-storage.ts';
import { LocalStorage, type LocalOperation } from '../../src/storage/local-storage.ts';
import type { ReportStorage } from '../../src/storage/report-storage.ts';
import { s3Client } from '../../src/storage/s3-client.ts';
import { S3Storage } from '../../src/storage/s3-storage.ts';
import { FaultProxy, s3ErrorBody, type Fault, type SeenRequest } from './fault-proxy.ts';
import { s3TestConfig } from './s3-test-config.ts';
import type { TestDatabase } from './test-database.ts';

/**
 * A fresh place to publish to, per provider (a bucket on moto, a container on Azurite, a folder),
 * reached through a fault proxy (or, locally, a faulting file-system seam), with a back door that
 * lists what is really stored. The fault-matrix and concurrency tests run real runs against these.
 */

export const REPORT_DATE = '2024-10-05';
export const KEYS = { csv: 'relatorio_20241005.csv', manifest: 'relatorio_20241005.csv.manifest.json', lock: 'relatorio_20241005.csv.lock' } as const;
export const MiB = 1024 * 1024;

export type FaultKind = 'persistent 5xx' | 'response lost' | 'SIGTERM while held' | 'SIGKILL while held';

/** What storage holds after a run, read directly (not through the proxy). */
export interface StorageState {
  readonly csv: { readonly bytes: Buffer; readonly etag: string } | undefined;
  readonly manifest: Record<string, any> | undefined;
  readonly lock: Record<string, any> | undefined;
  /** Open S3 multipart uploads, temporary local files: things a reader never mistakes for the report. */
  readonly leftovers: readonly string[];
  /** Anything else under the container. */
  readonly others: readonly string[];
}

export interface World {
  readonly provider: ProviderName;
  readonly storage: ReportStorage;
  readonly storageConfig: StorageConfig;
  /** The fault proxy in front of the server (S3, Azure), for faults of a test's own. */
  readonly proxy?: FaultProxy;
  /** Arms a fault at the step's request; `onHeld` is called when a held request (SIGTERM/SIGKILL) arrives. */
  inject(shape: RequestShape | LocalCall, fault: FaultKind, hooks: { onHeld?: () => void; released?: AbortSignal }): { hits(): number };
  clear(): void;
  state(): Promise<StorageState>;
  /** The environment a child `daily-report run` needs to publish here (through the proxy). */
  childEnv(): Record<string, string>;
  close(): Promise<void>;
}

process.env.AWS_ACCESS_KEY_ID ??= 'test-access-key';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test-secret-key';

const REQUEST_TIMEOUT_MS = 2_000;

function keyOf(role: 'csv' | 'manifest' | 'lock'): string {
  return KEYS[role];
}

/** Whether a request is of the shape a step's request has (the `after` condition aside). */
export function requestMatches(shape: RequestShape, request: SeenRequest): boolean {
  const url = new URL(request.url, 'http://proxy');
  if (!decodeURIComponent(url.pathname).endsWith(`/${keyOf(shape.object)}`)) return false;
  if (!shape.methods.includes(request.method as never)) return false;
  const has = (spec: string) => {
    const [name, value] = spec.split('=');
    return value === undefined ? url.searchParams.has(name!) : url.searchParams.get(name!) === value;
  };
  if (shape.query !== undefined && !has(shape.query)) return false;
  if ((shape.notQuery ?? []).some(has)) return false;
  if (shape.header !== undefined && request.headers[shape.header] === undefined) return false;
  return true;
}

/** A matcher that honours `after`: it arms once a request of the `after` shape went by. */
function stepMatcher(shape: RequestShape): (request: SeenRequest) => boolean {
  let armed = shape.after === undefined;
  return (request) => {
    if (armed && requestMatches(shape, request)) return true;
    if (!armed && shape.after && requestMatches(shape.after, request)) armed = true;
    return false;
  };
}

function proxyFault(provider: 's3' | 'azure', fault: FaultKind): Fault {
  switch (fault) {
    case 'persistent 5xx':
      return provider === 's3'
        ? { status: 503, body: s3ErrorBody('SlowDown', 'Please reduce your request rate.') }
        : { status: 503, body: '<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code><Message>The server is busy.</Message></Error>' };
    case 'response lost':
      return { loseResponse: true };
    default:
      return { stall: true };
  }
}

function injectInProxy(proxy: FaultProxy, provider: 's3' | 'azure', shape: RequestShape, fault: FaultKind, onHeld?: () => void): { hits(): number } {
  const match = stepMatcher(shape);
  let hits = 0;
  proxy.inject({
    match,
    fault: proxyFault(provider, fault),
    ...(fault === 'persistent 5xx' ? {} : { times: 1 }),
    onMatch: () => {
      hits++;
      onHeld?.();
    },
  });
  return { hits: () => hits };
}

export async function s3World(upstream: string): Promise<World> {
  const proxy = await FaultProxy.start(upstream);
  const bucket = `pub-${randomBytes(6).toString('hex')}`;
  const storageConfig: S3StorageConfig = s3TestConfig(proxy.url, { bucket, requestTimeoutMs: REQUEST_TIMEOUT_MS, maxAttempts: 3, partSizeBytes: 5 * MiB, queueSize: 2 });
  const direct = s3Client(s3TestConfig(upstream, { bucket }));
  await direct.send(new CreateBucketCommand({ Bucket: bucket }));
  const storage = new S3Storage(s3Client(storageConfig), { ...storageConfig, stallTimeoutMs: 2 * REQUEST_TIMEOUT_MS });
  return {
    provider: 's3',
    storage,
    storageConfig,
    proxy,
    inject: (shape, fault, hooks) => injectInProxy(proxy, 's3', shape as RequestShape, fault, hooks.onHeld),
    clear: () => proxy.clear(),
    state: () => s3State(direct, bucket),
    childEnv: () => ({
      STORAGE_PROVIDER: 's3',
      S3_BUCKET: bucket,
      S3_ENDPOINT: proxy.url,
      S3_FORCE_PATH_STYLE: 'true',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID!,
      AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY!,
      S3_PART_SIZE_MB: '5',
      STORAGE_REQUEST_TIMEOUT: '2s',
      STORAGE_MAX_ATTEMPTS: '3',
    }),
    close: () => proxy.close(),
  };
}

async function s3State(client: S3Client, bucket: string): Promise<StorageState> {
  const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
  const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  const read = async (key: string) => {
    const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return { bytes: Buffer.from(await object.Body!.transformToByteArray()), etag: object.ETag! };
  };
  const names = (listed.Contents ?? []).map((o) => o.Key!);
  return assemble(names, read, (uploads.Uploads ?? []).map((u) => `multipart-upload:${u.Key}`));
}

export async function azureWorld(azurite: { url: string; connectionString: string }): Promise<World> {
  const origin = new URL(azurite.url).origin;
  const proxy = await FaultProxy.start(origin);
  const container = `pub-${randomBytes(6).toString('hex')}`;
  const connectionString = azurite.connectionString.replace(origin, proxy.url);
  const storageConfig: AzureStorageConfig = {
    provider: 'azure', connectionString, accountUrl: undefined, container, prefix: '', encryptionScope: undefined,
    blockSizeBytes: 5 * MiB, maxConcurrency: 2, requestTimeoutMs: REQUEST_TIMEOUT_MS, maxAttempts: 3,
  };
  const direct = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(container);
  await direct.create();
  // The SDK's own retry policy with short delays (its default waits 4 s, then 8 s, between attempts).
  const client = BlobServiceClient.fromConnectionString(connectionString, {
    retryOptions: { maxTries: 3, tryTimeoutInMs: REQUEST_TIMEOUT_MS, retryDelayInMs: 20, maxRetryDelayInMs: 100 },
  });
  const storage = new AzureStorage(client.getContainerClient(container), storageConfig);
  return {
    provider: 'azure',
    storage,
    storageConfig,
    proxy,
    inject: (shape, fault, hooks) => injectInProxy(proxy, 'azure', shape as RequestShape, fault, hooks.onHeld),
    clear: () => proxy.clear(),
    state: () => azureState(direct),
    childEnv: () => ({
      STORAGE_PROVIDER: 'azure',
      AZURE_STORAGE_CONNECTION_STRING: connectionString,
      AZURE_STORAGE_CONTAINER: container,
      AZURE_BLOCK_SIZE_MB: '5',
      STORAGE_REQUEST_TIMEOUT: '2s',
      STORAGE_MAX_ATTEMPTS: '2',
    }),
    close: () => proxy.close(),
  };
}

async function azureState(container: ContainerClient): Promise<StorageState> {
  const names: string[] = [];
  for await (const blob of container.listBlobsFlat()) names.push(blob.name);
  const read = async (name: string) => {
    const blob = container.getBlockBlobClient(name);
    const properties = await blob.getProperties();
    return { bytes: await blob.downloadToBuffer(), etag: properties.etag! };
  };
  return assemble(names, read, []);
}

/** A folder, with the file-system seam faulted at the step's call. */
export async function localWorld(): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), 'daily-report-pub-'));
  type Armed = { matches: (operation: LocalOperation, path: string) => boolean; fault: FaultKind; onHeld?: () => void; released?: AbortSignal; times: number; hits: number };
  let armed: Armed | undefined;
  const storage = new LocalStorage(dir, async (operation, path, when) => {
    const rule = armed;
    if (!rule || rule.times <= 0) return;
    if (when === 'before' && !rule.matches(operation, path)) return;
    if (when === 'after' && (rule.fault !== 'response lost' || !rule.matches(operation, path))) return;
    rule.hits++;
    const fail = () => Object.assign(new Error(`EIO: i/o error, ${operation} '${path}'`), { code: 'EIO', syscall: operation, path });
    if (rule.fault === 'persistent 5xx' && when === 'before') throw fail();
    if (rule.fault === 'response lost' && when === 'after') {
      rule.times--;
      throw fail();
    }
    if (rule.fault === 'SIGTERM while held' && when === 'before') {
      rule.times--;
      rule.onHeld?.();
      // A call blocked in the file system when the signal arrives still completes.
      if (rule.released && !rule.released.aborted) await new Promise((resolve) => rule.released!.addEventListener('abort', resolve, { once: true }));
    }
  });
  return {
    provider: 'local',
    storage,
    storageConfig: { provider: 'local', dir },
    inject: (shape, fault, hooks) => {
      const call = shape as LocalCall;
      let seenAfter = call.after === undefined;
      const is = (c: LocalCall, operation: LocalOperation, path: string) => c.operations.includes(operation) && path === join(dir, keyOf(c.object));
      armed = {
        hits: 0,
        fault,
        times: fault === 'persistent 5xx' ? Infinity : 1,
        ...(hooks.onHeld ? { onHeld: hooks.onHeld } : {}),
        ...(hooks.released ? { released: hooks.released } : {}),
        matches: (operation, path) => {
          if (seenAfter && is(call, operation, path)) return true;
          if (!seenAfter && call.after && is(call.after, operation, path)) seenAfter = true;
          return false;
        },
      };
      const rule = armed;
      return { hits: () => rule.hits };
    },
    clear: () => void (armed = undefined),
    state: () => localState(dir),
    childEnv: () => ({ STORAGE_PROVIDER: 'local', LOCAL_STORAGE_DIR: dir }),
    close: async () => undefined,
  };
}

async function localState(dir: string): Promise<StorageState> {
  const names = (await readdir(dir)).sort();
  const read = async (name: string) => {
    const path = join(dir, name);
    const stats = await stat(path, { bigint: true });
    return { bytes: await readFile(path), etag: `${stats.ino}-${stats.mtimeNs}-${stats.size}` };
  };
  return assemble(names.filter((n) => !n.endsWith('.partial')), read, names.filter((n) => n.endsWith('.partial')));
}

async function assemble(names: string[], read: (name: string) => Promise<{ bytes: Buffer; etag: string }>, leftovers: string[]): Promise<StorageState> {
  const get = async (name: string) => (names.includes(name) ? read(name) : undefined);
  const json = async (name: string) => {
    const found = await get(name);
    return found && (JSON.parse(found.bytes.toString('utf8')) as Record<string, any>);
  };
  return {
    csv: await get(KEYS.csv),
    manifest: await json(KEYS.manifest),
    lock: await json(KEYS.lock),
    leftovers,
    others: names.filter((n) => !Object.values(KEYS).includes(n as never)),
  };
}

/** One run of the job in this process, against the real database and the world's storage. */
export interface InProcessRun {
  readonly summary?: RunSummary;
  readonly error?: unknown;
  readonly runId: string;
  readonly logs: Record<string, any>[];
}

export async function runInProcess(
  world: World,
  db: TestDatabase,
  options: { sqlFile: string; ifExists: 'overwrite' | 'skip' | 'fail'; signal?: AbortSignal; now?: () => Date; env?: Record<string, string> },
): Promise<InProcessRun> {
  const env = { ...db.env, REPORT_SQL_FILE: options.sqlFile, REPORT_IF_EXISTS: options.ifExists, REPORT_DATE, REPORT_STATEMENT_TIMEOUT: '60s', PGCONNECT_TIMEOUT: '10', ...options.env };
  const base = await loadConfig(env);
  const config: Config = { ...base, storage: world.storageConfig };
  const logs: Record<string, any>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.startsWith('{')) logs.push(JSON.parse(line));
      done();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  const run = { config, sources: [{ name: 'default', source: new PostgresReportSource(config.database, logger) }], storage: world.storage, logger, signal: options.signal ?? new AbortController().signal, ...(options.now ? { now: options.now } : {}) };
  try {
    const summary = await runReport(run);
    return { summary, runId: summary.runId, logs };
  } catch (error) {
    return { error, runId: logs.find((l) => l.run_id)?.run_id ?? '', logs };
  }
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The lock as the storage holds it now; undefined also when it went away between listing and reading it. */
export async function currentLock(world: World): Promise<{ run_id: string; renewed_at: string } | undefined> {
  try {
    return (await world.state()).lock as { run_id: string; renewed_at: string } | undefined;
  } catch {
    return undefined;
  }
}

/**
 * Writes a lock of another run (one killed, or one that took ours over), as this version writes
 * it, expiring `expiresInMs` from now: create-only, or over the lock with ETag `replacing`, or
 * over whatever is there (`'any'`). Returns its run id.
 */
export async function plantLock(world: World, options: { runId?: string; holder?: string; expiresInMs: number; replacing?: string }): Promise<string> {
  const now = Date.now();
  const runId = options.runId ?? `dead-${now}`;
  const document = {
    run_id: runId, key: KEYS.csv, holder: options.holder ?? 'daily-report-killed-pod', pid: 1,
    started_at: new Date(now - 60_000).toISOString(), renewed_at: new Date(now).toISOString(), expires_at: new Date(now + options.expiresInMs).toISOString(), version: '0.1.0',
  };
  const condition = options.replacing === undefined ? { ifExists: 'fail' as const } : options.replacing === 'any' ? { ifExists: 'overwrite' as const } : { ifExists: 'overwrite' as const, ifMatch: options.replacing };
  await world.storage.write(KEYS.lock, (async function* () { yield Buffer.from(JSON.stringify(document)); })(), {
    signal: AbortSignal.timeout(10_000), contentType: 'application/json', metadata: { run_id: runId }, ...condition,
  });
  return runId;
}
