import type { CoreV1Event, V1Job, V1Pod } from '@kubernetes/client-node';
import { DateTime } from 'luxon';
import { ANNOTATIONS, WORKER_CONTAINER } from './rerun-job.ts';

/**
 * What one Job of the CronJob says about one report: read from the Job, its pods and the Events
 * the worker records on it. Pure functions over API objects, so `status` and `--wait` agree.
 */

/** Events the worker records on its Job (reason, and annotations with the facts). */
export const REPORT_EVENTS = {
  published: 'ReportPublished',
  failed: 'ReportFailed',
  annotations: { key: 'daily-report/key', rows: 'daily-report/rows', phase: 'daily-report/phase', errorClass: 'daily-report/error-class' },
} as const;

/** The CronJob controller records the scheduled time on the Jobs it creates (Kubernetes ≥ 1.28). */
const SCHEDULED_TIMESTAMP = 'batch.kubernetes.io/cronjob-scheduled-timestamp';

export type RunState = 'succeeded' | 'failed' | 'running' | 'pending';

/** One line of `daily-report status` (and its JSON output, whose keys are these). */
export interface ReportRun {
  report_date: string;
  job: string;
  trigger: 'scheduled' | 'manual';
  state: RunState;
  started_at: string | null;
  finished_at: string | null;
  rows: number | null;
  key: string | null;
  reason: string | null;
}

const conditionIs = (job: V1Job, type: string) => (job.status?.conditions ?? []).some((c) => c.type === type && c.status === 'True');

export function jobState(job: V1Job): RunState {
  if (conditionIs(job, 'Complete')) return 'succeeded';
  if (conditionIs(job, 'Failed')) return 'failed';
  if ((job.status?.active ?? 0) > 0 || job.status?.startTime) return 'running';
  return 'pending';
}

export const isFinished = (job: V1Job) => jobState(job) === 'succeeded' || jobState(job) === 'failed';

/**
 * The report date a Job publishes: the date we recorded, or REPORT_DATE on its worker; for a
 * scheduled Job, the day it was scheduled in the CronJob's time zone (the worker's default).
 */
export function reportDateOf(job: V1Job, timezone: string): string {
  const recorded = job.metadata?.annotations?.[ANNOTATIONS.reportDate];
  if (recorded) return recorded;
  const worker = job.spec?.template.spec?.containers.find((c) => c.name === WORKER_CONTAINER);
  const fromEnv = worker?.env?.find((v) => v.name === 'REPORT_DATE')?.value;
  if (fromEnv) return fromEnv;
  const scheduled = job.metadata?.annotations?.[SCHEDULED_TIMESTAMP];
  const instant = scheduled ? DateTime.fromISO(scheduled) : DateTime.fromJSDate(new Date(job.metadata?.creationTimestamp ?? Date.now()));
  return instant.setZone(timezone).toISODate()!;
}

/** The run as a row, with rows and key from the worker's Event when it recorded one. */
export function reportRun(job: V1Job, timezone: string, events: readonly CoreV1Event[]): ReportRun {
  const state = jobState(job);
  const mine = events.filter((e) => e.involvedObject.name === job.metadata?.name && e.involvedObject.kind === 'Job');
  const published = latest(mine.filter((e) => e.reason === REPORT_EVENTS.published));
  const failed = latest(mine.filter((e) => e.reason === REPORT_EVENTS.failed));
  const annotations = published?.metadata?.annotations ?? {};
  const rows = annotations[REPORT_EVENTS.annotations.rows];
  const finish = (job.status?.conditions ?? []).find((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
  return {
    report_date: reportDateOf(job, timezone),
    job: job.metadata!.name!,
    trigger: job.metadata?.annotations?.[ANNOTATIONS.instantiate] === 'manual' ? 'manual' : 'scheduled',
    state,
    started_at: iso(job.status?.startTime),
    finished_at: iso(job.status?.completionTime ?? finish?.lastTransitionTime),
    rows: rows === undefined || rows === '' || Number.isNaN(Number(rows)) ? null : Number(rows),
    key: annotations[REPORT_EVENTS.annotations.key] ?? null,
    reason: state === 'failed' ? failureReason(finish, failed) : null,
  };
}

function failureReason(condition: { reason?: string; message?: string } | undefined, event: CoreV1Event | undefined): string {
  if (event) {
    const errorClass = event.metadata?.annotations?.[REPORT_EVENTS.annotations.errorClass];
    return [errorClass, event.message].filter(Boolean).join(': ');
  }
  return [condition?.reason, condition?.message].filter(Boolean).join(': ') || 'failed';
}

/**
 * The worker's exit code from its pods: the most recent terminated state of the worker container.
 * Undefined when no pod says (deleted, or never started).
 */
export function workerExitCode(pods: readonly V1Pod[]): number | undefined {
  const terminations = pods
    .flatMap((pod) => (pod.status?.containerStatuses ?? []).filter((s) => s.name === WORKER_CONTAINER))
    .map((s) => s.state?.terminated ?? s.lastState?.terminated)
    .filter((t) => t !== undefined)
    .sort((a, b) => new Date(a.finishedAt ?? 0).getTime() - new Date(b.finishedAt ?? 0).getTime());
  return terminations.at(-1)?.exitCode;
}

function latest(events: CoreV1Event[]): CoreV1Event | undefined {
  const time = (e: CoreV1Event) => new Date(e.lastTimestamp ?? e.eventTime ?? e.metadata?.creationTimestamp ?? 0).getTime();
  return events.sort((a, b) => time(a) - time(b)).at(-1);
}

function iso(value: Date | string | undefined): string | null {
  if (value === undefined || value === null) return null;
  return new Date(value).toISOString();
}
