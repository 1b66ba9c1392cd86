#!/usr/bin/env node
import { runCli } from './cli/cli.ts';
import { ExitCode } from './errors.ts';

/**
 * Entry point. SIGTERM (what Kubernetes sends on deletion or deadline) aborts the run: the query
 * is cancelled, the upload aborted, and the process exits 143 — with a watchdog in case
 * something refuses to unwind, so the pod never outlives its grace period because of us.
 */
const TERMINATION_DEADLINE_MS = 10_000;
const controller = new AbortController();

for (const [signal, code] of [['SIGTERM', ExitCode.terminated], ['SIGINT', 130]] as const) {
  process.once(signal, () => {
    controller.abort(new Error(`received ${signal}`));
    setTimeout(() => process.exit(code), TERMINATION_DEADLINE_MS).unref();
  });
}

const code = await runCli(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr, signal: controller.signal });
process.exitCode = controller.signal.aborted && code !== ExitCode.ok ? terminatedCode() : code;
// Everything we opened is closed by now; if a stray handle still holds the loop, do not hang.
setTimeout(() => process.exit(), 2_000).unref();

function terminatedCode(): number {
  return String(controller.signal.reason).includes('SIGINT') ? 130 : ExitCode.terminated;
}
