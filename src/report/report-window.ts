import { DateTime, Info } from 'luxon';

/**
 * The report's date and the time window it covers.
 *
 * The run for date D publishes `relatorio_D.csv` and covers the previous full day in the report's
 * zone: [D−1 00:00, D 00:00). Computed from calendar days, never by subtracting 24 hours, so days
 * of 23 or 25 hours (daylight-saving changes) are covered exactly, and a rerun on any later day
 * reads the same window.
 */
export interface ReportWindow {
  /** The report date, YYYY-MM-DD. */
  readonly reportDate: string;
  readonly timezone: string;
  /** Inclusive start, ISO 8601 with the zone's offset. */
  readonly start: string;
  /** Exclusive end, ISO 8601 with the zone's offset. */
  readonly end: string;
}

const ISO_WITH_OFFSET = "yyyy-MM-dd'T'HH:mm:ss.SSSZZ";
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** True for a real calendar date written YYYY-MM-DD. */
export function isReportDate(text: string): boolean {
  const match = DATE.exec(text);
  if (!match) return false;
  return DateTime.fromObject({ year: +match[1]!, month: +match[2]!, day: +match[3]! }).isValid;
}

export function isTimezone(name: string): boolean {
  return Info.isValidIANAZone(name);
}

/** The zone the process runs in ("server time"), used when REPORT_TIMEZONE is not set. */
export function processTimezone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** Today's date in the zone, at the given instant (default: now). */
export function todayIn(timezone: string, now: Date = new Date()): string {
  return DateTime.fromJSDate(now, { zone: timezone }).toISODate()!;
}

export function reportWindow(reportDate: string, timezone: string): ReportWindow {
  if (!isReportDate(reportDate)) throw new Error(`not a date (YYYY-MM-DD): ${reportDate}`);
  // startOf('day') also handles zones whose clocks jump at midnight (Brazil until 2019):
  // the day then starts at 01:00, and that is the window's edge.
  const end = DateTime.fromISO(reportDate, { zone: timezone }).startOf('day');
  const start = end.minus({ days: 1 }).startOf('day');
  return { reportDate, timezone, start: start.toFormat(ISO_WITH_OFFSET), end: end.toFormat(ISO_WITH_OFFSET) };
}

/** An instant as ISO 8601 with the zone's ±HH:MM offset (never `Z`), to the millisecond. */
export function formatInstant(instant: Date, timezone: string): string {
  return DateTime.fromJSDate(instant, { zone: timezone }).toFormat(ISO_WITH_OFFSET);
}
