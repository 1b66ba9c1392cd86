import { describe, expect, it } from 'vitest';
import { withLiteralValues } from '../../src/extract/named-parameters.ts';
import { equalWidthBoundaries, formatMicros, instantMicros, shardFractions, tileWindow } from '../../src/extract/shard-plan.ts';
import type { SubWindow } from '../../src/extract/report-source.ts';
import { reportWindow } from '../../src/report/report-window.ts';
import { seededRandom } from '../support/seeded-random.ts';

const SEED = Number(process.env.PROPERTY_SEED ?? 18);

const random = seededRandom;

/** Days whose window is not 24 hours, and zones with odd offsets. */
const CASES: [string, string][] = [
  ['2024-10-05', 'America/Sao_Paulo'],
  ['2024-03-11', 'America/New_York'], // 23 h: DST starts on the 10th
  ['2024-11-04', 'America/New_York'], // 25 h
  ['2024-03-31', 'Europe/London'],
  ['2024-10-28', 'Europe/Berlin'],
  ['2024-10-07', 'Australia/Lord_Howe'], // a 30-minute DST shift
  ['2024-04-07', 'Asia/Kathmandu'], // +05:45
  ['2012-01-01', 'Pacific/Apia'], // +14:00, the day after the one Samoa skipped
  ['2025-01-01', 'UTC'],
];

function expectTiling(window: SubWindow, tiles: readonly SubWindow[]): void {
  expect(tiles[0]!.start).toBe(window.start);
  expect(tiles.at(-1)!.end).toBe(window.end);
  for (const [i, tile] of tiles.entries()) {
    expect(instantMicros(tile.start) < instantMicros(tile.end), `tile ${i} is empty: ${JSON.stringify(tile)}`).toBe(true);
    if (i > 0) expect(tile.start).toBe(tiles[i - 1]!.end);
    // Each end is a value the query accepts for :window_start/:window_end.
    expect(() => withLiteralValues(':window_start :window_end', { window_start: tile.start, window_end: tile.end, report_date: '2024-01-01', extracted_at: tile.start })).not.toThrow();
  }
}

describe('shard sub-windows tile the window exactly', () => {
  it('reads and writes instants to the microsecond, whatever the offset', () => {
    expect(instantMicros('1970-01-01T00:00:00Z')).toBe(0n);
    expect(instantMicros('2024-10-04T00:00:00.000-03:00')).toBe(instantMicros('2024-10-04T03:00:00Z'));
    expect(instantMicros('2024-04-07T05:45:00.000001+05:45')).toBe(instantMicros('2024-04-07T00:00:00Z') + 1n);
    expect(instantMicros('1890-01-01T00:00:00-03:06:28')).toBe(instantMicros('1890-01-01T03:06:28Z'));
    expect(instantMicros('0050-01-01T00:00:00Z')).toBeLessThan(instantMicros('1950-01-01T00:00:00Z'));
    expect(formatMicros(instantMicros('2024-10-04T00:00:00.5-03:00'))).toBe('2024-10-04T03:00:00.500000Z');
    expect(formatMicros(-1n)).toBe('1969-12-31T23:59:59.999999Z');
    expect(() => instantMicros('2024-10-04 00:00')).toThrow(RangeError);
  });

  it.each(CASES)('equal-width shards of the report window of %s in %s, for 1 to 40 shards', (date, zone) => {
    const window = reportWindow(date, zone);
    for (let shards = 1; shards <= 40; shards++) {
      const tiles = tileWindow(window, equalWidthBoundaries(window, shards));
      expectTiling(window, tiles);
      expect(tiles).toHaveLength(shards);
      const lengths = tiles.map((tile) => instantMicros(tile.end) - instantMicros(tile.start));
      expect(lengths.reduce((a, b) => a + b)).toBe(instantMicros(window.end) - instantMicros(window.start));
      expect(Number(lengths.reduce((a, b) => (a > b ? a : b)) - lengths.reduce((a, b) => (a < b ? a : b)))).toBeLessThanOrEqual(1);
    }
  });

  it(`percentile boundaries that repeat, fall outside the window, on its ends or out of order collapse into fewer, never empty or overlapping, tiles (seed ${SEED})`, () => {
    const next = random(SEED);
    for (let round = 0; round < 500; round++) {
      const [date, zone] = CASES[round % CASES.length]!;
      const window = reportWindow(date, zone);
      const start = instantMicros(window.start);
      const length = instantMicros(window.end) - start;
      // Values as percentile_disc returns them: actual rows' values, often the same one many times.
      const values = Array.from({ length: 1 + Math.floor(next() * 5) }, () => start + BigInt(Math.floor(next() * Number(length))));
      const boundaries = Array.from({ length: Math.floor(next() * 30) }, () => {
        const roll = next();
        if (roll < 0.1) return window.start;
        if (roll < 0.15) return window.end;
        if (roll < 0.2) return formatMicros(start - 1n - BigInt(Math.floor(next() * 1e9)));
        const value = values[Math.floor(next() * values.length)]!;
        return next() < 0.5 ? formatMicros(value) : offsetForm(value, zone === 'Asia/Kathmandu' ? '+05:45' : '-03:00');
      });
      const tiles = tileWindow(window, boundaries);
      expectTiling(window, tiles);
      const inside = new Set(boundaries.map(instantMicros).filter((at) => at > start && at < start + length));
      expect(tiles).toHaveLength(inside.size + 1);
    }
  });

  it('a window with no rows (no percentiles) is one tile, and so is the empty window of a day the zone skipped', () => {
    const window = reportWindow('2024-10-05', 'America/Sao_Paulo');
    expect(tileWindow(window, [])).toEqual([{ start: window.start, end: window.end }]);
    const skipped = reportWindow('2011-12-31', 'Pacific/Apia'); // 2011-12-30 never happened in Samoa
    expect(instantMicros(skipped.start)).toBe(instantMicros(skipped.end));
    expect(tileWindow(skipped, equalWidthBoundaries(skipped, 8))).toEqual([{ start: skipped.start, end: skipped.end }]);
  });

  it('asks for the percentiles 1/n … (n−1)/n', () => {
    expect(shardFractions(1)).toEqual([]);
    expect(shardFractions(4)).toEqual([0.25, 0.5, 0.75]);
  });
});

/** The instant written with another offset (the same instant, other text). */
function offsetForm(micros: bigint, offset: string): string {
  const sign = offset.startsWith('-') ? -1n : 1n;
  const [h, m] = offset.slice(1).split(':').map(BigInt) as [bigint, bigint];
  const local = formatMicros(micros + sign * (h * 3600n + m * 60n) * 1_000_000n);
  return `${local.slice(0, -1)}${offset}`;
}
