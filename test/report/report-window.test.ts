import { describe, expect, it } from 'vitest';
import { formatInstant, isReportDate, isTimezone, processTimezoneProblem, reportWindow, todayIn } from '../../src/report/report-window.ts';
import { localTime, offsetAt, utcSeconds } from '../../src/report/time-zone.ts';

const hours = (w: { start: string; end: string }) => (Date.parse(w.end) - Date.parse(w.start)) / 3_600_000;

describe('report window', () => {
  it('covers the previous full day in the report zone', () => {
    const w = reportWindow('2024-10-05', 'America/Sao_Paulo');
    expect(w).toEqual({
      reportDate: '2024-10-05',
      timezone: 'America/Sao_Paulo',
      start: '2024-10-04T00:00:00.000000-03:00',
      end: '2024-10-05T00:00:00.000000-03:00',
    });
  });

  it('is 23 hours long on the day clocks spring forward, and 25 when they fall back', () => {
    // Europe/Berlin: 2024-03-31 02:00 → 03:00, 2024-10-27 03:00 → 02:00.
    const spring = reportWindow('2024-04-01', 'Europe/Berlin');
    expect(spring.start).toBe('2024-03-31T00:00:00.000000+01:00');
    expect(spring.end).toBe('2024-04-01T00:00:00.000000+02:00');
    expect(hours(spring)).toBe(23);
    const autumn = reportWindow('2024-10-28', 'Europe/Berlin');
    expect(autumn.start).toBe('2024-10-27T00:00:00.000000+02:00');
    expect(autumn.end).toBe('2024-10-28T00:00:00.000000+01:00');
    expect(hours(autumn)).toBe(25);
  });

  it('starts the day at 01:00 where midnight did not exist (Brazil, 2018-11-04)', () => {
    const w = reportWindow('2018-11-05', 'America/Sao_Paulo');
    expect(w.start).toBe('2018-11-04T01:00:00.000000-02:00');
    expect(w.end).toBe('2018-11-05T00:00:00.000000-02:00');
    expect(hours(w)).toBe(23);
  });

  it('gives the same window for a rerun on any later day', () => {
    expect(reportWindow('2024-01-31', 'UTC')).toEqual(reportWindow('2024-01-31', 'UTC'));
    expect(reportWindow('2024-03-01', 'UTC').start).toBe('2024-02-29T00:00:00.000000+00:00');
  });

  it("takes today's date in the report zone, not in UTC", () => {
    const instant = new Date('2024-10-05T02:30:00Z'); // 23:30 on the 4th in São Paulo
    expect(todayIn('America/Sao_Paulo', instant)).toBe('2024-10-04');
    expect(todayIn('UTC', instant)).toBe('2024-10-05');
  });

  it('writes instants with a ±HH:MM offset, never Z', () => {
    expect(formatInstant(new Date('2024-10-05T04:00:03Z'), 'America/Sao_Paulo')).toBe('2024-10-05T01:00:03.000000-03:00');
    expect(formatInstant(new Date('2024-10-05T04:00:03Z'), 'UTC')).toBe('2024-10-05T04:00:03.000000+00:00');
  });

  it('accepts only real calendar dates', () => {
    expect(isReportDate('2024-02-29')).toBe(true);
    for (const bad of ['2023-02-29', '2024-13-01', '20241005', '2024-1-5', 'yesterday']) expect(isReportDate(bad)).toBe(false);
  });

  it('accepts report dates from 0001-01-02 to 9999-12-31: every instant of their windows has a year the contract can write', () => {
    for (const good of ['0001-01-02', '1200-02-29', '9999-12-31']) expect(isReportDate(good)).toBe(true);
    for (const bad of ['0000-01-01', '0001-01-01', '0000-02-29']) expect(isReportDate(bad)).toBe(false);
    expect(reportWindow('0001-01-02', 'America/Sao_Paulo').start).toBe('0001-01-01T00:00:00.000000-03:06:28');
    expect(reportWindow('9999-12-31', 'Pacific/Kiritimati').end).toBe('9999-12-31T00:00:00.000000+14:00');
    expect(() => reportWindow('0001-01-01', 'UTC')).toThrow(RangeError);
  });

  it('writes every instant with microseconds, so the width never changes from one run to the next', () => {
    expect(formatInstant(new Date('2024-10-05T04:00:07.97Z'), 'America/Sao_Paulo')).toBe('2024-10-05T01:00:07.970000-03:00');
    expect(formatInstant(new Date('2024-10-05T04:00:07Z'), 'America/Sao_Paulo')).toBe('2024-10-05T01:00:07.000000-03:00');
    expect(formatInstant(new Date('2024-10-05T04:00:07.001Z'), 'Asia/Kathmandu')).toBe('2024-10-05T09:45:07.001000+05:45');
  });

  it('uses and writes offsets with seconds exactly (São Paulo local mean time, before 1914)', () => {
    const w = reportWindow('1913-06-02', 'America/Sao_Paulo');
    expect(w.start).toBe('1913-06-01T00:00:00.000000-03:06:28');
    expect(instant(w.start)).toBe(utcSeconds({ year: 1913, month: 6, day: 1, hour: 3, minute: 6, second: 28 }));
    // The day LMT ended: the clocks went from 23:59:59 LMT to 00:06:28 −03:00.
    expect(reportWindow('1914-01-02', 'America/Sao_Paulo').start).toBe('1914-01-01T00:06:28.000000-03:00');
  });

  it('gives a day that does not exist in the zone an empty window, and the day before a whole one (Pacific/Apia, 2011-12-30)', () => {
    const before = reportWindow('2011-12-30', 'Pacific/Apia');
    const skipped = reportWindow('2011-12-31', 'Pacific/Apia');
    const after = reportWindow('2012-01-01', 'Pacific/Apia');
    expect(before).toMatchObject({ start: '2011-12-29T00:00:00.000000-10:00', end: '2011-12-31T00:00:00.000000+14:00' });
    expect(hours(before)).toBe(24);
    expect(skipped).toMatchObject({ start: '2011-12-31T00:00:00.000000+14:00', end: '2011-12-31T00:00:00.000000+14:00' });
    expect(after).toMatchObject({ start: '2011-12-31T00:00:00.000000+14:00', end: '2012-01-01T00:00:00.000000+14:00' });
  });

  it('accepts only IANA zone names: offsets and POSIX rules are refused', () => {
    for (const good of ['UTC', 'America/Sao_Paulo', 'Asia/Kolkata', 'Etc/GMT+3', 'US/Eastern']) expect(isTimezone(good), good).toBe(true);
    for (const bad of ['-03:00', '+05:30', 'GMT+3', 'UTC-3', 'EST5EDT,M3.2.0,M11.1.0', 'Etc/Unknown', '', 'Mars/Olympus']) expect(isTimezone(bad), bad).toBe(false);
  });

  it('refuses a process zone that is not an IANA name when REPORT_TIMEZONE is not set, naming it', () => {
    expect(processTimezoneProblem({ TZ: 'GMT+3' })).toMatch(/TZ="GMT\+3" is not an IANA time zone name.*REPORT_TIMEZONE=America\/Sao_Paulo/);
    expect(processTimezoneProblem({ TZ: '' })).toMatch(/TZ is set but empty/);
    expect(processTimezoneProblem({ TZ: 'America/Sao_Paulo' })).toBeUndefined();
    expect(processTimezoneProblem({ TZ: ':Europe/Berlin' })).toBeUndefined();
  });
});

/** Epoch seconds of a timestamp in the contract's form (offsets with seconds included). */
function instant(text: string): number {
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{6})([+-])(\d\d):(\d\d)(?::(\d\d))?$/.exec(text);
  if (!m) throw new Error(`not in the contract's form: ${text}`);
  const offset = (m[8] === '-' ? -1 : 1) * (+m[9]! * 3600 + +m[10]! * 60 + +(m[11] ?? 0));
  return utcSeconds({ year: +m[1]!, month: +m[2]!, day: +m[3]!, hour: +m[4]!, minute: +m[5]!, second: +m[6]! }) - offset;
}

const isoDate = (t: { year: number; month: number; day: number }) => `${String(t.year).padStart(4, '0')}-${String(t.month).padStart(2, '0')}-${String(t.day).padStart(2, '0')}`;
const nextDay = (date: string) => new Date(Date.parse(`${date}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);

describe('report windows across every zone transition in the IANA data (1900–2037)', () => {
  // The cases come from the zone data: every offset change seen by sampling each zone every 30
  // days (a change undone within 30 days would be missed), bisected to the second.
  const FROM = utcSeconds({ year: 1900, month: 1, day: 1 });
  const TO = utcSeconds({ year: 2038, month: 1, day: 1 });
  const STEP = 30 * 86_400;

  function transitions(zone: string): number[] {
    const found: number[] = [];
    let previous = offsetAt(FROM, zone);
    for (let t = FROM + STEP; t <= TO; t += STEP) {
      const offset = offsetAt(t, zone);
      if (offset !== previous) {
        let [lo, hi] = [t - STEP, t];
        while (hi - lo > 1) {
          const mid = Math.floor((lo + hi) / 2);
          if (offsetAt(mid, zone) === offset) hi = mid;
          else lo = mid;
        }
        found.push(hi);
      }
      previous = offset;
    }
    return found;
  }

  it('tiles the timeline: window_end(D) = window_start(D+1), and each window starts at the first instant of its day', { timeout: 120_000 }, () => {
    const zones = [...Intl.supportedValuesOf('timeZone'), 'UTC'];
    const failures: string[] = [];
    let cases = 0;
    for (const zone of zones) {
      for (const at of transitions(zone)) {
        // The report dates whose windows hold the transition or touch it.
        const d = nextDay(isoDate(localTime(at, zone)));
        const [w1, w2] = [reportWindow(d, zone), reportWindow(nextDay(d), zone)];
        cases++;
        if (w1.end !== w2.start) failures.push(`${zone} ${d}: window_end ${w1.end} ≠ next window_start ${w2.start}`);
        for (const w of [w1, w2]) {
          const start = instant(w.start);
          const previousDay = new Date(Date.parse(`${w.reportDate}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
          if (isoDate(localTime(start, zone)) < previousDay) failures.push(`${zone} ${w.reportDate}: starts at ${w.start}, before ${previousDay}`);
          if (isoDate(localTime(start - 1, zone)) >= previousDay) failures.push(`${zone} ${w.reportDate}: ${w.start} is not the first instant of ${previousDay}`);
          if (instant(w.end) < start) failures.push(`${zone} ${w.reportDate}: ends before it starts`);
        }
      }
    }
    expect(cases).toBeGreaterThan(20_000);
    expect(failures).toEqual([]);
  });
});
