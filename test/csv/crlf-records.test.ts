import { describe, expect, it } from 'vitest';
import { CrlfRecords } from '../../src/csv/crlf-records.ts';

/** Feeds `input` in chunks cut at every given size, to catch state lost between chunks. */
function convert(input: string, chunkSize: number, firstField?: 'timestamptz'): { output: string; rows: number } {
  const records = new CrlfRecords({ delimiter: ',', firstField });
  const bytes = Buffer.from(input);
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunkSize) out.push(records.transform(bytes.subarray(i, i + chunkSize)));
  records.end();
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
    const records = new CrlfRecords({ delimiter: ',' });
    expect(records.transform(Buffer.from('"open quote, no end')).toString()).toBe('"open quote, no end');
    expect(records.rows).toBe(0);
    expect(() => records.end()).toThrow(/ended inside a record \(19 bytes/);
    expect(records.transform(Buffer.from('\nstill inside"\n')).toString()).toBe('\nstill inside"\r\n');
    expect(records.rows).toBe(1);
    records.end();
  });

  it.each([1, 4, 11, 29, 4096])('rewrites the first field from timestamptz text to the contract form (chunks of %i bytes)', (size) => {
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
      '2024-10-05T01:00:03.500000-03:00,"Ana\n, Silva",1',
      '2024-10-05T01:00:03.000000+05:30,x,2',
      '2024-10-05T04:00:03.000000+00:00,y,3',
      '1900-01-01T00:00:00.000000-03:06:28,z,4',
      'infinity,w,5',
      ',null first field,6',
      '',
    ].join('\r\n');
    expect(convert(input, size, 'timestamptz')).toEqual({ output: expected, rows: 6 });
  });

  it('refuses a BC or 5-digit year in the first field, naming the column and the row', () => {
    const input = '2024-10-05 01:00:03-03,a\n2024-10-05 01:00:03-03,b\n12345-06-01 09:00:00-03,c\n';
    expect(() => convert(input, 7, 'timestamptz')).toThrow(expect.objectContaining({ exitCode: 3, message: expect.stringMatching(/^row 3, column data_extracao: the timestamp 12345-06-01 09:00:00-03 is outside/) }));
    expect(() => convert('0044-03-15 12:00:00-00:53:28 BC,x\n', 5, 'timestamptz')).toThrow(/^row 1, column data_extracao/);
  });

  it('passes a huge quoted field through as it arrives: nothing but the first field is held back', () => {
    const records = new CrlfRecords({ delimiter: ',', firstField: 'timestamptz' });
    const chunk = Buffer.alloc(1 << 16, 'x');
    let out = records.transform(Buffer.from('2024-10-05 01:00:03-03,"'));
    expect(out.toString()).toBe('2024-10-05T01:00:03.000000-03:00,"');
    let passed = 0;
    for (let i = 0; i < 256; i++) passed += records.transform(chunk).length; // 16 MiB inside one field
    expect(passed).toBe(256 << 16);
    out = records.transform(Buffer.from('""\nend",1\n2024-10-05 01:00:04-03,y,2\n'));
    expect(out.toString()).toBe('""\nend",1\r\n2024-10-05T01:00:04.000000-03:00,y,2\r\n');
    expect(records.rows).toBe(2);
  });
});
