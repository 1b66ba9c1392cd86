import { describe, expect, it } from 'vitest';
import { columnKind, formatOffset, formatWallClock, guardedTextSql, OID, outOfRangeMarker, scannerRewritesFirstColumn, SCANNED_COLUMN_INDEX } from '../../src/csv/csv-rules.ts';
import { REPORT_COLUMNS } from '../../src/csv/report-contract.ts';

describe('the CSV rules', () => {
  it('guard the string category (S) and enums (E) by category, whatever the type OID', () => {
    expect(columnKind({ dataTypeID: 16385, typeCategory: 'S' })).toBe('text'); // citext, an extension's OID
    expect(columnKind({ dataTypeID: 16490, typeCategory: 'E' })).toBe('text'); // an enum
    expect(columnKind({ dataTypeID: OID.char, typeCategory: 'Z' })).toBe('text');
    for (const category of ['N', 'D', 'B', 'U', 'A', 'X']) expect(columnKind({ dataTypeID: 16500, typeCategory: category }), category).toBe('verbatim');
    // Without the catalog's answer, the built-in string types only.
    expect([OID.text, OID.varchar, OID.bpchar, OID.name, 1700, 20].map((dataTypeID) => columnKind({ dataTypeID }))).toEqual(['text', 'text', 'text', 'text', 'verbatim', 'verbatim']);
    expect(columnKind({ dataTypeID: OID.timestamptz, typeCategory: 'D' })).toBe('timestamptz');
  });

  it('guard xml and refcursor, whose category is U but whose text is free text', () => {
    expect(columnKind({ dataTypeID: OID.xml, typeCategory: 'U' })).toBe('text');
    expect(columnKind({ dataTypeID: OID.refcursor, typeCategory: 'U' })).toBe('text');
    expect(columnKind({ dataTypeID: OID.xml })).toBe('text');
    expect(columnKind({ dataTypeID: 114, typeCategory: 'U' })).toBe('verbatim'); // json: -1 is a number
  });

  it("write char(n) through its output function in SQL, so the guard keeps PostgreSQL's padding", () => {
    expect(guardedTextSql('v', { dataTypeID: OID.bpchar })).toContain('pg_catalog.textin(pg_catalog.bpcharout(v))');
    expect(guardedTextSql('v', { dataTypeID: OID.text })).toBe("CASE WHEN ascii(v::text) IN (61, 43, 45, 64, 9, 13) THEN E'\\'' || v::text ELSE v::text END");
  });

  it('write offsets as ±HH:MM, with seconds only when they have them, and wall clocks to the microsecond', () => {
    expect([0, -10_800, 19_800, -11_188, 50_400, -37_800].map(formatOffset)).toEqual(['+00:00', '-03:00', '+05:30', '-03:06:28', '+14:00', '-10:30']);
    expect(formatWallClock({ year: 1, month: 1, day: 1, hour: 0, minute: 0, second: 0, microsecond: 7, offsetSeconds: 33_539 })).toBe('0001-01-01T00:00:00.000007+09:18:59');
    expect(() => formatWallClock({ year: 10_000, month: 1, day: 1, hour: 0, minute: 0, second: 0, microsecond: 0 })).toThrow(RangeError);
  });

  it("read the column and the value back from the SQL's out-of-range error", () => {
    const message = 'invalid input syntax for type integer: "~daily-report:timestamp-out-of-range~status_transacao~daily-report:timestamp-out-of-range~12345-06-01 09:00:00"';
    expect(outOfRangeMarker(message)).toEqual({ column: 'status_transacao', value: '12345-06-01 09:00:00' });
    expect(outOfRangeMarker('division by zero')).toBeUndefined();
  });

  it('rewrite data_extracao in the record scanner, which relies on it being the first column', () => {
    expect(REPORT_COLUMNS[SCANNED_COLUMN_INDEX]).toBe('data_extracao');
    expect(scannerRewritesFirstColumn(['timestamptz', 'text'])).toBe('timestamptz');
    expect(scannerRewritesFirstColumn(['text', 'timestamptz'])).toBeUndefined();
  });
});
