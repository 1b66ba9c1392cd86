import { describe, expect, it } from 'vitest';
import { CrlfRecords } from '../../src/csv/crlf-records.ts';

/** Feeds `input` in chunks cut at every given size, to catch state lost between chunks. */
function convert(input: string, chunkSize: number, isoFirstField = false): { output: string; rows: number } {
  const records = new CrlfRecords({ delimiter: ',', isoFirstField });
  const bytes = Buffer.from(input);
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunkSize) out.push(records.transform(bytes.subarray(i, i + chunkSize)));
  out.push(records.flush());
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

  it('holds back an unfinished record until its end arrives', () => {
    const records = new CrlfRecords({ delimiter: ',', isoFirstField: false });
    expect(records.transform(Buffer.from('"open quote, no end')).length).toBe(0);
    expect(records.transform(Buffer.from('\nstill inside"\n')).toString()).toBe('"open quote, no end\nstill inside"\r\n');
    expect(records.rows).toBe(1);
    expect(records.flush().length).toBe(0);
  });

  it.each([1, 4, 11, 29, 4096])('rewrites the first field from timestamptz text to ISO 8601 (chunks of %i bytes)', (size) => {
    const input = [
      '2024-10-05 01:00:03.5-03,"Ana\n, Silva",1',
      '2024-10-05 01:00:03+05:30,x,2',
      '2024-10-05 04:00:03+00,y,3',
      '1900-01-01 00:00:00-03:06:28,z,4',
      'infinity,w,5',
      ',null first field,6',
      '',
    ].join('\n');
    const expected = [
      '2024-10-05T01:00:03.5-03:00,"Ana\n, Silva",1',
      '2024-10-05T01:00:03+05:30,x,2',
      '2024-10-05T04:00:03+00:00,y,3',
      '1900-01-01T00:00:00-03:06:28,z,4',
      'infinity,w,5',
      ',null first field,6',
      '',
    ].join('\r\n');
    expect(convert(input, size, true)).toEqual({ output: expected, rows: 6 });
  });
});
