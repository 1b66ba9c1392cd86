/** The job's configuration: one frozen object, built by `loadConfig` before any I/O. */

export type SslMode = 'disable' | 'require' | 'verify-ca' | 'verify-full';
export type IfExists = 'overwrite' | 'skip' | 'fail';
export type StorageProvider = 'local';
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

export type StorageConfig = LocalStorageConfig;

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
