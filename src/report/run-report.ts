import { createHash, randomUUID } from 'node:crypto';
import type { Config } from '../config/config.ts';
import { querySha256 } from './query-sha256.ts';
import { csvHeader } from '../csv/csv-format.ts';
import { planColumns } from '../csv/report-contract.ts';
import { ReportAlreadyPublished, RunWasTerminated } from '../errors.ts';
import type { ReportSession, ReportSource } from '../extract/report-source.ts';
import type { Logger } from '../log/logger.ts';
import type { ReportStorage } from '../storage/report-storage.ts';
import { ATTR, SPAN } from '../telemetry/names.ts';
import { inSpan, setRunAttributes, startPhase } from '../telemetry/spans.ts';
import { VERSION } from '../version.ts';
import { reportKey } from './report-key.ts';
import { reportQuery } from './report-query.ts';
import { buildManifest, manifestBytes, manifestKey, MANIFEST_CONTENT_TYPE } from './report-manifest.ts';
import { formatInstant, reportWindow, todayIn, type ReportWindow } from './report-window.ts';

export const CONTENT_TYPE = 'text/csv; charset=utf-8';

export interface RunReportInput {
  readonly config: Config;
  readonly source: ReportSource;
  readonly storage: ReportStorage;
  readonly logger: Logger;
  readonly signal: AbortSignal;
  /** Dry run: the CSV goes to this sink and nothing is published. */
  readonly dryRun?: DryRunSink | undefined;
  readonly now?: () => Date;
}

/** Where a dry run writes its CSV (stdout, or a file written atomically). */
export interface DryRunSink {
  readonly location: string;
  write(body: AsyncIterable<Uint8Array>, signal: AbortSignal): Promise<void>;
}

export interface RunSummary {
  readonly outcome: 'published' | 'skipped' | 'dry-run';
  readonly runId: string;
  readonly reportDate: string;
  readonly window: ReportWindow;
  readonly key: string;
  readonly location: string;
  readonly rows: number;
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
  const key = reportKey(config.report.keyTemplate, reportDate);
  const dryRun = input.dryRun !== undefined;
  const location = input.dryRun ? input.dryRun.location : storage.locate(key);
  const log = logger.child({ run_id: runId, report_date: reportDate });
  const base = { runId, reportDate, window, key, location };

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

  try {
    const state = dryRun || config.report.ifExists === 'overwrite' ? 'unchecked' : await publicationState(storage, key, signal);
    if (state === 'published') return alreadyPublished(input, base, started, log);
    if (state === 'incomplete') log.warn({ key, location }, 'the report exists without its manifest (a run died before finishing it): replacing it');
    // Only a key that is free is written conditionally; an incomplete report is replaced.
    const csvIfExists = state === 'absent' ? 'fail' : 'overwrite';

    const extractedAt = formatInstant(now(), zone);
    const query = reportQuery(config, window, extractedAt);
    const metadata = { report_date: reportDate, window_start: window.start, window_end: window.end, extracted_at: extractedAt, version: VERSION, run_id: runId };
    const opened = performance.now();
    const database = databaseAttributes(config);
    const session = await inSpan(SPAN.connect, { ...database, [ATTR.engine]: query.engine }, () => source.open(query, signal));
    const tally: Tally = { bytes: 0, hash: createHash('sha256') };
    const progress = setInterval(() => logProgress(log, tally, session, opened), config.report.progressIntervalMs).unref();
    try {
      log.info({ phase: 'connect', database: source.label, engine: query.engine, duration_ms: elapsed(opened), extracted_at: extractedAt, query_sha256: querySha256(config) }, 'snapshot open, query described');
      // The extraction and the upload run at once (the upload pulls the CSV as it is produced): two sibling spans.
      const body = encodeReport(session, config, tally, startPhase(SPAN.extract, { ...database, [ATTR.engine]: query.engine }));
      await inSpan(SPAN.upload, { [ATTR.provider]: dryRun ? 'dry-run' : storage.provider, [ATTR.key]: key }, async (span) => {
        if (input.dryRun) await input.dryRun.write(body, signal);
        else await storage.write(key, body, { signal, ifExists: csvIfExists, contentType: CONTENT_TYPE, metadata });
        span.setAttributes({ [ATTR.bytes]: tally.bytes });
      });
    } finally {
      clearInterval(progress);
      await session.close();
    }
    log.info({ phase: 'extract', rows: session.rows, bytes: tally.bytes, duration_ms: elapsed(opened) }, dryRun ? 'report written' : 'report uploaded');

    const sha256 = tally.hash.digest('hex');
    if (!dryRun) {
      const manifest = buildManifest({ key, window, extractedAt, rows: session.rows, bytes: tally.bytes, sha256, csv: config.csv, querySha256: querySha256(config), runId });
      const manifestStarted = performance.now();
      await inSpan(SPAN.manifest, { [ATTR.key]: manifestKey(key) }, () =>
        storage.write(manifestKey(key), single(manifestBytes(manifest)), { signal, ifExists: 'overwrite', contentType: MANIFEST_CONTENT_TYPE, metadata }),
      );
      log.info({ phase: 'manifest', location: storage.locate(manifestKey(key)), duration_ms: elapsed(manifestStarted) }, 'manifest published');
    }
    if (session.rows === 0) log.warn({ window_start: window.start, window_end: window.end }, 'no rows in the window: the report has only its header');
    const summary: RunSummary = { ...base, outcome: dryRun ? 'dry-run' : 'published', rows: session.rows, bytes: tally.bytes, sha256, durationMs: elapsed(started) };
    setRunAttributes({ [ATTR.outcome]: summary.outcome, [ATTR.rows]: summary.rows, [ATTR.bytes]: summary.bytes, [ATTR.sha256]: sha256 });
    log.info(
      { phase: 'summary', outcome: summary.outcome, key, location, window_start: window.start, window_end: window.end, rows: summary.rows, bytes: summary.bytes, sha256, duration_ms: summary.durationMs },
      dryRun ? `dry run done: ${summary.rows} rows` : `report published: ${location} (${summary.rows} rows)`,
    );
    return summary;
  } catch (error) {
    if (error instanceof ReportAlreadyPublished && config.report.ifExists === 'skip') return alreadyPublished(input, base, started, log);
    if (signal.aborted) {
      throw new RunWasTerminated(`terminated (${messageOfReason(signal.reason)}) before publishing; nothing was published`, { phase: 'run', cause: error });
    }
    throw error;
  }
}

/**
 * Whether the report for `key` is published. The manifest is written last, so it alone means
 * "complete"; checking it before extracting makes a published day cost no database work.
 */
async function publicationState(storage: ReportStorage, key: string, signal: AbortSignal): Promise<'published' | 'incomplete' | 'absent'> {
  if (await storage.exists(manifestKey(key), signal)) return 'published';
  return (await storage.exists(key, signal)) ? 'incomplete' : 'absent';
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

function alreadyPublished(input: RunReportInput, base: Omit<RunSummary, 'outcome' | 'rows' | 'bytes' | 'sha256' | 'durationMs'>, started: number, log: Logger): RunSummary {
  if (input.config.report.ifExists === 'fail') {
    throw new ReportAlreadyPublished(`${base.location} is already published and REPORT_IF_EXISTS=fail`, { phase: 'upload', context: { key: base.key } });
  }
  log.info({ phase: 'summary', outcome: 'skipped', key: base.key, location: base.location }, 'already published: skipped (REPORT_IF_EXISTS=skip)');
  // Not an error: the run did what REPORT_IF_EXISTS=skip asks.
  setRunAttributes({ [ATTR.outcome]: 'skipped' });
  return { ...base, outcome: 'skipped', rows: 0, bytes: 0, sha256: '', durationMs: elapsed(started) };
}

async function* single(chunk: Buffer): AsyncGenerator<Buffer> {
  yield chunk;
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
