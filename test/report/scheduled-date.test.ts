import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/loader/load-config.ts';
import { todayIn } from '../../src/report/report-window.ts';
import { scheduledReportDate } from '../../src/report/scheduled-date.ts';
import { filesIn, summaryOf } from '../support/report-files.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { createTestDatabase } from '../support/test-database.ts';

const ZONE = 'America/Sao_Paulo';
/** The name the CronJob controller gives the Job it creates for `instant`: minutes since the epoch. */
const jobFor = (cronJob: string, instant: string) => `${cronJob}-${Date.parse(instant) / 60_000}`;
const minimal = { PGDATABASE: 'app', PGUSER: 'report_reader', REPORT_TIMEZONE: ZONE };

describe('the report date of a run the CronJob scheduled', () => {
  // Scheduled at 23:30 on 2024-10-05 in São Paulo; the retry starts at 00:40 on the 6th.
  const scheduled = '2024-10-05T23:30:00-03:00';
  const retry = new Date('2024-10-06T00:40:00-03:00');

  it('is the day it was scheduled, not the day a retry after midnight starts', () => {
    expect(scheduledReportDate('daily-report', jobFor('daily-report', scheduled), ZONE, retry)).toBe('2024-10-05');
  });

  it('is not read from a Job named any other way: a manual run, a rerun, a date-like or implausible number, another CronJob', () => {
    const now = new Date('2024-10-06T01:00:00-03:00');
    for (const job of [
      `daily-report-manual-${Math.floor(now.getTime() / 1000)}`, // NOTES' "run today's report now"
      'daily-report-20241005', // a name that looks like a date: minutes of 2008
      `daily-report-${now.getTime() / 60_000 + 60}`, // an hour ahead of our clock
      `daily-report-${now.getTime() / 60_000 - 8 * 1440}`, // more than a week old
      `other-report-${now.getTime() / 60_000}`,
      `daily-report-${now.getTime() / 60_000}x`,
      '',
    ]) {
      expect(scheduledReportDate('daily-report', job, ZONE, now), job).toBeUndefined();
    }
    expect(scheduledReportDate(undefined, jobFor('daily-report', scheduled), ZONE, retry)).toBeUndefined();
  });

  it('gives the loaded configuration its date from JOB_NAME and CRONJOB_NAME, and REPORT_DATE or --date still win', async () => {
    const env = { ...minimal, CRONJOB_NAME: 'daily-report', JOB_NAME: jobFor('daily-report', scheduled) };
    expect((await loadConfig(env, { now: retry })).report.date).toBe('2024-10-05');
    expect((await loadConfig({ ...env, REPORT_DATE: '2024-10-01' }, { now: retry })).report.date).toBe('2024-10-01');
    expect((await loadConfig(env, { now: retry, date: '2024-09-30' })).report.date).toBe('2024-09-30');
    // Without the pod's facts: today, decided when the run starts.
    expect((await loadConfig(minimal, { now: retry })).report.date).toBeUndefined();
  });

  it('daily-report run in a scheduled Job whose attempt starts a day later publishes the scheduled day', async () => {
    const db = await createTestDatabase('scheduled');
    const scheduledAt = new Date(Date.now() - 25 * 3_600_000);
    const expected = todayIn(ZONE, scheduledAt);
    expect(expected).not.toBe(todayIn(ZONE));
    const job = `daily-report-${Math.floor(scheduledAt.getTime() / 60_000)}`;
    const result = await runDailyReport(['run'], { env: { ...db.env, REPORT_TIMEZONE: ZONE, CRONJOB_NAME: 'daily-report', JOB_NAME: job } });
    expect(result.code, result.stderr).toBe(0);
    expect(summaryOf(result).report_date).toBe(expected);
    expect(await filesIn(db.outDir)).toContain(`relatorio_${expected.replaceAll('-', '')}.csv`);
  });
});
