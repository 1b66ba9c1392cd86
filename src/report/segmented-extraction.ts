import { mkdir } from 'node:fs/promises';
import type { Config } from '../config/config.ts';
import { formatDuration } from '../config/duration.ts';
import { ReportContractViolated, TransientFailure } from '../errors.ts';
import { csvHeader } from '../csv/csv-format.ts';
import { planColumns, type PlannedColumn } from '../csv/report-contract.ts';
import type { ReportQuery, SharedSnapshot, SubWindow } from '../extract/report-source.ts';
import { typeDisagreement } from './column-type-agreement.ts';
import { MostSevereFailure } from './most-severe-failure.ts';
import type { NamedSource } from './named-source.ts';
import { OrderedMerge } from './ordered-merge.ts';
import { formatInstantText } from './report-window.ts';
import type { ManifestSegment, ManifestSource } from './report-manifest.ts';
import { refuseSameDatabaseTwice } from './same-database-twice.ts';
import { encodeSegment, type SegmentEncoding } from './segment-encoding.ts';
import { removeStaleSpills } from './spilled-segment.ts';
import { typeNameOf } from './validate-report.ts';

/**
 * Shards asked of each source per worker. More shards than workers, taken from a queue, so an
 * hour heavier than the others does not leave workers idle at the end (docs/parallel-extraction.md
 * gives the measurement behind 4).
 */
export const SHARDS_PER_WORKER = 4;

/** Beyond REPORT_STATEMENT_TIMEOUT, before a spill file nobody wrote is taken for a killed run's. */
const STALE_SPILL_MARGIN_MS = 10 * 60_000;

/** A worker may run this many segments ahead of the oldest undelivered one, per worker: the disk bound. */
export const LOOK_AHEAD_PER_WORKER = 2;

interface SegmentPlan {
  readonly source: number;
  readonly window: SubWindow;
  rows: number;
  bytes: number;
}

/** The report assembled from segments: every source's shards, in order, one header. */
export interface SegmentedExtraction {
  /** The sources' labels (host:port/database), for the log. */
  readonly servers: readonly string[];
  readonly segmentCount: number;
  /** Rows produced so far, every segment together. */
  readonly rows: number;
  /** The report: the header, then each segment's records in report order, each encoded as `encoding` says. */
  body(): AsyncIterable<Buffer>;
  readonly manifestSegments: () => ManifestSegment[];
  readonly manifestSources: () => ManifestSource[];
  /** Cancels what still runs, waits for every worker, removes the spill files, ends every snapshot. */
  close(): Promise<void>;
}

/**
 * Opens one shared snapshot per source (concurrently: their instants are as close as they can be;
 * there is no snapshot across servers), checks every source's columns against the contract before
 * any byte exists, and plans the segments: each source's shards, in the sources' order.
 */
export async function openSegmentedExtraction(input: {
  readonly config: Config;
  readonly sources: readonly NamedSource[];
  readonly query: ReportQuery;
  readonly runId: string;
  readonly signal: AbortSignal;
  /** How each segment's bytes are encoded by its worker (segment-encoding.ts); plain CSV by default. */
  readonly encoding?: SegmentEncoding | undefined;
}): Promise<SegmentedExtraction> {
  const { config, sources, query } = input;
  const encoding: SegmentEncoding = input.encoding ?? { compression: 'none', plain: { bytes: 0 } };
  const workers = config.report.parallelism;
  // REPORT_STATEMENT_TIMEOUT bounds the whole extraction, as it does a single stream's one statement
  // (each shard's statement has it too): the report's lock lifetime is computed from it.
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(extractionTimedOut(config.report.statementTimeoutMs)), config.report.statementTimeoutMs).unref();
  const signal = AbortSignal.any([input.signal, deadline.signal]);
  // One worker: one shard per source (any query, no coordinator work); several: more shards than workers.
  const shards = workers === 1 ? 1 : SHARDS_PER_WORKER * workers;
  const opened = await Promise.allSettled(sources.map(({ source }) => source.openShared(query, { shards }, signal)));
  const snapshots = opened.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const endSnapshots = () => {
    clearTimeout(timer);
    return Promise.allSettled(snapshots.map((snapshot) => snapshot.close())).then(() => undefined);
  };
  const failures = new MostSevereFailure();
  for (const result of opened) if (result.status === 'rejected') failures.record(result.reason, signal.aborted);
  if (failures.failed || snapshots.length < sources.length) {
    await endSnapshots();
    throw failures.cause ?? signal.reason;
  }

  let plans: PlannedColumn[][];
  try {
    refuseSameDatabaseTwice(snapshots.map((snapshot, index) => ({ name: sources[index]!.name, identity: snapshot.identity, server: snapshot.server })));
    // The contract, for every source, before the header: a source with the wrong columns never writes a byte.
    plans = (snapshots as SharedSnapshot[]).map((snapshot) => planColumns(snapshot.columns));
    const disagreement = typeDisagreement(snapshots.map((snapshot) => ({ database: snapshot.server, columns: snapshot.columns.map((column) => ({ name: column.name, type: typeNameOf(column) })) })));
    if (disagreement !== undefined) throw new ReportContractViolated(disagreement, { phase: 'extract' });
    await mkdir(config.report.spillDir, { recursive: true });
    // Outside Kubernetes' emptyDir (the default is TMPDIR), nothing else would ever remove them.
    await removeStaleSpills(config.report.spillDir, config.report.statementTimeoutMs + STALE_SPILL_MARGIN_MS);
  } catch (error) {
    await endSnapshots();
    throw error;
  }

  const segments: SegmentPlan[] = snapshots.flatMap((snapshot, source) => snapshot.shards.map((window) => ({ source, window, rows: 0, bytes: 0 })));
  const merge = new OrderedMerge(
    {
      segments: segments.length,
      workers,
      // One worker runs only the oldest segment, so it never spills (several sources at REPORT_PARALLELISM=1).
      lookAhead: workers === 1 ? 1 : LOOK_AHEAD_PER_WORKER * workers,
      spillDir: config.report.spillDir,
      spillName: `daily-report-${input.runId}`,
      signal,
      onDelivered: (index, bytes) => (segments[index]!.bytes = bytes),
    },
    (index, segmentSignal) => segmentRecords(snapshots[segments[index]!.source]!, segments[index]!, plans[segments[index]!.source]!, config, segmentSignal),
  );
  // Sessions of segments still running report their rows as they go.
  const live = new Map<SegmentPlan, { readonly rows: number }>();

  async function* segmentRecords(snapshot: SharedSnapshot, segment: SegmentPlan, plan: PlannedColumn[], cfg: Config, segmentSignal: AbortSignal): AsyncGenerator<Buffer> {
    const session = await snapshot.openShard(segment.window, segmentSignal);
    live.set(segment, session);
    try {
      yield* encodeSegment(session.records(plan, cfg.csv), encoding);
    } finally {
      segment.rows = session.rows;
      live.delete(segment);
      await session.close();
    }
  }

  let closed: Promise<void> | undefined;
  return {
    servers: snapshots.map((snapshot) => snapshot.server),
    segmentCount: segments.length,
    get rows() {
      let rows = 0;
      for (const segment of segments) rows += live.get(segment)?.rows ?? segment.rows;
      return rows;
    },
    async *body() {
      yield* encodeSegment(oneChunk(Buffer.from(csvHeader(config.csv), 'utf8')), encoding);
      yield* merge.body() as AsyncIterable<Buffer>;
    },
    manifestSegments: () =>
      segments.map((segment) => ({
        source: sources[segment.source]!.name,
        window_start: formatInstantText(segment.window.start, config.report.timezone),
        window_end: formatInstantText(segment.window.end, config.report.timezone),
        rows: segment.rows,
        bytes: segment.bytes,
      })),
    manifestSources: () =>
      snapshots.map((snapshot, index) => ({
        name: sources[index]!.name,
        server: snapshot.server,
        snapshot_instant: snapshot.instant,
        rows: segments.filter((segment) => segment.source === index).reduce((sum, segment) => sum + segment.rows, 0),
      })),
    close: () =>
      (closed ??= (async () => {
        await merge.close();
        await endSnapshots();
      })()),
  };
}


function extractionTimedOut(ms: number): TransientFailure {
  return new TransientFailure(`the extraction took longer than REPORT_STATEMENT_TIMEOUT=${formatDuration(ms)}, which bounds the whole extraction: every worker was cancelled (raise REPORT_STATEMENT_TIMEOUT, or REPORT_PARALLELISM)`, {
    phase: 'extract',
    context: { statement_timeout_ms: ms },
  });
}

async function* oneChunk(chunk: Buffer): AsyncGenerator<Buffer> {
  yield chunk;
}
