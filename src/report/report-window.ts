import { instantMicros } from '../extract/shard-plan.ts';
import { formatWallClock } from '../csv/csv-rules.ts';
import { dayStart, isIanaTimezone, localTime, utcSeconds } from './time-zone.ts';

/**
 * The report's date and the time window it covers.
 *
 * The run for date D publishes `relatorio_D.csv` and covers the previous day in the report's
 * zone: [start(D−1), start(D)), where start(X) is the first instant whose local date is X or later
 * (time-zone.ts). Consecutive dates therefore tile the timeline: window_end(D) is
 * window_start(D+1), always, so every instant belongs to exactly one report date —
 * - days of 23 or 25 hours (daylight-saving changes) are covered exactly;
 * - where a zone's clocks jump at midnight (Brazil until 2019) the day starts at 01:00;
 * - where a day does not exist (Pacific/Apia skipped 2011-12-30) its start is the next day's:
 *   the report for 2011-12-30 covers 2011-12-29 whole, the one for 2011-12-31 is empty;
 * - offsets with seconds (local mean time) are used and written exactly (`-03:06:28`).
 * A rerun on any later day reads the same window.
 */
export interface ReportWindow {
  /** The report date, YYYY-MM-DD. */
  readonly reportDate: string;
  readonly timezone: string;
  /** Inclusive start, in the contract's timestamp form (csv-rules.ts) with the zone's offset. */
  readonly start: string;
  /** Exclusive end, in the same form. */
  readonly end: string;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * Report dates: the window starts the day before, and every instant must have a year the contract
 * can write (0001–9999), so the first report date is 0001-01-02 and the last 9999-12-31.
 */
export const FIRST_REPORT_DATE = '0001-01-02';
export const LAST_REPORT_DATE = '9999-12-31';
export const REPORT_DATE_RULE = `a calendar date YYYY-MM-DD from ${FIRST_REPORT_DATE} to ${LAST_REPORT_DATE}`;

/** True for a real calendar date written YYYY-MM-DD, within the report dates' range. */
export function isReportDate(text: string): boolean {
  const date = parseDate(text);
  return date !== undefined && text >= FIRST_REPORT_DATE && text <= LAST_REPORT_DATE;
}

/** True for an IANA time zone name (`UTC`, `America/Sao_Paulo`); offsets and POSIX rules are not. */
export function isTimezone(name: string): boolean {
  return isIanaTimezone(name);
}

/** The zone the process runs in ("server time"), used when REPORT_TIMEZONE is not set. */
export function processTimezone(env: { readonly TZ?: string | undefined } = process.env): string {
  const tz = env.TZ;
  // glibc's ":Area/City" form names a zone file; the name after the colon is the IANA name.
  return tz !== undefined && tz !== '' ? tz.replace(/^:/, '') : Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/**
 * Why the process's zone cannot be the report's (REPORT_TIMEZONE unset), or undefined when it can.
 * A POSIX `TZ` such as `GMT+3` means UTC−3 to PostgreSQL and UTC+3 to this process; an empty `TZ`
 * leaves the process in "Etc/Unknown". Either would shift the window or the written offsets.
 */
export function processTimezoneProblem(env: { readonly TZ?: string | undefined } = process.env): string | undefined {
  const advice = 'set REPORT_TIMEZONE to an IANA time zone name (example: REPORT_TIMEZONE=America/Sao_Paulo)';
  if (env.TZ === '') return `REPORT_TIMEZONE is not set and TZ is set but empty (the process's zone is then unknown): ${advice}`;
  const zone = processTimezone(env);
  if (isTimezone(zone)) return undefined;
  const source = env.TZ !== undefined ? `TZ=${JSON.stringify(env.TZ)}` : `the system's zone ${JSON.stringify(zone)}`;
  return `REPORT_TIMEZONE is not set and ${source} is not an IANA time zone name (offsets and POSIX rules like GMT+3 are read with opposite signs by PostgreSQL and by the job): ${advice}`;
}

/** Today's date in the zone, at the given instant (default: now). */
export function todayIn(timezone: string, now: Date = new Date()): string {
  const t = localTime(Math.floor(now.getTime() / 1000), timezone);
  return `${String(t.year).padStart(4, '0')}-${String(t.month).padStart(2, '0')}-${String(t.day).padStart(2, '0')}`;
}

export function reportWindow(reportDate: string, timezone: string): ReportWindow {
  const date = parseDate(reportDate);
  if (date === undefined || !isReportDate(reportDate)) throw new RangeError(`not a report date (${REPORT_DATE_RULE}): ${reportDate}`);
  const previous = new Date(utcSeconds(date) * 1000 - 86_400_000);
  const start = dayStart({ year: previous.getUTCFullYear(), month: previous.getUTCMonth() + 1, day: previous.getUTCDate() }, timezone);
  const end = dayStart(date, timezone);
  return { reportDate, timezone, start: formatSeconds(start, 0, timezone), end: formatSeconds(end, 0, timezone) };
}

/** An instant in the contract's timestamp form with the zone's offset (never `Z`); a Date has milliseconds. */
export function formatInstant(instant: Date, timezone: string): string {
  const ms = instant.getTime();
  const seconds = Math.floor(ms / 1000);
  return formatSeconds(seconds, (ms - seconds * 1000) * 1000, timezone);
}

/**
 * A strict instant literal (`…Z` or any offset, to the microsecond: shard-plan.ts) in the contract's
 * form with the zone's offset — the manifest's segment windows, planned in UTC, are written like every
 * other instant.
 */
export function formatInstantText(text: string, timezone: string): string {
  const micros = instantMicros(text);
  const seconds = micros / 1_000_000n - (micros % 1_000_000n < 0n ? 1n : 0n);
  return formatSeconds(Number(seconds), Number(micros - seconds * 1_000_000n), timezone);
}

function formatSeconds(epochSeconds: number, microsecond: number, timezone: string): string {
  return formatWallClock({ ...localTime(epochSeconds, timezone), microsecond });
}

function parseDate(text: string): { year: number; month: number; day: number } | undefined {
  const match = DATE.exec(text);
  if (!match) return undefined;
  const date = { year: +match[1]!, month: +match[2]!, day: +match[3]! };
  const check = new Date(utcSeconds(date) * 1000);
  const real = check.getUTCFullYear() === date.year && check.getUTCMonth() + 1 === date.month && check.getUTCDate() === date.day;
  return real ? date : undefined;
}
