import type { AlertsConfig } from '../config/config.ts';
import { redactSecrets } from '../config/redaction.ts';
import { ExitCode, messageOf, PERMANENT_EXIT_CODES, ReportError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import { REPORT_EVENTS } from '../ops/report-run.ts';
import { SPAN } from '../telemetry/names.ts';
import { inSpan } from '../telemetry/spans.ts';
import { webhookBody, type ReportAlert } from './alert-payload.ts';
import { postWebhook } from './webhook.ts';

const WEBHOOK_TIMEOUT_MS = 10_000;

export interface RunResult {
  readonly exitCode: number;
  readonly error?: unknown;
  readonly reportDate: string | null;
  readonly key?: string | undefined;
  readonly rows?: number | undefined;
  readonly bytes?: number | undefined;
  /** Skipped runs (already published) are not news. */
  readonly skipped?: boolean;
  readonly traceId: string | null;
}

/**
 * Tells people about the report's outcome: a webhook (on a failure no retry will fix, and on
 * success with ALERT_ON_SUCCESS) and an Event on our own Job. Once per failed report, not per retry.
 * Never throws and never changes the run's exit code: a webhook or API server that is down is logged.
 */
export async function notify(result: RunResult, settings: AlertsConfig | undefined, logger: Logger): Promise<void> {
  if (settings === undefined || (settings.webhook === undefined && settings.kubernetes === undefined) || result.skipped) return;
  await inSpan(SPAN.notify, {}, async (span) => {
    const failed = result.exitCode !== ExitCode.ok;
    // The Kubernetes client is loaded only when it is used (it weighs ~70 MB of RSS).
    const kube = settings.kubernetes ? await import('./job-events.ts') : undefined;
    const ownJob = kube && settings.kubernetes ? new kube.OwnJob(settings.kubernetes.namespace, settings.kubernetes.job) : undefined;
    const job = ownJob ? await ownJob.read().catch((error: unknown) => void logger.warn({ err: error }, 'alerts: cannot read our own Job; alerting as if this were the last attempt')) : undefined;
    const { attempt, final } = kube && job && failed ? kube.isFinalAttempt(job, result.exitCode, PERMANENT_EXIT_CODES) : { attempt: 1, final: true };
    const alert = alertOf(result, attempt, final, settings.kubernetes);
    span.setAttributes({ 'daily_report.alert.event': alert.event, 'daily_report.alert.final': final, 'daily_report.alert.attempt': attempt });

    if (settings.webhook && ((failed && final) || (!failed && settings.onSuccess))) {
      const delivery = await postWebhook(settings.webhook.url, webhookBody(alert, settings.webhook.format), WEBHOOK_TIMEOUT_MS);
      span.setAttributes({ 'daily_report.alert.webhook_delivered': delivery.delivered });
      if (delivery.delivered) logger.info({ phase: 'notify', format: settings.webhook.format, attempts: delivery.attempts }, 'alert sent');
      else logger.warn({ phase: 'notify', format: settings.webhook.format, attempts: delivery.attempts, status: delivery.status, error: delivery.error }, 'alert webhook failed');
    } else if (failed && !final) {
      logger.info({ phase: 'notify', attempt }, 'not alerting: Kubernetes will retry this Job');
    }

    if (ownJob && job && (!failed || final)) {
      const annotations: Record<string, string> = failed
        ? { [REPORT_EVENTS.annotations.phase]: alert.phase ?? '', [REPORT_EVENTS.annotations.errorClass]: alert.error_class ?? '' }
        : { [REPORT_EVENTS.annotations.key]: alert.key ?? '', [REPORT_EVENTS.annotations.rows]: String(alert.rows ?? '') };
      const message = failed
        ? `report ${alert.report_date ?? '?'} failed in ${alert.phase ?? '?'} (${alert.error_class}, exit ${alert.exit_code}): ${alert.message}`
        : `published ${alert.key}: ${alert.rows} rows, ${result.bytes ?? 0} bytes`;
      await ownJob
        .recordEvent(job, failed ? REPORT_EVENTS.failed : REPORT_EVENTS.published, message, annotations)
        .then(() => logger.info({ phase: 'notify', reason: failed ? REPORT_EVENTS.failed : REPORT_EVENTS.published }, 'event recorded on the Job'))
        .catch((error: unknown) => logger.warn({ err: error }, 'alerts: cannot record the Event on our Job'));
    }
  }).catch((error: unknown) => logger.warn({ err: error }, 'alerts failed'));
}

function alertOf(result: RunResult, attempt: number, final: boolean, kubernetes: { namespace: string; cronJob: string | undefined } | undefined): ReportAlert {
  const failed = result.exitCode !== ExitCode.ok;
  const error = result.error;
  const date = result.reportDate;
  const rerun = date === null ? null : kubernetes ? `daily-report rerun --date ${date} --wait -n ${kubernetes.namespace}${kubernetes.cronJob ? ` --cronjob ${kubernetes.cronJob}` : ''}` : `daily-report run --date ${date}`;
  return {
    event: failed ? 'report.failed' : 'report.published',
    report_date: date,
    phase: error instanceof ReportError ? error.phase : failed ? 'run' : null,
    error_class: failed ? (error instanceof ReportError ? error.name : 'UnexpectedError') : null,
    message: redactSecrets(failed ? messageOf(error) : `published ${result.key} (${result.rows} rows)`),
    exit_code: result.exitCode,
    attempt,
    final,
    trace_id: result.traceId,
    rerun_command: rerun,
    ...(failed ? {} : { key: result.key, rows: result.rows }),
  };
}
