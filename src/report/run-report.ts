import { createHash, randomUUID } from 'node:crypto';
import type { Config } from '../config/config.ts';
import { querySha256 } from './query-sha256.ts';
import { csvHeader } from '../csv/csv-format.ts';
import { planColumns } from '../csv/report-contract.ts';
import type { Span } from '@opentelemetry/api';
import { RunWasTerminated } from '../errors.ts';
import type { ReportSession, ReportSource } from '../extract/report-source.ts';
import type { Logger } from '../log/logger.ts';
import { ReportPublisher } from '../publish/report-publisher.ts';
import type { ReportStorage, StoredObject } from '../storage/report-storage.ts';
import { ATTR, SPAN } from '../telemetry/names.ts';
import { inSpan, inSpanUnder, startPhase } from '../telemetry/spans.ts';
import { VERSION } from '../version.ts';
import { compressedKey, compressSegment, reportContentType, CSV_CONTENT_TYPE } from './report-compression.ts';
import { reportKey } from './report-key.ts';
import { reportQuery } from './report-query.ts';
import { buildManifest, manifestBytes, manifestKey } from './report-manifest.ts';
import { formatInstant, reportWindow, todayIn, type ReportWindow } from './report-window.ts';

/** The plain CSV's type (a dry run's file); a published report's is `reportContentType(compression)`. */
export const CONTENT_TYPE = CSV_CONTENT_TYPE;

export interface RunReportInput {
  readonly config: Config;
  readonly source: ReportSource;
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
  const { config, source, storage, logger, signal } = input;
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
        lockTtlMs: lockTtlMs(config),
        stallTimeoutMs: stallTimeoutMs(config),
        requestBoundMs: requestBoundMs(config),
        now,
        onStep: (step) => {
          log.debug({ phase: 'publish', step }, `publish step ${step}`);
          input.span?.addEvent(step);
        },
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
    const session = await inSpan(SPAN.connect, { ...database, [ATTR.engine]: query.engine }, () => source.open(query, signal));
    // `plain` counts the CSV, `tally` the object as stored: the same one without compression.
    const plain: Tally = { bytes: 0, hash: createHash('sha256') };
    const tally: Tally = compression === 'none' ? plain : { bytes: 0, hash: createHash('sha256') };
    const progress = setInterval(() => logProgress(log, tally, session, opened), config.report.progressIntervalMs).unref();
    let object: StoredObject | undefined;
    let sha256 = '';
    try {
      log.info({ phase: 'connect', database: source.label, engine: query.engine, duration_ms: elapsed(opened), extracted_at: extractedAt, query_sha256: querySha256(config) }, 'snapshot open, query described');
      // The extraction and the upload run at once (the upload pulls the CSV as it is produced): two sibling spans.
      const csv = encodeReport(session, config, plain, startPhase(SPAN.extract, { ...database, [ATTR.engine]: query.engine }));
      // Compression (REPORT_COMPRESSION): the report's one segment through its own gzip member / zstd
      // frame; the publisher sees, counts and verifies the compressed bytes.
      const body = compression === 'none' ? csv : counted(compressSegment(csv, compression), tally);
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
                  key, window, extractedAt, rows: session.rows, bytes: tally.bytes, sha256, csv: config.csv, querySha256: querySha256(config), runId, traceId,
                  compression, uncompressedBytes: plain.bytes, uncompressedSha256: compression === 'none' ? sha256 : plain.hash.copy().digest('hex'),
                  object: { provider: storage.provider, location: csvLocation, etag: csv.etag, version_id: csv.versionId ?? null, inode: csv.inode ?? null, mtime_ns: csv.mtimeNs ?? null },
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
      await session.close();
    }
    log.info({ phase: 'extract', rows: session.rows, bytes: tally.bytes, ...(compression === 'none' ? {} : { compression, uncompressed_bytes: plain.bytes }), duration_ms: elapsed(opened) }, dryRun ? 'report written' : 'report uploaded');
    if (!dryRun) log.info({ phase: 'manifest', location: storage.locate(manifestKey(key)), etag: object?.etag }, 'manifest published');

    sha256 ||= tally.hash.digest('hex');
    if (session.rows === 0) log.warn({ window_start: window.start, window_end: window.end }, 'no rows in the window: the report has only its header');
    const summary: RunSummary = { ...base, outcome: dryRun ? 'dry-run' : 'published', object, rows: session.rows, bytes: tally.bytes, sha256, durationMs: elapsed(started) };
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

/**
 * How long the report's lock outlives its last renewal: the whole extraction may take
 * REPORT_STATEMENT_TIMEOUT after the connection (PGCONNECT_TIMEOUT), and the steps after it a few
 * requests, each with its retries (docs/publishing.md, "The lock").
 */
export function lockTtlMs(config: Config): number {
  const storage = config.storage;
  const publishing = storage.provider === 'local' ? 60_000 : 4 * storage.requestTimeoutMs * storage.maxAttempts;
  return config.report.statementTimeoutMs + config.database.connectTimeoutMs + publishing;
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
 * The CSV as byte chunks: the header, then the records. The contract is checked before the first
 * chunk exists, so a query with the wrong columns never writes a byte.
 */
async function* encodeReport(session: ReportSession, config: Config, tally: Tally, phase: ReturnType<typeof startPhase>): AsyncGenerator<Buffer> {
  let failure: unknown;
  try {
    const plan = planColumns(session.columns);
    const count = (chunk: Buffer) => {
      tally.bytes += chunk.length;
      tally.hash.update(chunk);
      return chunk;
    };
    yield count(Buffer.from(csvHeader(config.csv), 'utf8'));
    for await (const chunk of session.records(plan, config.csv)) yield count(chunk);
  } catch (error) {
    failure = error;
    throw error;
  } finally {
    phase.span.setAttributes({ [ATTR.rows]: session.rows, [ATTR.bytes]: tally.bytes });
    phase.end(failure);
  }
}

/** Counts (and hashes) the bytes as they pass: the compressed object, when the report is compressed. */
async function* counted(chunks: AsyncIterable<Uint8Array>, tally: Tally): AsyncGenerator<Uint8Array> {
  for await (const chunk of chunks) {
    tally.bytes += chunk.length;
    tally.hash.update(chunk);
    yield chunk;
  }
}

/** Database client attributes (semantic conventions): the query's text, never its parameter values. */
function databaseAttributes(config: Config) {
  return {
    [ATTR.dbSystem]: 'postgresql',
    [ATTR.dbNamespace]: config.database.database,
    [ATTR.dbQueryText]: config.report.query.text,
    [ATTR.serverAddress]: config.database.host,
    [ATTR.serverPort]: config.database.port,
  };
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

function logProgress(log: Logger, tally: Tally, session: ReportSession, since: number): void {
  const seconds = (performance.now() - since) / 1000;
  log.info({ phase: 'extract', rows: session.rows, bytes: tally.bytes, rows_per_second: Math.round(session.rows / seconds) }, 'extracting');
}

function elapsed(since: number): number {
  return Math.round(performance.now() - since);
}

function messageOfReason(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason ?? 'aborted');
}
