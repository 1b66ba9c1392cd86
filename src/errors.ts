/**
 * Every failure the job can end with, and the one table that maps them to exit codes.
 *
 * The split matters operationally: the Helm chart's podFailurePolicy fails the Job at once on
 * the permanent codes (2, 3, 4, 5) and lets Kubernetes retry only code 1, where a retry may help.
 */

export const ExitCode = {
  /** Published, or skipped because it was already published (`REPORT_IF_EXISTS=skip`). */
  ok: 0,
  /** Transient: a retry may succeed (database unreachable, connection lost, timeouts, storage 5xx). */
  transient: 1,
  /** Invalid configuration, arguments or SQL text. */
  invalidInput: 2,
  /** The data cannot make a valid report (contract violated, data error while streaming). */
  badData: 3,
  /** Access denied (authentication, privilege, storage or KMS permission). */
  accessDenied: 4,
  /** Already published and `REPORT_IF_EXISTS=fail`. */
  alreadyPublished: 5,
  /** Terminated by SIGTERM (128 + 15, what shells and Kubernetes report). */
  terminated: 143,
  /** Interrupted by SIGINT, Ctrl-C on a terminal (128 + 2, what the shell reports). */
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * Exit codes after which a retry cannot help. The chart's podFailurePolicy fails the Job at once on
 * exactly these (charts/daily-report/templates/_helpers.tpl; a chart test checks they agree).
 */
export const PERMANENT_EXIT_CODES: readonly ExitCode[] = [ExitCode.invalidInput, ExitCode.badData, ExitCode.accessDenied, ExitCode.alreadyPublished];

/** The phase a failure happened in: logged, and later recorded on spans. */
export type Phase = 'cli' | 'config' | 'connect' | 'extract' | 'encode' | 'upload' | 'run' | 'cluster';

interface ReportErrorOptions {
  phase: Phase;
  cause?: unknown;
  /** Facts that help triage (never secrets): host, key, columns, SQLSTATE... */
  context?: Record<string, unknown>;
}

/** Base class: a stable `code`, the exit code it maps to, the failing phase and the cause. */
export abstract class ReportError extends Error {
  abstract readonly code: string;
  abstract readonly exitCode: ExitCode;
  readonly phase: Phase;
  readonly context: Record<string, unknown>;

  constructor(message: string, options: ReportErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.phase = options.phase;
    this.context = options.context ?? {};
  }
}

/** Configuration or arguments are wrong; `problems` lists every one of them. */
export class ConfigurationIsInvalid extends ReportError {
  readonly code = 'CONFIG_INVALID';
  readonly exitCode = ExitCode.invalidInput;
  readonly problems: readonly string[];

  constructor(problems: readonly string[], options: Partial<ReportErrorOptions> = {}) {
    const noun = problems.length === 1 ? 'problem' : 'problems';
    super(`invalid configuration (${problems.length} ${noun}):\n  - ${problems.join('\n  - ')}`, {
      phase: options.phase ?? 'config',
      ...options,
    });
    this.problems = problems;
  }
}

/** The SQL text cannot run: syntax error, unknown `:name`, undefined table or column, a write. */
export class QueryIsInvalid extends ReportError {
  readonly code = 'QUERY_INVALID';
  readonly exitCode = ExitCode.invalidInput;
}

/** The query's result columns are not exactly the report's five columns. */
export class ReportContractViolated extends ReportError {
  readonly code = 'CONTRACT_VIOLATED';
  readonly exitCode = ExitCode.badData;
}

/** The database raised a data error (SQLSTATE class 22) while the rows were streaming. */
export class ReportDataIsInvalid extends ReportError {
  readonly code = 'DATA_INVALID';
  readonly exitCode = ExitCode.badData;
}

/** Authentication failed, a privilege is missing, or storage refused the operation. */
export class AccessWasDenied extends ReportError {
  readonly code = 'ACCESS_DENIED';
  readonly exitCode = ExitCode.accessDenied;
}

/** The report is already published and `REPORT_IF_EXISTS=fail`. */
export class ReportAlreadyPublished extends ReportError {
  readonly code = 'ALREADY_PUBLISHED';
  readonly exitCode = ExitCode.alreadyPublished;
}

/** A failure a later attempt may not meet: unreachable, connection lost, timeout, 5xx. */
export class TransientFailure extends ReportError {
  readonly code = 'TRANSIENT';
  readonly exitCode = ExitCode.transient;
}

/**
 * A conditional storage request found the object not as its condition said (HTTP 412, Azure 409
 * BlobAlreadyExists, a local file that exists or changed). The publisher decides what it means —
 * our own earlier write whose response was lost, another run, a lost lock — so it rarely escapes;
 * when it does, a retry may help.
 */
export class ConditionNotMet extends ReportError {
  readonly code = 'CONDITION_NOT_MET';
  readonly exitCode = ExitCode.transient;
}

/**
 * Another run holds the report's lock (docs/publishing.md): it is publishing the same date now, or
 * died less than the lock's lifetime ago. A retry later finds the report published (or the lock
 * expired), so this is transient.
 */
export class ReportIsBeingPublished extends ReportError {
  readonly code = 'PUBLISH_IN_PROGRESS';
  readonly exitCode = ExitCode.transient;
}

/** The run was stopped by SIGTERM (or SIGINT) before it could publish. */
export class RunWasTerminated extends ReportError {
  readonly code = 'TERMINATED';
  /**
   * 143 after SIGTERM, 130 after Ctrl-C, so the log says what the shell reports. The message names
   * the signal: it is built from the abort reason src/main.ts gives ("received SIGINT").
   */
  get exitCode(): ExitCode {
    return /\bSIGINT\b/.test(this.message) ? ExitCode.interrupted : ExitCode.terminated;
  }
}

/** Any error that is not ours is unexpected: treat it as transient so a retry gets a chance. */
export function exitCodeOf(error: unknown): ExitCode {
  return error instanceof ReportError ? error.exitCode : ExitCode.transient;
}

/**
 * A TLS certificate that could not be verified (unknown CA, self-signed, wrong host name,
 * expired). A retry never fixes it: callers report it as access denied (exit 4).
 */
export function isCertificateError(error: unknown): boolean {
  for (let e = error as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME/.test(e.code)) return true;
  }
  return false;
}

/** The message of anything thrown, for logs. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
