import { todayIn } from './report-window.ts';

/** Older than any start the CronJob would still make (startingDeadlineSeconds) plus a Job's retries. */
const OLDEST_SCHEDULE_MS = 7 * 86_400_000;
/** A schedule this far ahead of our clock is the two clocks disagreeing, not a run of the future. */
const CLOCK_SKEW_MS = 5 * 60_000;

/**
 * The report date of a run the CronJob scheduled: the day of its scheduled time in the report's
 * zone. Without it the date is today's when the attempt starts, so a retry — or a start delayed
 * within startingDeadlineSeconds — that falls after midnight would publish the next day's report,
 * and the scheduled day's would never be published.
 *
 * The CronJob controller names each Job `<cronjob>-<scheduled time in minutes since the epoch>`,
 * and the pod carries that name in its `batch.kubernetes.io/job-name` label, which the chart passes
 * as JOB_NAME (CRONJOB_NAME is the CronJob's). A Job made any other way — `kubectl create job
 * --from=cronjob/…` with a name of its own, `daily-report rerun` (which sets REPORT_DATE anyway) —
 * does not have that form, or not with a plausible time, and keeps today's date.
 */
export function scheduledReportDate(cronJob: string | undefined, job: string | undefined, timezone: string, now: Date): string | undefined {
  if (!cronJob || !job?.startsWith(`${cronJob}-`)) return undefined;
  const minutes = job.slice(cronJob.length + 1);
  if (!/^\d{1,12}$/.test(minutes)) return undefined;
  const scheduled = Number(minutes) * 60_000;
  if (scheduled < now.getTime() - OLDEST_SCHEDULE_MS || scheduled > now.getTime() + CLOCK_SKEW_MS) return undefined;
  const date = todayIn(timezone, new Date(scheduled));
  // Skew around midnight must not produce a day that has not ended.
  return date <= todayIn(timezone, now) ? date : undefined;
}
