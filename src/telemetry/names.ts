/**
 * Every span, attribute and metric name the job emits, in one place (the README's "Monitoring and
 * alerts" section lists them). Database attributes follow the OpenTelemetry semantic conventions.
 */

export const SPAN = {
  run: 'daily-report.run',
  config: 'daily-report.config',
  connect: 'daily-report.connect',
  extract: 'daily-report.extract',
  upload: 'daily-report.upload',
  manifest: 'daily-report.manifest',
  /** Taking the report's lock and reading what is published (docs/publishing.md). */
  lock: 'daily-report.lock',
  notify: 'daily-report.notify',
} as const;

export const ATTR = {
  reportDate: 'daily_report.report_date',
  windowStart: 'daily_report.window.start',
  windowEnd: 'daily_report.window.end',
  timezone: 'daily_report.timezone',
  provider: 'daily_report.storage.provider',
  container: 'daily_report.storage.container',
  key: 'daily_report.storage.key',
  rows: 'daily_report.rows',
  bytes: 'daily_report.bytes',
  sha256: 'daily_report.sha256',
  ifExists: 'daily_report.if_exists',
  outcome: 'daily_report.outcome',
  engine: 'daily_report.engine',
  runId: 'daily_report.run_id',
  errorClass: 'daily_report.error.class',
  exitCode: 'daily_report.exit_code',
  phase: 'daily_report.phase',
  /** REPORT_PARALLELISM and the segments of a report assembled from segments (docs/parallel-extraction.md). */
  parallelism: 'daily_report.parallelism',
  segments: 'daily_report.segments',
  /** A report from several databases: each as "name host:port/database", in report order (db.* describe one database). */
  sources: 'daily_report.sources',
  // OpenTelemetry semantic conventions (database client spans).
  dbSystem: 'db.system.name',
  dbNamespace: 'db.namespace',
  dbQueryText: 'db.query.text',
  serverAddress: 'server.address',
  serverPort: 'server.port',
  errorType: 'error.type',
} as const;

/** In Prometheus (OTLP → Prometheus naming): daily_report_runs_total, daily_report_rows_total, daily_report_written_bytes_total, daily_report_phase_duration_seconds, daily_report_last_success_timestamp_seconds. */
export const METRIC = {
  runs: 'daily_report.runs',
  rows: 'daily_report.rows',
  bytes: 'daily_report.written',
  phaseDuration: 'daily_report.phase.duration',
  lastSuccess: 'daily_report.last_success.timestamp',
} as const;
