import { writeSync } from 'node:fs';
import { isatty } from 'node:tty';

/**
 * Log lines for a person at a terminal: one line per event (time, level, message, the facts that
 * matter with units), an error's message once, and the extraction's progress as a single line
 * rewritten in place. The JSON lines stay the contract for machines (LOG_FORMAT=json, and `auto`
 * whenever stderr is not a terminal); this only changes how the same records are shown.
 */

/** Fields every line carries, or that only machines read (trace ids link a log line to its trace). */
const HIDDEN = new Set(['level', 'time', 'msg', 'service', 'run_id', 'report_date', 'trace_id', 'span_id', 'pid', 'hostname', 'phase', 'err', 'query_sha256', 'extracted_at', 'version']);
/** Fields whose value is shown with its unit, under a name without one. */
const LABELS: Record<string, string> = { duration_ms: 'took', bytes: 'size' };
/** The progress record src/report/run-report.ts logs every REPORT_PROGRESS_INTERVAL. */
const isProgress = (record: LogRecord) => record.msg === 'extracting' && typeof record.rows === 'number';

export interface LogRecord {
  readonly level?: string;
  readonly time?: string;
  readonly msg?: string;
  readonly [field: string]: unknown;
}

/** One event as one line (no newline). */
export function formatHumanLine(record: LogRecord): string {
  const parts = [clock(record.time), (record.level ?? 'info').toUpperCase().padEnd(5), record.msg ?? ''];
  if (record.msg === 'run starting' && record.report_date) parts.push(`report_date=${String(record.report_date)}`);
  for (const [name, value] of Object.entries(record)) {
    if (HIDDEN.has(name) || value === undefined || value === null) continue;
    // The message already says it (the summary names the report's location).
    if (typeof value === 'string' && value.length > 3 && record.msg?.includes(value)) continue;
    parts.push(`${LABELS[name] ?? name}=${formatValue(name, value)}`);
  }
  const line = parts.filter((part) => part !== '').join(' ');
  return record.err ? `${line}${describeError(record.err as ErrorFields, record.msg ?? '')}` : line;
}

/** The progress line: rows, rows/s, MB and time since the run started. */
export function formatProgress(record: LogRecord, elapsedMs: number): string {
  const rate = typeof record.rows_per_second === 'number' ? `, ${record.rows_per_second.toLocaleString('en')} rows/s` : '';
  const size = typeof record.bytes === 'number' ? `, ${megabytes(record.bytes)}` : '';
  return `${clock(record.time)} extracting: ${(record.rows as number).toLocaleString('en')} rows${rate}${size}, ${seconds(elapsedMs)}`;
}

interface ErrorFields {
  readonly class?: string;
  readonly code?: string;
  readonly exit_code?: number;
  readonly message?: string;
  readonly causes?: readonly string[];
  readonly stack?: string;
}

/** What the message does not already say: the class and exit code, the causes, a stack for the unexpected. */
function describeError(error: ErrorFields, message: string): string {
  const facts = [error.class, error.code, error.exit_code === undefined ? undefined : `exit ${error.exit_code}`].filter(Boolean).join(', ');
  const lines = [facts ? ` (${facts})` : ''];
  if (error.message && !message.includes(error.message)) lines.push(`\n    ${error.message}`);
  for (const cause of error.causes ?? []) if (!message.includes(cause)) lines.push(`\n    cause: ${cause}`);
  if (error.stack && error.exit_code === undefined) lines.push(`\n${error.stack.split('\n').slice(1).join('\n')}`);
  return lines.join('');
}

function formatValue(name: string, value: unknown): string {
  if (typeof value === 'number') {
    if (name === 'bytes' || name.endsWith('_bytes')) return megabytes(value);
    if (name === 'duration_ms') return seconds(value);
    return value.toLocaleString('en');
  }
  if (typeof value === 'string') return /\s/.test(value) || value === '' ? JSON.stringify(value) : value;
  return JSON.stringify(value);
}

function megabytes(bytes: number): string {
  return bytes < 1_000_000 ? `${(bytes / 1000).toFixed(1)} kB` : `${(bytes / 1_000_000).toFixed(1)} MB`;
}

function seconds(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** Local wall-clock time, HH:MM:SS: what a person compares with their own clock. */
function clock(time: string | undefined): string {
  const date = time ? new Date(time) : new Date();
  return Number.isNaN(date.getTime()) ? '' : date.toTimeString().slice(0, 8);
}

/**
 * A pino destination writing human lines to `fd`, synchronously (nothing lost at exit). On a
 * terminal progress is one live line; elsewhere (LOG_FORMAT=pretty into a file) each progress
 * record is an ordinary line.
 */
export function humanDestination(fd: number, live = isatty(fd)): { write(chunk: string): void } {
  let firstSeen: number | undefined;
  let liveLine = false;
  const out = (text: string) => writeSync(fd, text);
  return {
    write(chunk: string) {
      for (const text of chunk.split('\n')) {
        if (text === '') continue;
        let record: LogRecord;
        try {
          record = JSON.parse(text);
        } catch {
          out(`${liveLine ? '\r\x1b[2K' : ''}${text}\n`);
          liveLine = false;
          continue;
        }
        const at = record.time ? Date.parse(record.time) : Date.now();
        firstSeen ??= at;
        if (live && isProgress(record)) {
          out(`\r\x1b[2K${formatProgress(record, at - firstSeen)}`);
          liveLine = true;
          continue;
        }
        const line = isProgress(record) ? formatProgress(record, at - firstSeen) : formatHumanLine(record);
        out(`${liveLine ? '\r\x1b[2K' : ''}${line}\n`);
        liveLine = false;
      }
    },
  };
}
