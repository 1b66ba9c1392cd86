import { describe, expect, it } from 'vitest';
import { CrlfRecords } from '../../src/csv/crlf-records.ts';

/** Feeds `input` in chunks cut at every given size, to catch state lost between chunks. */
function convert(input: string, chunkSize: number): { output: string; rows: number } {
  const records = new CrlfRecords();
  const bytes = Buffer.from(input);
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunkSize) out.push(records.transform(bytes.subarray(i, i + chunkSize)));
  return { output: Buffer.concat(out).toString(), rows: records.rows };
}

describe('CRLF record terminator for COPY output', () => {
  const copyOutput = 'a,1\n"quoted, with\nnewline",2\n"say ""hi""\n",3\n"",\n,""\n"crlf inside\r\nfield",4\n';
  const expected = 'a,1\r\n"quoted, with\nnewline",2\r\n"say ""hi""\n",3\r\n"",\r\n,""\r\n"crlf inside\r\nfield",4\r\n';

  it.each([1, 2, 3, 5, 7, 64, 4096])('ends records with CRLF and leaves newlines inside quotes alone (chunks of %i bytes)', (size) => {
    expect(convert(copyOutput, size)).toEqual({ output: expected, rows: 6 });
  });

  it('counts many records across a growing boundary table', () => {
    const input = 'x,1\n'.repeat(10_000);
    expect(convert(input, 65_536)).toEqual({ output: 'x,1\r\n'.repeat(10_000), rows: 10_000 });
  });

  it('passes a chunk without record ends through untouched', () => {
    const records = new CrlfRecords();
    const chunk = Buffer.from('"open quote, no end');
    expect(records.transform(chunk)).toBe(chunk);
    expect(records.transform(Buffer.from('\nstill inside"\n')).toString()).toBe('\nstill inside"\r\n');
    expect(records.rows).toBe(1);
  });
});
