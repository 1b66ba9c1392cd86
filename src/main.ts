#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=1
// The #! line is how the image (and `npm run bench`) start the job, measured in docs/performance.md:
// a 1 MiB young generation frees the streamed chunks' buffers early (S3 at 1M rows: 260 → 155 MB
// peak RSS, same speed), and two malloc arenas keep threads from each holding freed memory
// (−5 to −10 MB). Both only bound memory; `node dist/main.js` runs the same code without them.
import { parseDuration } from './config/duration.ts';
import { ExitCode } from './errors.ts';
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
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? ExitCode.ok);
  throw error;
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
const DEFAULT_FLUSH_TIMEOUT_MS = 5_000;
const controller = new AbortController();

for (const [signal, code] of [['SIGTERM', ExitCode.terminated], ['SIGINT', ExitCode.interrupted]] as const) {
  process.once(signal, () => {
    controller.abort(new Error(`received ${signal}`));
    setTimeout(() => process.exit(code), TERMINATION_DEADLINE_MS).unref();
  });
}

const code = await runCli(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr, signal: controller.signal });
process.exitCode = controller.signal.aborted && code !== ExitCode.ok ? terminatedCode() : code;
// Spans and metrics leave before exit — on success, failure and SIGTERM — within a bound, whatever the receiver does.
const flushed = await telemetry.shutdown(parseDuration(process.env.TELEMETRY_FLUSH_TIMEOUT ?? '') ?? DEFAULT_FLUSH_TIMEOUT_MS);
// An export cut short by the bound may still hold a socket: exit now rather than wait for it.
if (!flushed) process.exit();
// Everything we opened is closed by now; if a stray handle still holds the loop, do not hang.
setTimeout(() => process.exit(), 2_000).unref();

function terminatedCode(): number {
  return String(controller.signal.reason).includes('SIGINT') ? ExitCode.interrupted : ExitCode.terminated;
}
