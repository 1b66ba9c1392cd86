/** The job's configuration: one frozen object, built by `loadConfig` before any I/O. */

// The allowed values live here, with their types, so each list is written once: the domains'
// settings specs offer them, the chart test holds values.schema.json to them.
export const SSL_MODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];
export const IF_EXISTS = ['overwrite', 'skip', 'fail'] as const;
export type IfExists = (typeof IF_EXISTS)[number];
export const STORAGE_PROVIDERS = ['local', 's3', 'azure'] as const;
export type StorageProvider = (typeof STORAGE_PROVIDERS)[number];
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const REPORT_ENGINES = ['copy', 'cursor'] as const;
export type ReportEngine = (typeof REPORT_ENGINES)[number];
export const REPORT_COMPRESSIONS = ['none', 'gzip', 'zstd'] as const;
export type ReportCompression = (typeof REPORT_COMPRESSIONS)[number];
export const S3_CHECKSUM_ALGORITHMS = ['CRC32', 'CRC32C', 'SHA256', 'NONE'] as const;
export const S3_SSE_MODES = ['AES256', 'aws:kms', 'none'] as const;
export const WEBHOOK_FORMATS = ['generic', 'slack', 'teams'] as const;
export type WebhookFormat = (typeof WEBHOOK_FORMATS)[number];

export interface DatabaseConfig {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  /** Secret: never logged, never part of an error message. */
  readonly password: string | undefined;
  readonly sslMode: SslMode;
  /** PEM contents of PGSSLROOTCERT (node-postgres does not read that variable itself). */
  readonly sslRootCert: string | undefined;
  readonly connectTimeoutMs: number;
  /** The libpq service this database was read from (REPORT_SOURCES), for logs and errors; undefined for the PG* database. */
  readonly service?: string | undefined;
  /** The pgpass file the password was looked up in (PGPASSFILE), for the error that says where to add it. */
  readonly passFile?: string | undefined;
}

/** One source of the report: a database and the name it goes by (the service name, or "default" for the PG* database). */
export interface SourceConfig {
  readonly name: string;
  readonly database: DatabaseConfig;
}

export interface QueryConfig {
  readonly file: string;
  readonly text: string;
}

export interface ReportConfig {
  /** The report date when forced (YYYY-MM-DD) or the day the CronJob scheduled the run; otherwise today in `timezone` when the run starts. */
  readonly date: string | undefined;
  readonly timezone: string;
  readonly query: QueryConfig;
  readonly statementTimeoutMs: number;
  /** copy: PostgreSQL writes the CSV (COPY); cursor: pg-cursor batches and our encoder. */
  readonly engine: ReportEngine;
  readonly fetchRows: number;
  readonly keyTemplate: string;
  /** How the published object is compressed (its key then ends in .gz / .zst). */
  readonly compression: ReportCompression;
  readonly ifExists: IfExists;
  /** REPORT_LOCK_LEASE: how long the report's lock outlives its last renewal (the run renews it every quarter of this). */
  readonly lockLeaseMs: number;
  readonly progressIntervalMs: number;
  /** Workers extracting at once (REPORT_PARALLELISM); 1 with one source is today's single stream. */
  readonly parallelism: number;
  /** Where segments running ahead of the upload are spilled (REPORT_SPILL_DIR). */
  readonly spillDir: string;
}

export interface CsvConfig {
  readonly delimiter: string;
  readonly bom: boolean;
  readonly escapeFormulas: boolean;
}

export interface LocalStorageConfig {
  readonly provider: 'local';
  readonly dir: string;
}

/** Shared by the cloud providers. */
export interface RemoteStorageConfig {
  /** A request (or a stalled connection) is abandoned and retried after this long. */
  readonly requestTimeoutMs: number;
  /** Attempts per request, the first included (the SDKs retry with back-off). */
  readonly maxAttempts: number;
}

export type S3ChecksumAlgorithm = (typeof S3_CHECKSUM_ALGORITHMS)[number];

export interface S3StorageConfig extends RemoteStorageConfig {
  readonly provider: 's3';
  readonly bucket: string;
  /** "" or ending in "/". */
  readonly prefix: string;
  readonly region: string;
  readonly endpoint: string | undefined;
  readonly forcePathStyle: boolean;
  readonly sse: (typeof S3_SSE_MODES)[number];
  readonly kmsKeyId: string | undefined;
  readonly checksumAlgorithm: S3ChecksumAlgorithm;
  readonly verify: boolean;
  readonly partSizeBytes: number;
  readonly queueSize: number;
}

export interface AzureStorageConfig extends RemoteStorageConfig {
  readonly provider: 'azure';
  /** Secret: never logged. */
  readonly connectionString: string | undefined;
  readonly accountUrl: string | undefined;
  readonly container: string;
  /** "" or ending in "/". */
  readonly prefix: string;
  readonly encryptionScope: string | undefined;
  readonly blockSizeBytes: number;
  readonly maxConcurrency: number;
}

export type StorageConfig = LocalStorageConfig | S3StorageConfig | AzureStorageConfig;

export interface LogConfig {
  readonly level: LogLevel;
  readonly format: LogFormat;
}

export interface AlertsConfig {
  readonly webhook: { readonly url: string; readonly format: WebhookFormat } | undefined;
  readonly onSuccess: boolean;
  /** Read our own Job and record Events on it (the chart's alerts.kubernetes.enabled). */
  readonly kubernetes: { readonly namespace: string; readonly job: string; readonly cronJob: string | undefined } | undefined;
}

export interface TelemetryConfig {
  readonly flushTimeoutMs: number;
}

export interface Config {
  /** The PG* database; with REPORT_SOURCES, the first source's (job-wide settings such as PGCONNECT_TIMEOUT are every source's). */
  readonly database: DatabaseConfig;
  /** The report's sources in report order: the PG* database alone ("default"), or REPORT_SOURCES's services. */
  readonly sources: readonly SourceConfig[];
  readonly report: ReportConfig;
  readonly csv: CsvConfig;
  readonly storage: StorageConfig;
  readonly log: LogConfig;
  readonly alerts: AlertsConfig;
  readonly telemetry: TelemetryConfig;
  /** Not errors, but worth a log line (e.g. an unknown REPORT_* variable, probably a typo). */
  readonly warnings: readonly string[];
}
