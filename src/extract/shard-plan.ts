import type { SubWindow } from './report-source.ts';

/**
 * Sub-windows that tile a window exactly: pure arithmetic on instants, so a property test can hold
 * it to the rule (first start = the window's start, last end = its end, each end the next start,
 * none empty unless the window is) on any window, zone or set of boundaries — including a daylight-saving day and
 * percentiles that repeat when many rows share one timestamp.
 *
 * Instants are compared as microseconds since the epoch (PostgreSQL's resolution; a JavaScript
 * Date would round boundaries to milliseconds and could put two shards on one value).
 */

const INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(Z|([+-])(\d{2}):(\d{2})(?::(\d{2}))?)$/;

/** Microseconds since 1970-01-01T00:00Z of a timestamptz literal in the strict form named-parameters.ts accepts. */
export function instantMicros(text: string): bigint {
  const m = INSTANT.exec(text);
  if (!m) throw new RangeError(`not an instant in the form 2024-10-04T00:00:00.000-03:00: ${JSON.stringify(text)}`);
  const [, y, mo, d, h, mi, s, fraction = '', zone, sign, oh = '0', om = '0', os = '0'] = m;
  const date = new Date(Date.UTC(2000, Number(mo) - 1, Number(d)));
  date.setUTCFullYear(Number(y)); // Date.UTC alone reads years 0–99 as 1900–1999
  const days = BigInt(date.getTime() / 86_400_000);
  const offset = zone === 'Z' ? 0n : (sign === '-' ? -1n : 1n) * (BigInt(oh) * 3600n + BigInt(om) * 60n + BigInt(os));
  const seconds = days * 86_400n + BigInt(h!) * 3600n + BigInt(mi!) * 60n + BigInt(s!) - offset;
  return seconds * 1_000_000n + BigInt(fraction.padEnd(6, '0'));
}

/** The instant as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC, microseconds): a valid `:window_start`/`:window_end` value. */
export function formatMicros(micros: bigint): string {
  const seconds = micros / 1_000_000n - (micros % 1_000_000n < 0n ? 1n : 0n);
  const fraction = micros - seconds * 1_000_000n;
  const iso = new Date(Number(seconds) * 1000).toISOString(); // whole seconds: exact
  return `${iso.slice(0, 19)}.${String(fraction).padStart(6, '0')}Z`;
}

/**
 * The window cut at `boundaries` (any order, duplicates allowed, any offset): boundaries outside
 * the open interval (start, end) and repeats of one instant are dropped, so no tile is empty and
 * none overlaps another. The window's own texts are kept for its two ends.
 */
export function tileWindow(window: SubWindow, boundaries: readonly string[]): SubWindow[] {
  const start = instantMicros(window.start);
  const end = instantMicros(window.end);
  // A day a zone skipped (Samoa's 2011-12-30) has an empty window: one empty shard, as the single stream reads it.
  if (end <= start) return [{ start: window.start, end: window.end }];
  const cuts = new Map<bigint, string>();
  for (const text of boundaries) {
    const at = instantMicros(text);
    if (at > start && at < end && !cuts.has(at)) cuts.set(at, formatMicros(at));
  }
  const inner = [...cuts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, text]) => text);
  const edges = [window.start, ...inner, window.end];
  return edges.slice(1).map((edgeEnd, i) => ({ start: edges[i]!, end: edgeEnd }));
}

/** `shards` − 1 boundaries that cut the window into equal lengths of time (to the microsecond). */
export function equalWidthBoundaries(window: SubWindow, shards: number): string[] {
  const start = instantMicros(window.start);
  const length = instantMicros(window.end) - start;
  return Array.from({ length: Math.max(0, shards - 1) }, (_, i) => formatMicros(start + (length * BigInt(i + 1)) / BigInt(shards)));
}

/** The fractions 1/n … (n−1)/n whose percentiles cut a window into n shards of similar row counts. */
export function shardFractions(shards: number): number[] {
  return Array.from({ length: Math.max(0, shards - 1) }, (_, i) => (i + 1) / shards);
}
