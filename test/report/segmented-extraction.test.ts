import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/config.ts';
import { REPORT_COLUMNS, type ResultColumn } from '../../src/csv/report-contract.ts';
import { AccessWasDenied, ReportContractViolated, TransientFailure } from '../../src/errors.ts';
import type { ReportSession, ReportSource, SharedSnapshot, SubWindow } from '../../src/extract/report-source.ts';
import { loadConfig } from '../../src/loader/load-config.ts';
import { reportQuery } from '../../src/report/report-query.ts';
import { reportWindow } from '../../src/report/report-window.ts';
import { openSegmentedExtraction } from '../../src/report/segmented-extraction.ts';

/**
 * How a report is assembled from several sources' shards, against sources of our own making (no
 * database): the order of the bytes, the manifest's segments and sources, what is refused before
 * any byte, what is closed, and the bound REPORT_STATEMENT_TIMEOUT puts on the whole extraction.
 */

const CONTRACT: ResultColumn[] = [
  { name: 'data_extracao', dataTypeID: 1184 },
  { name: 'nome_usuario', dataTypeID: 25, typeCategory: 'S' },
  { name: 'id_transacao', dataTypeID: 20 },
  { name: 'valor_transacao', dataTypeID: 1700 },
  { name: 'status_transacao', dataTypeID: 1043, typeCategory: 'S' },
];

interface FakeOptions {
  readonly columns?: ResultColumn[];
  readonly failOpen?: unknown;
  /** Shard records never end until the signal aborts. */
  readonly endless?: boolean;
}

/** A source whose window is cut into `shards` pieces, each yielding one record naming its source and piece. */
function fakeSource(name: string, options: FakeOptions = {}) {
  const seen = { shardsAsked: 0, opened: 0, closedSessions: 0, closed: false };
  const source: ReportSource = {
    label: `${name}:5432/app`,
    open: () => Promise.reject(new Error('the segmented path never opens a single stream')),
    async openShared(query, { shards }, signal): Promise<SharedSnapshot> {
      seen.shardsAsked = shards;
      if (options.failOpen) throw options.failOpen;
      const start = Date.parse(String(query.values.window_start).replace(/(\.\d+)?([+-]\d\d:\d\d)$/, '$2'));
      const end = Date.parse(String(query.values.window_end).replace(/(\.\d+)?([+-]\d\d:\d\d)$/, '$2'));
      const windows: SubWindow[] = Array.from({ length: shards }, (_, i) => ({
        start: new Date(start + ((end - start) * i) / shards).toISOString(),
        end: new Date(start + ((end - start) * (i + 1)) / shards).toISOString(),
      }));
      return {
        columns: options.columns ?? CONTRACT,
        snapshotId: '00000003-0000001B-1',
        instant: '2024-10-05T04:00:00.000000-03:00',
        server: `${name}:5432/app`,
        identity: `${name}/app`,
        shards: windows,
        async openShard(window, shardSignal): Promise<ReportSession> {
          seen.opened++;
          let rows = 0;
          return {
            columns: options.columns ?? CONTRACT,
            get rows() {
              return rows;
            },
            async *records() {
              if (options.endless) {
                for (;;) {
                  await new Promise((resolve) => setTimeout(resolve, 5));
                  if (shardSignal.aborted || signal.aborted) throw new TransientFailure('cancelled', { phase: 'extract' });
                }
              }
              rows = 2;
              yield Buffer.from(`${name} ${windows.indexOf(window)} a\r\n${name} ${windows.indexOf(window)} b\r\n`);
            },
            async close() {
              seen.closedSessions++;
            },
          };
        },
        async close() {
          seen.closed = true;
        },
      };
    },
  };
  return { source, seen };
}

async function config(env: Record<string, string> = {}): Promise<Config> {
  const spill = await mkdtemp(join(tmpdir(), 'segmented-'));
  return loadConfig({ PGDATABASE: 'app', PGUSER: 'r', REPORT_TIMEZONE: 'America/Sao_Paulo', REPORT_DATE: '2024-10-05', REPORT_SPILL_DIR: spill, ...env }, { now: new Date('2024-10-05T15:00:00Z') });
}

async function text(body: AsyncIterable<Buffer>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of body) parts.push(chunk);
  return Buffer.concat(parts).toString('utf8');
}

function queryOf(cfg: Config) {
  return reportQuery(cfg, reportWindow('2024-10-05', 'America/Sao_Paulo'), '2024-10-05T04:00:00.000-03:00');
}

describe('a report assembled from segments', () => {
  it('is one header, then every shard of the first source, then every shard of the second, with a manifest of both', async () => {
    const cfg = await config({ REPORT_PARALLELISM: '3' });
    const north = fakeSource('north');
    const south = fakeSource('south');
    const extraction = await openSegmentedExtraction({ config: cfg, sources: [{ name: 'north', source: north.source }, { name: 'south', source: south.source }], query: queryOf(cfg), runId: 'r1', signal: new AbortController().signal });

    const body = await text(extraction.body());
    await extraction.close();

    // 4 shards per worker, per source.
    expect(north.seen.shardsAsked).toBe(12);
    const lines = body.split('\r\n').filter(Boolean);
    expect(lines[0]).toBe(REPORT_COLUMNS.join(','));
    const expected = ['north', 'south'].flatMap((name) => Array.from({ length: 12 }, (_, i) => [`${name} ${i} a`, `${name} ${i} b`]).flat());
    expect(lines.slice(1)).toEqual(expected);
    expect(extraction.rows).toBe(48);
    const segments = extraction.manifestSegments();
    expect(segments.map((s) => s.source)).toEqual([...Array(12).fill('north'), ...Array(12).fill('south')]);
    segments.forEach((s, i) => expect([s.rows, s.bytes]).toEqual([2, Buffer.byteLength(`${s.source} ${i % 12} a\r\n${s.source} ${i % 12} b\r\n`)]));
    expect(extraction.manifestSources()).toEqual([
      { name: 'north', server: 'north:5432/app', snapshot_instant: '2024-10-05T04:00:00.000000-03:00', rows: 24 },
      { name: 'south', server: 'south:5432/app', snapshot_instant: '2024-10-05T04:00:00.000000-03:00', rows: 24 },
    ]);
    expect([north.seen, south.seen].map((s) => [s.opened, s.closedSessions, s.closed])).toEqual([[12, 12, true], [12, 12, true]]);
  });

  it('asks one shard per source with one worker (several sources, any query)', async () => {
    const cfg = await config();
    const a = fakeSource('a');
    const extraction = await openSegmentedExtraction({ config: cfg, sources: [{ name: 'a', source: a.source }, { name: 'b', source: fakeSource('b').source }], query: queryOf(cfg), runId: 'r2', signal: new AbortController().signal });
    expect(await text(extraction.body())).toBe(`${REPORT_COLUMNS.join(',')}\r\na 0 a\r\na 0 b\r\nb 0 a\r\nb 0 b\r\n`);
    await extraction.close();
    expect(a.seen.shardsAsked).toBe(1);
  });

  it('refuses a source whose columns break the contract before any shard runs, and ends every snapshot', async () => {
    const cfg = await config({ REPORT_PARALLELISM: '2' });
    const good = fakeSource('good');
    const bad = fakeSource('bad', { columns: CONTRACT.slice(1) });
    const opening = openSegmentedExtraction({ config: cfg, sources: [{ name: 'good', source: good.source }, { name: 'bad', source: bad.source }], query: queryOf(cfg), runId: 'r3', signal: new AbortController().signal });
    await expect(opening).rejects.toBeInstanceOf(ReportContractViolated);
    expect([good.seen.opened, bad.seen.opened]).toEqual([0, 0]);
    expect([good.seen.closed, bad.seen.closed]).toEqual([true, true]);
  });

  it('when one source cannot be opened, reports its error and ends the snapshots of the others', async () => {
    const cfg = await config({ REPORT_PARALLELISM: '2' });
    const good = fakeSource('good');
    const denied = new AccessWasDenied('user "r" lacks a privilege on south', { phase: 'connect' });
    const opening = openSegmentedExtraction({ config: cfg, sources: [{ name: 'good', source: good.source }, { name: 'south', source: fakeSource('south', { failOpen: denied }).source }], query: queryOf(cfg), runId: 'r4', signal: new AbortController().signal });
    await expect(opening).rejects.toBe(denied);
    expect(good.seen.closed).toBe(true);
  });

  it('bounds the whole extraction by REPORT_STATEMENT_TIMEOUT: past it every worker is cancelled, the error says so and no spill file is left', async () => {
    const cfg = await config({ REPORT_PARALLELISM: '2', REPORT_STATEMENT_TIMEOUT: '200ms' });
    const slow = fakeSource('slow', { endless: true });
    const extraction = await openSegmentedExtraction({ config: cfg, sources: [{ name: 'slow', source: slow.source }], query: queryOf(cfg), runId: 'r5', signal: new AbortController().signal });
    const failure = await text(extraction.body()).then(() => undefined, (e: unknown) => e);
    await extraction.close();
    expect(failure).toBeInstanceOf(TransientFailure);
    expect((failure as Error).message).toMatch(/longer than REPORT_STATEMENT_TIMEOUT=200ms/);
    expect(slow.seen.closedSessions).toBe(slow.seen.opened);
    expect(await readdir(cfg.report.spillDir)).toEqual([]);
  });
});
