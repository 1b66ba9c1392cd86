import { describe, expect, it } from 'vitest';
import { formatInstant, isReportDate, reportWindow, todayIn } from '../../src/report/report-window.ts';

const hours = (w: { start: string; end: string }) => (Date.parse(w.end) - Date.parse(w.start)) / 3_600_000;

describe('report window', () => {
  it('covers the previous full day in the report zone', () => {
    const w = reportWindow('2024-10-05', 'America/Sao_Paulo');
    expect(w).toEqual({
      reportDate: '2024-10-05',
      timezone: 'America/Sao_Paulo',
      start: '2024-10-04T00:00:00.000-03:00',
      end: '2024-10-05T00:00:00.000-03:00',
    });
  });

  it('is 23 hours long on the day clocks spring forward, and 25 when they fall back', () => {
    // Europe/Berlin: 2024-03-31 02:00 → 03:00, 2024-10-27 03:00 → 02:00.
    const spring = reportWindow('2024-04-01', 'Europe/Berlin');
    expect(spring.start).toBe('2024-03-31T00:00:00.000+01:00');
    expect(spring.end).toBe('2024-04-01T00:00:00.000+02:00');
    expect(hours(spring)).toBe(23);
    const autumn = reportWindow('2024-10-28', 'Europe/Berlin');
    expect(autumn.start).toBe('2024-10-27T00:00:00.000+02:00');
    expect(autumn.end).toBe('2024-10-28T00:00:00.000+01:00');
    expect(hours(autumn)).toBe(25);
  });

  it('starts the day at 01:00 where midnight did not exist (Brazil, 2018-11-04)', () => {
    const w = reportWindow('2018-11-05', 'America/Sao_Paulo');
    expect(w.start).toBe('2018-11-04T01:00:00.000-02:00');
    expect(w.end).toBe('2018-11-05T00:00:00.000-02:00');
    expect(hours(w)).toBe(23);
  });

  it('gives the same window for a rerun on any later day', () => {
    expect(reportWindow('2024-01-31', 'UTC')).toEqual(reportWindow('2024-01-31', 'UTC'));
    expect(reportWindow('2024-03-01', 'UTC').start).toBe('2024-02-29T00:00:00.000+00:00');
  });

  it("takes today's date in the report zone, not in UTC", () => {
    const instant = new Date('2024-10-05T02:30:00Z'); // 23:30 on the 4th in São Paulo
    expect(todayIn('America/Sao_Paulo', instant)).toBe('2024-10-04');
    expect(todayIn('UTC', instant)).toBe('2024-10-05');
  });

  it('writes instants with a ±HH:MM offset, never Z', () => {
    expect(formatInstant(new Date('2024-10-05T04:00:03Z'), 'America/Sao_Paulo')).toBe('2024-10-05T01:00:03.000-03:00');
    expect(formatInstant(new Date('2024-10-05T04:00:03Z'), 'UTC')).toBe('2024-10-05T04:00:03.000+00:00');
  });

  it('accepts only real calendar dates', () => {
    expect(isReportDate('2024-02-29')).toBe(true);
    for (const bad of ['2023-02-29', '2024-13-01', '20241005', '2024-1-5', 'yesterday']) expect(isReportDate(bad)).toBe(false);
  });
});
