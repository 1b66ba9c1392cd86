import { describe, expect, it } from 'vitest';
import { datesBetween, futureDates, reportDateProblems } from '../../src/ops/date-range.ts';
import { rerunJobName } from '../../src/ops/rerun-job.ts';

describe('report dates on the command line', () => {
  it('a range includes both ends, in order, across month and leap-day boundaries', () => {
    expect(datesBetween('2024-02-28', '2024-03-01', 31, false)).toEqual({ dates: ['2024-02-28', '2024-02-29', '2024-03-01'], problems: [] });
    expect(datesBetween('2024-10-05', '2024-10-05', 31, false).dates).toEqual(['2024-10-05']);
  });

  it('refuses reversed ranges, impossible dates and, without --yes, ranges over --max-days', () => {
    expect(datesBetween('2024-10-09', '2024-10-01', 31, false).problems).toEqual(['--from 2024-10-09 is after --to 2024-10-01: swap them']);
    expect(datesBetween('2023-02-29', '2023-03-01', 31, false).problems[0]).toMatch(/^--from: must be a calendar date/);
    expect(datesBetween('2024-01-01', '2024-02-01', 31, false).problems[0]).toMatch(/32 days, more than --max-days 31/);
    expect(datesBetween('2024-01-01', '2024-02-01', 31, true).problems).toEqual([]);
    expect(reportDateProblems('--date', '05/10/2024')[0]).toMatch(/YYYY-MM-DD/);
  });

  it('"in the future" depends on the time zone of the schedule', () => {
    // 2024-10-05 01:30 UTC is still 2024-10-04 in São Paulo (UTC-3).
    const now = new Date('2024-10-05T01:30:00Z');
    expect(futureDates(['2024-10-04', '2024-10-05'], 'America/Sao_Paulo', now)).toEqual(['2024-10-05']);
    expect(futureDates(['2024-10-04', '2024-10-05'], 'Etc/UTC', now)).toEqual([]);
  });

  it('Job names stay within 63 characters, end in the date and a random suffix, never with a dangling hyphen', () => {
    expect(rerunJobName('daily-report', '2024-10-05', 'ab1cd')).toBe('daily-report-20241005-ab1cd');
    const long = rerunJobName(`${'x'.repeat(47)}-${'y'.repeat(10)}`, '2024-10-05', 'ab1cd');
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).toBe(`${'x'.repeat(47)}-20241005-ab1cd`);
  });
});
