import { createHash, randomUUID } from 'node:crypto';
import type { Config } from '../config/config.ts';
import { querySha256 } from './query-sha256.ts';
import { csvHeader } from '../csv/csv-format.ts';
import { planColumns, type PlannedColumn } from '../csv/report-contract.ts';
import type { Span } from '@opentelemetry/api';
import { RunWasTerminated } from '../errors.ts';
import type { ReportQuery, ReportSession, ReportSource } from '../extract/report-source.ts';
import type { Logger } from '../log/logger.ts';
import { ReportPublisher } from '../publish/report-publisher.ts';
import type { ReportStorage, StoredObject } from '../storage/report-storage.ts';
import { ATTR, SPAN } from '../telemetry/names.ts';
import { inSpan, inSpanUnder, startPhase } from '../telemetry/spans.ts';
import { VERSION } from '../version.ts';
import type { NamedSource } from './named-source.ts';
import { compressedKey, compressSegment, reportContentType, CSV_CONTENT_TYPE, type Compression } from './report-compression.ts';
import { reportKey } from './report-key.ts';
import { reportQuery } from './report-query.ts';
import { buildManifest, manifestBytes, manifestKey, type ManifestFacts } from './report-manifest.ts';
import { encodeSegment, type SegmentEncoding } from './segment-encoding.ts';
import { openSegmentedExtraction } from './segmented-extraction.ts';
import { formatInstant, reportWindow, todayIn, type ReportWindow } from './report-window.ts';

/** The plain CSV's type (a dry run's file); a published report's is `reportContentType(compression)`. */
export const CONTENT_TYPE = CSV_CONTENT_TYPE;
export type { NamedSource } from './named-source.ts';

export interface RunReportInput {
  readonly config: Config;
  /** The source databases, in report order (at least one). */
  readonly sources: readonly NamedSource[];
  readonly storage: ReportStorage;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /** Dry run: the CSV goes to this sink and nothing is published. */
  readonly dryRun?: DryRunSink | undefined;
  readonly now?: () => Date;
  /** The run's root span: facts about the run go on it, and its trace id into the manifest. */
  readonly span?: Span | undefined;
}

/** Where a dry run writes its CSV (stdout, or a file written atomically). */
export interface DryRunSink {
  readonly location: string;
  write(body: AsyncIterable<Uint8Array>, signal: AbortSignal): Promise<void>;
}

export interface RunSummary {
  readonly outcome: 'published' | 'skipped' | 'dry-run';
  /** For a publish: the CSV's identity as its storage gave it (also in the manifest). */
  readonly object?: StoredObject | undefined;
  readonly runId: string;
  readonly reportDate: string;
  readonly window: ReportWindow;
  readonly key: string;
  readonly location: string;
  readonly rows: number;
  /** The object as stored (compressed with REPORT_COMPRESSION), as in the manifest. */
  readonly bytes: number;
  readonly sha256: string;
  readonly durationMs: number;
}

interface Tally {
  bytes: number;
  readonly hash: ReturnType<typeof createHash>;
}

/**
 * The job: report date and window → snapshot query → contract check → CSV → atomic publish.
 * It knows the database and the storage only through their ports.
 */
export async function runReport(input: RunReportInput): Promise<RunSummary> {
  const { config, storage, logger, signal } = input;
  if (input.sources.length === 0) throw new RangeError('runReport: sources must name at least one source database');
  // One source, one worker: today's single stream (no coordinator, no spill), byte for byte.
  const segmented = input.sources.length > 1 || config.report.parallelism > 1;
  const now = input.now ?? (() => new Date());
  const started = performance.now();
  const runId = randomUUID();
  const zone = config.report.timezone;
  const reportDate = config.report.date ?? todayIn(zone, now());
  const window = reportWindow(reportDate, zone);
  const dryRun = input.dryRun !== undefined;
  // A dry run writes plain CSV, for people to read; a publish stores what REPORT_COMPRESSION asks.
  const compression = dryRun ? 'none' : config.report.compression;
  const key = compressedKey(reportKey(config.report.keyTemplate, reportDate), config.report.compression);
  const location = input.dryRun ? input.dryRun.location : storage.locate(key);
  const log = logger.child({ run_id: runId, report_date: reportDate });
  const base = { runId, reportDate, window, key, location };
  const setRunAttributes = (attributes: Parameters<Span['setAttributes']>[0]) => input.span?.setAttributes(attributes);
  const traceId = traceIdOf(input.span);

  setRunAttributes({
    [ATTR.runId]: runId,
    [ATTR.reportDate]: reportDate,
    [ATTR.windowStart]: window.start,
    [ATTR.windowEnd]: window.end,
    [ATTR.timezone]: zone,
    [ATTR.provider]: storage.provider,
    [ATTR.key]: key,
    [ATTR.ifExists]: config.report.ifExists,
    ...storageContainer(config),
  });
  log.info(
    { window_start: window.start, window_end: window.end, timezone: zone, key, location, provider: storage.provider, if_exists: config.report.ifExists, version: VERSION },
    dryRun ? 'dry run starting: nothing will be published' : 'run starting',
  );

  const publisher = dryRun
    ? undefined
    : new ReportPublisher({
        storage,
        key,
        manifestKey: manifestKey(key),
        runId,
        ifExists: config.report.ifExists,
        lockLeaseMs: config.report.lockLeaseMs,
        stallTimeoutMs: stallTimeoutMs(config),
        requestBoundMs: requestBoundMs(config),
        now,
        onStep: (step) => {
          log.debug({ phase: 'publish', step }, `publish step ${step}`);
          input.span?.addEvent(step);
        },
        onLockWait: (holder, waitUntil) =>
          log.warn(
            { key, holder_run_id: holder.run_id, holder: holder.holder, renewed_at: holder.renewed_at, expires_at: holder.expires_at },
            `another run's lock is on ${key} (run id ${holder.run_id} on ${holder.holder}, last renewed ${holder.renewed_at}): waiting until ${waitUntil.toISOString()} for it to be released or to expire`,
          ),
        onLockRenewalFailure: (error, { lost, retryInMs }) =>
          lost
            ? log.warn({ key, err: error }, 'the lock was taken over by another run while this one worked: no more renewals; the run stops now, before changing anything visible')
            : log.warn({ key, err: error }, `renewing the lock failed (tried again ${retryInMs === 0 ? 'at once' : retryInMs < 1000 ? 'in under a second' : `in ${Math.round(retryInMs / 1000)} s`}; it stays ours until its lease runs out)`),
        inManifestSpan: (fn) => inSpanUnder(input.span, SPAN.manifest, { [ATTR.key]: manifestKey(key) }, fn),
      });

  try {
    // The lock and the state first: a run that cannot publish (held, published, no permission)
    // costs no database work, and storage permissions are checked before a long extraction.
    if (publisher) {
      const next = await inSpan(SPAN.lock, { [ATTR.key]: key }, () => publisher.begin(signal));
      if (next === 'skip') return skipped(base, started, log, setRunAttributes);
      if (publisher.previous === 'incomplete') log.warn({ key, location }, 'the report exists without a manifest that describes it (a run died before finishing it): replacing it');
    }

    const extractedAt = formatInstant(now(), zone);
    const query = reportQuery(config, window, extractedAt);
    const metadata = { report_date: reportDate, window_start: window.start, window_end: window.end, extracted_at: extractedAt, version: VERSION, run_id: runId };
    const opened = performance.now();
    const database = databaseAttributes(config);
    // `plain` counts the CSV, `tally` the object as stored: the same one without compression.
    // gzip: each segment its own member, compressed by its worker; zstd: one frame over the whole
    // report (segment-encoding.ts says why). A single stream is one segment either way.
    const plain: Tally = { bytes: 0, hash: createHash('sha256') };
    const tally: Tally = compression === 'none' ? plain : { bytes: 0, hash: createHash('sha256') };
    const segmentCompression: Compression = compression === 'gzip' ? 'gzip' : 'none';
    const streamCompression: Compression = compression === 'zstd' ? 'zstd' : 'none';
    // Segments compressed by several workers are never one plain stream in order: no plain sha256 then.
    const plainInOrder = segmentCompression === 'none' || !segmented;
    const encoding: SegmentEncoding = { compression: segmentCompression, plain: segmentCompression !== 'none' && !segmented ? plain : { bytes: 0 } };
    // The extraction also stops when a heartbeat finds the lock taken over: its report could not be published.
    const extractionSignal = publisher ? AbortSignal.any([signal, publisher.lockLost]) : signal;
    const extraction = await inSpan(SPAN.connect, { ...database, [ATTR.engine]: query.engine }, () =>
      segmented ? openSegmented({ ...input, signal: extractionSignal }, query, runId, encoding) : openSingle(input.sources[0]!.source, query, extractionSignal, encoding),
    );
    const progress = setInterval(() => logProgress(log, tally, extraction, opened), config.report.progressIntervalMs).unref();
    let object: StoredObject | undefined;
    let sha256 = '';
    if (segmented) setRunAttributes({ [ATTR.parallelism]: config.report.parallelism, [ATTR.segments]: Number(extraction.facts.segments) });
    try {
      log.info({ phase: 'connect', ...extraction.facts, engine: query.engine, duration_ms: elapsed(opened), extracted_at: extractedAt, query_sha256: querySha256(config) }, extraction.opened);
      // The extraction and the upload run at once (the upload pulls the CSV as it is produced): two sibling spans.
      let stored: AsyncIterable<Buffer> = extraction.body(config);
      if (compression !== 'none' && segmentCompression === 'none') stored = counted(stored, plain);
      if (streamCompression !== 'none') stored = compressSegment(stored, streamCompression) as AsyncIterable<Buffer>;
      const body = countReport(stored, extraction, tally, startPhase(SPAN.extract, { ...database, [ATTR.engine]: query.engine }));
      await inSpan(SPAN.upload, { [ATTR.provider]: dryRun ? 'dry-run' : storage.provider, [ATTR.key]: key }, async (span) => {
        if (input.dryRun) await input.dryRun.write(body, signal);
        else {
          const published = await publisher!.publish({
            body,
            signal,
            contentType: reportContentType(compression),
            metadata,
            bytes: () => tally.bytes,
            manifest: (csv, csvLocation) => {
              sha256 = tally.hash.copy().digest('hex');
              return manifestBytes(
                buildManifest({
                  key, window, extractedAt, rows: extraction.rows, bytes: tally.bytes, sha256, csv: config.csv, querySha256: querySha256(config), runId, traceId,
                  compression,
                  uncompressedBytes: segmentCompression !== 'none' ? encoding.plain.bytes : plain.bytes,
                  uncompressedSha256: compression === 'none' ? sha256 : plainInOrder ? plain.hash.copy().digest('hex') : null,
                  object: { provider: storage.provider, location: csvLocation, etag: csv.etag, version_id: csv.versionId ?? null, inode: csv.inode ?? null, mtime_ns: csv.mtimeNs ?? null },
                  ...extraction.manifest(),
                }),
              );
            },
          });
          object = published.object;
          if (published.finishedAfterSignal) log.warn({ key, location }, 'the signal arrived while the report was being published: finished publishing first');
        }
        span.setAttributes({ [ATTR.bytes]: tally.bytes });
      });
    } finally {
      clearInterval(progress);
      await extraction.close();
    }
    const uncompressed = compression === 'none' ? {} : { compression, uncompressed_bytes: segmentCompression !== 'none' ? encoding.plain.bytes : plain.bytes };
    log.info({ phase: 'extract', rows: extraction.rows, bytes: tally.bytes, ...uncompressed, duration_ms: elapsed(opened) }, dryRun ? 'report written' : 'report uploaded');
    if (!dryRun) log.info({ phase: 'manifest', location: storage.locate(manifestKey(key)), etag: object?.etag }, 'manifest published');

    sha256 ||= tally.hash.digest('hex');
    if (extraction.rows === 0) log.warn({ window_start: window.start, window_end: window.end }, 'no rows in the window: the report has only its header');
    const summary: RunSummary = { ...base, outcome: dryRun ? 'dry-run' : 'published', object, rows: extraction.rows, bytes: tally.bytes, sha256, durationMs: elapsed(started) };
    setRunAttributes({ [ATTR.outcome]: summary.outcome, [ATTR.rows]: summary.rows, [ATTR.bytes]: summary.bytes, [ATTR.sha256]: sha256 });
    log.info(
      { phase: 'summary', outcome: summary.outcome, key, location, window_start: window.start, window_end: window.end, rows: summary.rows, bytes: summary.bytes, sha256, duration_ms: summary.durationMs },
      dryRun ? `dry run done: ${summary.rows} rows` : `report published: ${location} (${summary.rows} rows)`,
    );
    return summary;
  } catch (error) {
    await publisher?.abandon();
    if (signal.aborted) {
      const left = publisher?.leftBehind() ?? 'nothing was published';
      throw new RunWasTerminated(`terminated (${messageOfReason(signal.reason)}) before publishing; ${left}`, { phase: 'run', cause: error, context: { left_behind: left } });
    }
    if (publisher && error instanceof Error && 'context' in error) Object.assign((error as { context: Record<string, unknown> }).context, { left_behind: publisher.leftBehind() });
    throw error;
  }
}

/** The body not being read for this long fails the upload: twice a request's timeout (a part may use one whole timeout, then retry). */
function stallTimeoutMs(config: Config): number {
  return config.storage.provider === 'local' ? 120_000 : 2 * config.storage.requestTimeoutMs;
}

/** One storage request with all its attempts (and the back-off between them). */
export function requestBoundMs(config: Config): number {
  return config.storage.provider === 'local' ? 60_000 : config.storage.maxAttempts * (config.storage.requestTimeoutMs + 1_000);
}

function traceIdOf(span: Span | undefined): string | null {
  const id = span?.spanContext().traceId;
  return id && !/^0+$/.test(id) ? id : null;
}

/**
 * What the run reads the report from: today's single session, or the segments of every source
 * (segmented-extraction.ts). `body` is the CSV — the header, then the records.
 */
interface Extraction {
  readonly rows: number;
  /** For the connect log line: which databases, how many segments. */
  readonly facts: Record<string, unknown>;
  readonly opened: string;
  body(config: Config): AsyncIterable<Buffer>;
  manifest(): Pick<ManifestFacts, 'segments' | 'sources'>;
  close(): Promise<void>;
}

async function openSingle(source: ReportSource, query: ReportQuery, signal: AbortSignal, encoding: SegmentEncoding): Promise<Extraction> {
  const session = await source.open(query, signal);
  return {
    get rows() {
      return session.rows;
    },
    facts: { database: source.label },
    opened: 'snapshot open, query described',
    body: (config) => singleStream(session, config, encoding),
    manifest: () => ({}),
    close: () => session.close(),
  };
}

async function openSegmented(input: RunReportInput, query: ReportQuery, runId: string, encoding: SegmentEncoding): Promise<Extraction> {
  const { config, sources, signal } = input;
  const segmented = await openSegmentedExtraction({ config, sources, query, runId, signal, encoding });
  return {
    get rows() {
      return segmented.rows;
    },
    facts: { database: segmented.servers.join(', '), sources: sources.map((s) => s.name), parallelism: config.report.parallelism, segments: segmented.segmentCount },
    opened: `${sources.length === 1 ? 'snapshot' : 'snapshots'} exported, query described, ${segmented.segmentCount} segments planned`,
    body: () => segmented.body(),
    manifest: () => ({ segments: segmented.manifestSegments(), sources: segmented.manifestSources() }),
    close: () => segmented.close(),
  };
}

/**
 * Today's CSV as byte chunks: the header, then the records. The contract is checked before the
 * first chunk exists, so a query with the wrong columns never writes a byte.
 */
async function* singleStream(session: ReportSession, config: Config, encoding: SegmentEncoding): AsyncGenerator<Buffer> {
  const plan = planColumns(session.columns);
  yield* encodeSegment(headerThenRecords(session, plan, config), encoding);
}

async function* headerThenRecords(session: ReportSession, plan: readonly PlannedColumn[], config: Config): AsyncGenerator<Buffer> {
  yield Buffer.from(csvHeader(config.csv), 'utf8');
  yield* session.records(plan, config.csv);
}

/** The report's bytes as they go to storage, counted and hashed in order: the manifest's bytes and sha256. */
async function* countReport(stored: AsyncIterable<Buffer>, extraction: Extraction, tally: Tally, phase: ReturnType<typeof startPhase>): AsyncGenerator<Buffer> {
  let failure: unknown;
  try {
    for await (const chunk of stored) {
      tally.bytes += chunk.length;
      tally.hash.update(chunk);
      yield chunk;
    }
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    phase.span.setAttributes({ [ATTR.rows]: extraction.rows, [ATTR.bytes]: tally.bytes });
    phase.end(failure);
  }
}

/** Counts and hashes the plain CSV on its way to a compressor that runs over the whole report. */
async function* counted(chunks: AsyncIterable<Buffer>, tally: Tally): AsyncGenerator<Buffer> {
  for await (const chunk of chunks) {
    tally.bytes += chunk.length;
    tally.hash.update(chunk);
    yield chunk;
  }
}

/**
 * Database client attributes (semantic conventions): the query's text, never its parameter values.
 * The db.namespace / server.* attributes describe one database, so a report from several carries
 * each source in daily_report.sources instead of the first one's alone.
 */
function databaseAttributes(config: Config) {
  const common = { [ATTR.dbSystem]: 'postgresql', [ATTR.dbQueryText]: config.report.query.text };
  if (config.sources.length > 1) {
    return { ...common, [ATTR.sources]: config.sources.map(({ name, database }) => `${name} ${database.host}:${database.port}/${database.database}`) };
  }
  return { ...common, [ATTR.dbNamespace]: config.database.database, [ATTR.serverAddress]: config.database.host, [ATTR.serverPort]: config.database.port };
}

function storageContainer(config: Config): Record<string, string> {
  const storage = config.storage;
  return { [ATTR.container]: storage.provider === 's3' ? storage.bucket : storage.provider === 'azure' ? storage.container : storage.dir };
}

function skipped(base: Omit<RunSummary, 'outcome' | 'rows' | 'bytes' | 'sha256' | 'durationMs'>, started: number, log: Logger, setRunAttributes: (a: Record<string, string>) => void): RunSummary {
  log.info({ phase: 'summary', outcome: 'skipped', key: base.key, location: base.location }, 'already published: skipped (REPORT_IF_EXISTS=skip)');
  // Not an error: the run did what REPORT_IF_EXISTS=skip asks.
  setRunAttributes({ [ATTR.outcome]: 'skipped' });
  return { ...base, outcome: 'skipped', rows: 0, bytes: 0, sha256: '', durationMs: elapsed(started) };
}

function logProgress(log: Logger, tally: Tally, session: { readonly rows: number }, since: number): void {
  const seconds = (performance.now() - since) / 1000;
  log.info({ phase: 'extract', rows: session.rows, bytes: tally.bytes, rows_per_second: Math.round(session.rows / seconds) }, 'extracting');
}

function elapsed(since: number): number {
  return Math.round(performance.now() - since);
}

function messageOfReason(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason ?? 'aborted');
}
