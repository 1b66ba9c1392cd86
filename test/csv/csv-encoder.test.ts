import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { CsvEncoder, type RawRow } from '../../src/csv/csv-encoder.ts';
import { contractTimestamp, TimestampOutOfRange } from '../../src/csv/csv-rules.ts';
import { csvHeader } from '../../src/csv/csv-format.ts';
import { planColumns, REPORT_COLUMNS } from '../../src/csv/report-contract.ts';

const TEXT = 25;
const NUMERIC = 1700;
const INT8 = 20;
const TIMESTAMPTZ = 1184;
const contractColumns = [
  { name: 'data_extracao', dataTypeID: TIMESTAMPTZ },
  { name: 'nome_usuario', dataTypeID: TEXT },
  { name: 'id_transacao', dataTypeID: INT8 },
  { name: 'valor_transacao', dataTypeID: NUMERIC },
  { name: 'status_transacao', dataTypeID: TEXT },
];
const format = { delimiter: ',', bom: false, escapeFormulas: true };
const row = (name: string | null, value = '1.00', status: string | null = 'aprovada'): RawRow => ['2024-10-05 01:00:03.5-03', name, '9007199254740993', value, status];

/** Reads CSV back with an independent parser, telling NULL (unquoted empty) from "" (quoted empty). */
function readBack(csv: string, delimiter = ','): (string | null)[][] {
  return parse(csv, { delimiter, cast: (value, context) => (value === '' && !context.quoting ? null : value), bom: true });
}

describe('CSV encoder (cursor engine)', () => {
  it('writes the five contract names as the header, CRLF-terminated', () => {
    expect(csvHeader(format)).toBe(`${REPORT_COLUMNS.join(',')}\r\n`);
  });

  it('quotes delimiters, quotes, CR and LF (RFC 4180) and round-trips every value exactly', () => {
    const names = ['Silva, João', 'Maria "Mará"', 'linha\nquebrada', 'cr\rlf\r\n', '🙂 emoji', 'x'.repeat(10_000), ' espaço '];
    const encoder = new CsvEncoder(planColumns(contractColumns), format);
    const csv = csvHeader(format) + encoder.encodeToString(names.map((name) => row(name)));
    expect(csv.endsWith('\r\n')).toBe(true);
    const back = readBack(csv);
    expect(back.slice(1).map((r) => r[1])).toEqual(names);
    expect(csv).toContain('"Maria ""Mará"""');
  });

  it('tells NULL (empty field) from an empty string ("")', () => {
    const encoder = new CsvEncoder(planColumns(contractColumns), format);
    const csv = encoder.encodeToString([row(null, '1.00', ''), row('', '2.00', null)]);
    expect(csv.split('\r\n')[0]).toBe('2024-10-05T01:00:03.500000-03:00,,9007199254740993,1.00,""');
    expect(readBack(csv).map((r) => [r[1], r[4]])).toEqual([[null, ''], ['', null]]);
  });

  it('keeps numerics and bigints exactly as PostgreSQL wrote them', () => {
    const encoder = new CsvEncoder(planColumns(contractColumns), format);
    const values = ['-0.01', '12345678901234.56', '-12.50', '0.10000000000000000001', 'NaN'];
    const back = readBack(encoder.encodeToString(values.map((v) => row('n', v))));
    expect(back.map((r) => r[3])).toEqual(values);
    expect(back.map((r) => r[2])).toEqual(values.map(() => '9007199254740993'));
  });

  it("prefixes formula-like text cells with ' and never touches numeric columns", () => {
    const encoder = new CsvEncoder(planColumns(contractColumns), format);
    const risky = ['=1+1', '+55 11', '-Menos', '@soma', '\tTab', '\rCR'];
    const back = readBack(encoder.encodeToString(risky.map((name) => row(name, '-12.50', '=status'))));
    expect(back.map((r) => r[1])).toEqual(risky.map((name) => `'${name}`));
    expect(back.map((r) => r[4])).toEqual(risky.map(() => "'=status"));
    expect(back.map((r) => r[3])).toEqual(risky.map(() => '-12.50'));
  });

  it('can leave formulas alone when CSV_ESCAPE_FORMULAS is off', () => {
    const encoder = new CsvEncoder(planColumns(contractColumns), { ...format, escapeFormulas: false });
    expect(readBack(encoder.encodeToString([row('=1+1')]))[0]![1]).toBe('=1+1');
  });

  it('writes the columns in contract order whatever order the query returned them in', () => {
    const shuffled = [contractColumns[4]!, contractColumns[0]!, contractColumns[3]!, contractColumns[1]!, contractColumns[2]!];
    const encoder = new CsvEncoder(planColumns(shuffled), format);
    const csv = encoder.encodeToString([['aprovada', '2024-10-05 01:00:03-03', '5.00', 'Ana', '42']]);
    expect(csv).toBe('2024-10-05T01:00:03.000000-03:00,Ana,42,5.00,aprovada\r\n');
  });

  it('uses the configured delimiter and an optional UTF-8 BOM for Excel', () => {
    const semicolons = { delimiter: ';', bom: true, escapeFormulas: true };
    const encoder = new CsvEncoder(planColumns(contractColumns), semicolons);
    const csv = csvHeader(semicolons) + encoder.encodeToString([row('Silva; João', '1,50')]);
    expect(csv.startsWith('\uFEFFdata_extracao;nome_usuario;')).toBe(true);
    expect(readBack(csv, ';')[1]!.slice(1, 4)).toEqual(['Silva; João', '9007199254740993', '1,50']);
  });

  it('writes timestamps in one fixed form: microseconds always, a ±HH:MM offset, seconds of the offset when it has them', () => {
    expect(contractTimestamp('2024-10-05 01:00:03-03', true)).toBe('2024-10-05T01:00:03.000000-03:00');
    expect(contractTimestamp('2024-10-05 01:00:03.97-03', true)).toBe('2024-10-05T01:00:03.970000-03:00');
    expect(contractTimestamp('2024-10-05 01:00:03.123456+05:30', true)).toBe('2024-10-05T01:00:03.123456+05:30');
    expect(contractTimestamp('2024-10-05 04:00:03+00', true)).toBe('2024-10-05T04:00:03.000000+00:00');
    expect(contractTimestamp('1900-01-01 00:00:00-03:06:28', true)).toBe('1900-01-01T00:00:00.000000-03:06:28');
    expect(contractTimestamp('2024-10-05 01:00:03.5', false)).toBe('2024-10-05T01:00:03.500000');
    expect(contractTimestamp('infinity', true)).toBe('infinity');
    expect(contractTimestamp('-infinity', false)).toBe('-infinity');
    expect(() => contractTimestamp('0001-06-01 09:00:00 BC', false)).toThrow(TimestampOutOfRange);
    expect(() => contractTimestamp('0001-06-01 09:00:00.5+05:30 BC', true)).toThrow(TimestampOutOfRange);
  });

  it('refuses BC and 5-digit years, naming the column and the row (exit 3)', () => {
    const encoder = new CsvEncoder(planColumns(contractColumns), format);
    for (const value of ['0044-03-15 12:00:00-00:53:28 BC', '12345-06-01 09:00:00-03', '0001-06-01 09:00:00+05:30 BC', '0001-06-01 09:00:00+05 BC']) {
      const rows = [row('a'), row('b'), ['x', 'c', '1', '1', 'ok'], row('d')];
      rows[2]![0] = value;
      expect(() => encoder.encodeToString(rows)).toThrow(expect.objectContaining({ exitCode: 3, message: expect.stringMatching(new RegExp(`^row 3, column data_extracao: the timestamp ${value.replace(/[+.]/g, '\\$&')} is outside years 0001–9999`)) }));
    }
  });

  it('writes a lone \\. unquoted, as COPY does for a result of more than one column', () => {
    const encoder = new CsvEncoder(planColumns(contractColumns), format);
    expect(encoder.encodeToString([row('\\.')]).split(',')[1]).toBe('\\.');
  });

  it('streams a huge value in slices, quotes doubled across slice edges, never splitting a surrogate pair', () => {
    const encoder = new CsvEncoder(planColumns(contractColumns), format);
    const huge = `=${'a'.repeat((1 << 20) - 2)}🙂"${'b"'.repeat(1 << 19)}\n${'é'.repeat(3 << 20)}`;
    const chunks = [...encoder.encode([row(huge), row('small')])];
    expect(chunks.length).toBeGreaterThan(4);
    expect(Math.max(...chunks.map((c) => c.length))).toBeLessThanOrEqual(3 << 20);
    const back = readBack(Buffer.concat(chunks).toString('utf8'));
    expect(back.map((r) => r[1])).toEqual([`'${huge}`, 'small']);
  });
});
