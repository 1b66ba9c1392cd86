import { mkdtempSync, openSync, readFileSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatHumanLine, formatProgress, humanDestination } from '../../src/log/human-log.ts';

const time = '2026-12-01T08:48:07.804Z';
const base = { level: 'info', time, service: 'daily-report', run_id: '954e6e88-e0a8-4638-84e0-c38ca95e0ced', report_date: '2026-12-01', trace_id: 'a'.repeat(32) };

/** What a destination wrote, through a real file descriptor. */
function written(live: boolean, records: object[]): string {
  const file = join(mkdtempSync(join(tmpdir(), 'human-log-')), 'out');
  const fd = openSync(file, 'w');
  const destination = humanDestination(fd, live);
  for (const record of records) destination.write(`${JSON.stringify(record)}\n`);
  closeSync(fd);
  return readFileSync(file, 'utf8');
}

describe('human log lines (a terminal)', () => {
  it('shows an event on one line without the run id, trace ids or raw byte counts', () => {
    const line = formatHumanLine({ ...base, phase: 'extract', rows: 17159, bytes: 1333730, duration_ms: 72, msg: 'report uploaded' });
    expect(line).not.toContain('\n');
    expect(line).toMatch(/^\d\d:\d\d:\d\d INFO  report uploaded rows=17,159 size=1\.3 MB took=72 ms$/);
    expect(line).not.toMatch(/954e6e88|aaaa|1333730/);
  });

  it("prints an error's message once, with its class and exit code", () => {
    const message = 'database 127.0.0.1:5432/app refused user "report_reader": password authentication failed (SQLSTATE 28P01)';
    const line = formatHumanLine({
      ...base, level: 'error', msg: message,
      err: { class: 'AccessWasDenied', code: 'ACCESS_DENIED', exit_code: 4, phase: 'connect', message, causes: ['password authentication failed'] },
    });
    expect(line.split(message)).toHaveLength(2);
    expect(line).toMatch(/ERROR database .* \(AccessWasDenied, ACCESS_DENIED, exit 4\)$/);
  });

  it('does not repeat a field the message already says', () => {
    const line = formatHumanLine({ ...base, msg: 'report published: /out/relatorio_20261201.csv (3 rows)', location: '/out/relatorio_20261201.csv', rows: 3 });
    expect(line.split('/out/relatorio_20261201.csv')).toHaveLength(2);
  });

  it('shows progress as rows, rows/s, MB and elapsed time', () => {
    expect(formatProgress({ ...base, msg: 'extracting', rows: 600_000, rows_per_second: 120_000, bytes: 46_500_000 }, 5_000))
      .toMatch(/extracting: 600,000 rows, 120,000 rows\/s, 46\.5 MB, 5\.0 s$/);
  });

  it('on a terminal, rewrites one progress line in place and ends it before the next event', () => {
    const progress = (rows: number) => ({ ...base, msg: 'extracting', phase: 'extract', rows, bytes: rows * 80, rows_per_second: 1000 });
    const out = written(true, [{ ...base, msg: 'run starting' }, progress(1000), progress(2000), progress(3000), { ...base, msg: 'report uploaded', rows: 3000 }]);
    const lines = out.split('\n');
    expect(lines).toHaveLength(3); // run starting, the progress line ended by "report uploaded", and the final newline
    expect(lines[1]!.match(/\r\x1b\[2K/g)).toHaveLength(4);
    expect(lines[1]).toMatch(/\r\x1b\[2K\S+ INFO  report uploaded rows=3,000$/);
  });

  it('into a file (LOG_FORMAT=pretty), writes each progress record as an ordinary line', () => {
    const out = written(false, [{ ...base, msg: 'extracting', rows: 1, bytes: 80 }, { ...base, msg: 'extracting', rows: 2, bytes: 160 }]);
    expect(out).not.toContain('\r');
    expect(out.trim().split('\n')).toHaveLength(2);
  });
});
