import { ATTR, METRIC } from './names.ts';
import { meter } from './telemetry.ts';

export interface RunOutcome {
  /** published, skipped (already published), dry-run, or failed. */
  readonly outcome: 'published' | 'skipped' | 'dry-run' | 'failed';
  readonly reportDate?: string | undefined;
  readonly rows?: number | undefined;
  readonly bytes?: number | undefined;
  readonly errorClass?: string | undefined;
}

/** The run's metrics, recorded once at its end and pushed when telemetry shuts down. */
export function recordRunMetrics(run: RunOutcome): void {
  const m = meter();
  m.createCounter(METRIC.runs, { description: 'Runs by outcome' }).add(1, {
    [ATTR.outcome]: run.outcome,
    ...(run.errorClass ? { [ATTR.errorClass]: run.errorClass } : {}),
  });
  if (run.rows !== undefined) m.createCounter(METRIC.rows, { description: 'Rows written to reports' }).add(run.rows);
  if (run.bytes !== undefined) m.createCounter(METRIC.bytes, { unit: 'By', description: 'Bytes of CSV written to reports' }).add(run.bytes);
  if (run.outcome === 'published' && run.reportDate) {
    m.createGauge(METRIC.lastSuccess, { unit: 's', description: 'Unix time of the last successful publish' }).record(Math.floor(Date.now() / 1000), {
      [ATTR.reportDate]: run.reportDate,
    });
  }
}
