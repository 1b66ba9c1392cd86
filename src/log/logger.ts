import { isSpanContextValid, trace } from '@opentelemetry/api';
import pino from 'pino';
import type { LogFormat, LogLevel } from '../config/config.ts';
import { redactSecrets } from '../config/redaction.ts';
import { ReportError, messageOf } from '../errors.ts';
import { humanDestination } from './human-log.ts';
import { LOG_SETTINGS } from './log-settings.ts';

/**
 * Structured logs: JSON lines on stderr (stdout carries only command output, such as the CSV of
 * a dry run), one human line per event when stderr is a terminal (./human-log.ts). pino because it
 * is the fastest JSON logger for Node, writes synchronously to fd 2 (nothing lost at exit), and
 * redacts paths.
 */
export type Logger = pino.Logger;

export interface LoggerOptions {
  readonly level: LogLevel;
  readonly format: LogFormat;
  /** Where to write; stderr unless a test captures it. */
  readonly fd?: number;
}

export function createLogger(options: LoggerOptions): Logger {
  const fd = options.fd ?? 2;
  const human = options.format === 'pretty' || (options.format === 'auto' && fd === 2 && process.stderr.isTTY === true);
  const settings: pino.LoggerOptions = {
    level: options.level,
    base: { service: 'daily-report' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    // Belt and braces: nothing we log carries a password, and this keeps it that way.
    redact: { paths: ['password', '*.password', '*.*.password', 'connectionString', '*.connectionString'], censor: '[redacted]' },
    serializers: { err: serializeError },
    // Every secret the loader saw (the spec's `secret` settings) is replaced in the line as written.
    hooks: { streamWrite: redactSecrets },
    // The active span's ids on every line, so Grafana can jump from a log line to its trace.
    mixin: traceIds,
  };
  const destination = human ? humanDestination(fd) : pino.destination({ dest: fd, sync: true });
  return pino(settings, destination);
}

function traceIds(): Record<string, string> {
  const span = trace.getActiveSpan()?.spanContext();
  return span !== undefined && isSpanContextValid(span) ? { trace_id: span.traceId, span_id: span.spanId } : {};
}

/** The log level and format straight from the environment, for logging before the config is valid. */
export function bootstrapLoggerOptions(env: Readonly<Record<string, string | undefined>>): LoggerOptions {
  // Leniently, from the same spec: a wrong value is reported by the loader, with every other problem.
  const level = LOG_SETTINGS.LOG_LEVEL.parse(env.LOG_LEVEL ?? '');
  const format = LOG_SETTINGS.LOG_FORMAT.parse(env.LOG_FORMAT ?? '');
  return { level: level.ok ? level.value : LOG_SETTINGS.LOG_LEVEL.default, format: format.ok ? format.value : LOG_SETTINGS.LOG_FORMAT.default };
}

/** Class, code, phase, exit code and the chain of causes' messages; no stack for expected failures. */
export function serializeError(error: unknown): Record<string, unknown> {
  const causes: string[] = [];
  for (let cause = (error as Error)?.cause; cause !== undefined && causes.length < 5; cause = (cause as Error)?.cause) {
    causes.push(messageOf(cause));
  }
  if (error instanceof ReportError) {
    return {
      class: error.name,
      code: error.code,
      exit_code: error.exitCode,
      phase: error.phase,
      message: error.message,
      ...(Object.keys(error.context).length > 0 ? { context: error.context } : {}),
      ...(causes.length > 0 ? { causes } : {}),
    };
  }
  return {
    class: (error as Error)?.name ?? typeof error,
    message: messageOf(error),
    stack: (error as Error)?.stack,
    ...(causes.length > 0 ? { causes } : {}),
  };
}
