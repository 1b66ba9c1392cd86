/** The job's configuration: one frozen object, built by `loadConfig` before any I/O. */

export type SslMode = 'disable' | 'require' | 'verify-ca' | 'verify-full';
export type IfExists = 'overwrite' | 'skip' | 'fail';
export type StorageProvider = 'local' | 's3' | 'azure';
export type LogFormat = 'auto' | 'json' | 'pretty';
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

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
}

export interface QueryConfig {
  readonly file: string;
  readonly text: string;
}

export interface ReportConfig {
  /** The report date when forced (YYYY-MM-DD); otherwise today in `timezone` when the run starts. */
  readonly date: string | undefined;
  readonly timezone: string;
  readonly query: QueryConfig;
  readonly statementTimeoutMs: number;
  /** copy: PostgreSQL writes the CSV (COPY); cursor: pg-cursor batches and our encoder. */
  readonly engine: 'copy' | 'cursor';
  readonly fetchRows: number;
  readonly keyTemplate: string;
  readonly ifExists: IfExists;
  readonly progressIntervalMs: number;
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

export type S3ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'SHA256' | 'NONE';

export interface S3StorageConfig extends RemoteStorageConfig {
  readonly provider: 's3';
  readonly bucket: string;
  /** "" or ending in "/". */
  readonly prefix: string;
  readonly region: string;
  readonly endpoint: string | undefined;
  readonly forcePathStyle: boolean;
  readonly sse: 'AES256' | 'aws:kms';
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

export interface Config {
  readonly database: DatabaseConfig;
  readonly report: ReportConfig;
  readonly csv: CsvConfig;
  readonly storage: StorageConfig;
  readonly log: LogConfig;
  /** Not errors, but worth a log line (e.g. an unknown REPORT_* variable, probably a typo). */
  readonly warnings: readonly string[];
}
