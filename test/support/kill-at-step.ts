/**
 * Preloaded (`node --import`) into a `daily-report run` child by the SIGKILL rows of the fault
 * matrix: the process kills itself with SIGKILL at the local file-system call a publishing step
 * makes — the call never happens, and nothing after it either, exactly as if the kernel had killed
 * the pod there. Test tooling only: it reads DAILY_REPORT_TEST_KILL_AT, which the product never does.
 */
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';

interface Call {
  readonly object: 'csv' | 'manifest' | 'lock';
  readonly operations: readonly string[];
  readonly after?: Call;
}

const spec = process.env.DAILY_REPORT_TEST_KILL_AT;
if (spec) {
  const { dir, keys, call } = JSON.parse(spec) as { dir: string; keys: Record<string, string>; call: Call };
  const is = (c: Call, operation: string, path: unknown) => c.operations.includes(operation) && path === join(dir, keys[c.object]!);
  let armed = call.after === undefined;
  const promises = createRequire(import.meta.url)('node:fs/promises') as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const [method, operation] of [['open', 'read'], ['stat', 'stat'], ['link', 'link'], ['rename', 'rename'], ['unlink', 'unlink']] as const) {
    const original = promises[method]!;
    promises[method] = function (this: unknown, ...args: unknown[]) {
      // link and rename name the final path second; the others first.
      const path = method === 'link' || method === 'rename' ? args[1] : args[0];
      if (armed && is(call, operation, path)) process.kill(process.pid, 'SIGKILL');
      if (!armed && call.after && is(call.after, operation, path)) armed = true;
      return original.apply(this, args);
    };
  }
  syncBuiltinESMExports();
}
