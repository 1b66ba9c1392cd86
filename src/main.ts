#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=1 --liftoff-only
// The #! line is how the image (and `npm run bench`) start the job, measured in docs/performance.md:
// a 1 MiB young generation frees the streamed chunks' buffers early (S3 at 1M rows: 260 → 155 MB
// peak RSS, same speed), and two malloc arenas keep threads from each holding freed memory
// (−5 to −10 MB). WebAssembly compiled by the baseline compiler only: optimising libpg-query's
// parser (the splittability check, REPORT_PARALLELISM > 1) peaked at ~600 MB RSS for 0.4 s, far
// over the chart's limit; baseline code loads in 0.08 s at ~60 MB and parses one query in ms.
// All only bound memory; `node dist/main.js` runs the same code without them.
import { ExitCode } from './errors.ts';
import { TELEMETRY_SETTINGS } from './telemetry/telemetry-settings.ts';
import { startTelemetry } from './telemetry/telemetry.ts';

// Node.js 24 is the runtime the job is built and tested on; from a checkout `npx daily-report`
// runs it on the Node.js 24 of the pinned `node` devDependency.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(`daily-report: needs Node.js 24 or later, this is ${process.version}; from a checkout run "npx daily-report" (after npm ci), which uses the Node.js 24 in node_modules\n`);
  process.exit(ExitCode.invalidInput);
}

// A reader that stops early (`daily-report run --dry-run | head`) closes the pipe: like any Unix
// tool, end quietly with what was written instead of an EPIPE stack trace and exit 1.
// Any other failure to write stdout (`> r.csv` on a full disk: ENOSPC) is named in one line, not a
// stack trace; exit 1, as for other I/O a retry may get past.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? ExitCode.ok);
  process.stderr.write(`daily-report: cannot write to standard output: ${error.message}; the output is incomplete (check the disk or file it goes to)\n`);
  process.exit(ExitCode.transient);
});

// Telemetry first, before the modules it observes are loaded.
const telemetry = await startTelemetry(process.env);
const { runCli } = await import('./cli/cli.ts');

/**
 * Entry point. SIGTERM (what Kubernetes sends on deletion or deadline) aborts the run: the query
 * is cancelled, the upload aborted, and the process exits 143 — with a watchdog in case
 * something refuses to unwind, so the pod never outlives its grace period because of us.
 */
const TERMINATION_DEADLINE_MS = 10_000;
const controller = new AbortController();

for (const [signal, code] of [['SIGTERM', ExitCode.terminated], ['SIGINT', ExitCode.interrupted]] as const) {
  process.once(signal, () => {
    controller.abort(new Error(`received ${signal}`));
    setTimeout(() => process.exit(code), TERMINATION_DEADLINE_MS).unref();
  });
}

const code = await runCli(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr, signal: controller.signal }).catch((error: unknown) => {
  // Every command logs and maps its own failures; anything reaching here is a bug: exit 1, with its stack.
  process.stderr.write(`daily-report: unexpected error (a bug in daily-report: please report it with this stack):\n${(error as Error)?.stack ?? String(error)}\n`);
  return ExitCode.transient;
});
process.exitCode = controller.signal.aborted && code !== ExitCode.ok ? terminatedCode() : code;
// Spans and metrics leave before exit — on success, failure and SIGTERM — within a bound, whatever the receiver does.
// Read leniently from the spec (a wrong value was reported by the loader): telemetry outlives the configuration.
const flushTimeout = TELEMETRY_SETTINGS.TELEMETRY_FLUSH_TIMEOUT.parse(process.env.TELEMETRY_FLUSH_TIMEOUT ?? '');
const flushed = await telemetry.shutdown(flushTimeout.ok ? flushTimeout.value : TELEMETRY_SETTINGS.TELEMETRY_FLUSH_TIMEOUT.default);
// An export cut short by the bound may still hold a socket: exit now rather than wait for it.
if (!flushed) process.exit();
// Everything we opened is closed by now; if a stray handle still holds the loop, do not hang.
setTimeout(() => process.exit(), 2_000).unref();

function terminatedCode(): number {
  return String(controller.signal.reason).includes('SIGINT') ? ExitCode.interrupted : ExitCode.terminated;
}
