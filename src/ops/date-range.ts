import { DateTime } from 'luxon';
import { isReportDate, REPORT_DATE_RULE } from '../report/report-window.ts';

/**
 * Report dates given on the command line. Checked before anything is contacted, except "not in the
 * future", which needs the CronJob's time zone (a report's date is a day in that zone).
 */

/** Problems with one `--date`, empty when it is a calendar date. */
export function reportDateProblems(flag: string, date: string | undefined): string[] {
  if (date === undefined) return [`${flag}: is required (example: ${flag} 2024-10-05)`];
  return isReportDate(date) ? [] : [`${flag}: must be ${REPORT_DATE_RULE} (example: ${flag} 2024-10-05) (got ${JSON.stringify(date)})`];
}

/** Every date from `from` to `to`, both included, in order; problems when the range is unusable. */
export function datesBetween(from: string, to: string, maxDays: number, force: boolean): { dates: string[]; problems: string[] } {
  const problems = [...reportDateProblems('--from', from), ...reportDateProblems('--to', to)];
  if (problems.length > 0) return { dates: [], problems };
  const start = DateTime.fromISO(from, { zone: 'utc' });
  const end = DateTime.fromISO(to, { zone: 'utc' });
  if (start > end) return { dates: [], problems: [`--from ${from} is after --to ${to}: swap them`] };
  const dates: string[] = [];
  for (let day = start; day <= end; day = day.plus({ days: 1 })) dates.push(day.toISODate()!);
  if (dates.length > maxDays && !force) {
    problems.push(`the range has ${dates.length} days, more than --max-days ${maxDays}: each day reads the production database; pass --yes to confirm, or narrow the range`);
  }
  return { dates, problems };
}

/** Dates after today in `timezone`: a report for them would cover a day that has not ended. */
export function futureDates(dates: readonly string[], timezone: string, now: Date = new Date()): string[] {
  const today = DateTime.fromJSDate(now, { zone: timezone }).toISODate()!;
  return dates.filter((date) => date > today);
}
