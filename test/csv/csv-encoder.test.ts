import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { CsvEncoder, isoTimestampWithOffset, type RawRow } from '../../src/csv/csv-encoder.ts';
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
    const csv = csvHeader(format) + encoder.encode(names.map((name) => row(name)));
    expect(csv.endsWith('\r\n')).toBe(true);
    const back = readBack(csv);
    expect(back.slice(1).map((r) => r[1])).toEqual(names);
    expect(csv).toContain('"Maria ""Mará"""');
  });

  it('tells NULL (empty field) from an empty string ("")', () => {
    const encoder = new CsvEncoder(planColumns(contractColumns), format);
    const csv = encoder.encode([row(null, '1.00', ''), row('', '2.00', null)]);
    expect(csv.split('\r\n')[0]).toBe('2024-10-05T01:00:03.5-03:00,,9007199254740993,1.00,""');
    expect(readBack(csv).map((r) => [r[1], r[4]])).toEqual([[null, ''], ['', null]]);
  });

  it('keeps numerics and bigints exactly as PostgreSQL wrote them', () => {
    const encoder = new CsvEncoder(planColumns(contractColumns), format);
    const values = ['-0.01', '12345678901234.56', '-12.50', '0.10000000000000000001', 'NaN'];
    const back = readBack(encoder.encode(values.map((v) => row('n', v))));
    expect(back.map((r) => r[3])).toEqual(values);
    expect(back.map((r) => r[2])).toEqual(values.map(() => '9007199254740993'));
  });

  it("prefixes formula-like text cells with ' and never touches numeric columns", () => {
    const encoder = new CsvEncoder(planColumns(contractColumns), format);
    const risky = ['=1+1', '+55 11', '-Menos', '@soma', '\tTab', '\rCR'];
    const back = readBack(encoder.encode(risky.map((name) => row(name, '-12.50', '=status'))));
    expect(back.map((r) => r[1])).toEqual(risky.map((name) => `'${name}`));
    expect(back.map((r) => r[4])).toEqual(risky.map(() => "'=status"));
    expect(back.map((r) => r[3])).toEqual(risky.map(() => '-12.50'));
  });

  it('can leave formulas alone when CSV_ESCAPE_FORMULAS is off', () => {
    const encoder = new CsvEncoder(planColumns(contractColumns), { ...format, escapeFormulas: false });
    expect(readBack(encoder.encode([row('=1+1')]))[0]![1]).toBe('=1+1');
  });

  it('writes the columns in contract order whatever order the query returned them in', () => {
    const shuffled = [contractColumns[4]!, contractColumns[0]!, contractColumns[3]!, contractColumns[1]!, contractColumns[2]!];
    const encoder = new CsvEncoder(planColumns(shuffled), format);
    const csv = encoder.encode([['aprovada', '2024-10-05 01:00:03-03', '5.00', 'Ana', '42']]);
    expect(csv).toBe('2024-10-05T01:00:03-03:00,Ana,42,5.00,aprovada\r\n');
  });

  it('uses the configured delimiter and an optional UTF-8 BOM for Excel', () => {
    const semicolons = { delimiter: ';', bom: true, escapeFormulas: true };
    const encoder = new CsvEncoder(planColumns(contractColumns), semicolons);
    const csv = csvHeader(semicolons) + encoder.encode([row('Silva; João', '1,50')]);
    expect(csv.startsWith('\uFEFFdata_extracao;nome_usuario;')).toBe(true);
    expect(readBack(csv, ';')[1]!.slice(1, 4)).toEqual(['Silva; João', '9007199254740993', '1,50']);
  });

  it('writes timestamps as ISO 8601 with a ±HH:MM offset', () => {
    expect(isoTimestampWithOffset('2024-10-05 01:00:03-03')).toBe('2024-10-05T01:00:03-03:00');
    expect(isoTimestampWithOffset('2024-10-05 01:00:03.123456+05:30')).toBe('2024-10-05T01:00:03.123456+05:30');
    expect(isoTimestampWithOffset('2024-10-05 04:00:03+00')).toBe('2024-10-05T04:00:03+00:00');
    expect(isoTimestampWithOffset('infinity')).toBe('infinity');
  });
});
