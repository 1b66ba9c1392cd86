// Preloaded into the job's process by a test (node --import): writes the peak RSS, in bytes, to PEAK_RSS_FILE at exit.
// VmHWM belongs to this program's own memory map. getrusage's maxRSS does not: Linux carries it over
// from the process that forked us (a test runner that just read a large file), across exec.
import { readFileSync, writeFileSync } from 'node:fs';

process.on('exit', () => {
  if (!process.env.PEAK_RSS_FILE) return;
  const kb = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  writeFileSync(process.env.PEAK_RSS_FILE, String(Number(kb) * 1024));
});
