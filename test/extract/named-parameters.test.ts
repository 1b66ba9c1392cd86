import { describe, expect, it } from 'vitest';
import { parameterNames, unknownParameterNames, withLiteralValues, withoutFinalSemicolon } from '../../src/extract/named-parameters.ts';

const VALUES = {
  report_date: '2024-10-05',
  window_start: '2024-10-04T00:00:00.000-03:00',
  window_end: '2024-10-05T00:00:00.000-03:00',
  extracted_at: '2024-10-05T04:00:01.234Z',
};

describe('named query parameters', () => {
  it('writes each :name as its value, a literal of its type, so the planner sees the window', () => {
    expect(withLiteralValues('SELECT :report_date, x FROM t WHERE a >= :window_start AND b < :window_end', VALUES)).toBe(
      "SELECT '2024-10-05'::date, x FROM t " +
        "WHERE a >= '2024-10-04T00:00:00.000-03:00'::timestamptz " +
        "AND b < '2024-10-05T00:00:00.000-03:00'::timestamptz",
    );
  });

  it.each([
    ['report_date', "2024-10-05'; DROP TABLE t; --"],
    ['report_date', '2024-10-05T00:00:00Z'],
    ['window_start', "2024-10-04T00:00:00.000-03:00'::timestamptz OR true OR '"],
    ['window_end', '2024-10-05 00:00:00-03'],
    ['extracted_at', ''],
  ])('refuses to write a %s that is not in its strict form: %j', (name, value) => {
    expect(() => withLiteralValues(`SELECT :${name}`, { ...VALUES, [name]: value })).toThrow(new RegExp(`the value of :${name} is not a (date|timestamptz) in its strict form`));
  });

  it('leaves casts, string literals, quoted identifiers and comments alone', () => {
    const sql = [
      "SELECT :extracted_at::timestamptz, ':not_a_param', E'it\\'s :nope', 'a''b :nope',",
      '"col:nope", $$ :nope $$, $tag$ :nope $tag$ -- :nope',
      '/* :nope /* nested :nope */ still :nope */ , :report_date',
    ].join('\n');
    expect(parameterNames(sql)).toEqual(['extracted_at', 'report_date']);
    const rewritten = withLiteralValues(sql, VALUES);
    expect(rewritten).toContain("'2024-10-05T04:00:01.234Z'::timestamptz::timestamptz");
    for (const kept of ["':not_a_param'", "E'it\\'s :nope'", '"col:nope"', '$$ :nope $$', '$tag$ :nope $tag$', '-- :nope', '/* :nope /* nested :nope */ still :nope */']) {
      expect(rewritten).toContain(kept);
    }
  });

  it('does not take an array slice bound or a positional $1 for a name', () => {
    expect(parameterNames('SELECT a[1:2], $1, x::int FROM t')).toEqual([]);
  });

  it('names every unknown parameter, and accepts a query that uses none', () => {
    expect(unknownParameterNames('SELECT :report_date, :tenant, :day, :tenant')).toEqual(['tenant', 'day']);
    expect(unknownParameterNames('SELECT 1')).toEqual([]);
    expect(() => withLiteralValues('SELECT :tenant', VALUES)).toThrow(/unknown query parameter :tenant/);
  });

  it('drops a final semicolon and what follows it, but not one inside a literal or a comment', () => {
    expect(withoutFinalSemicolon('SELECT 1;')).toBe('SELECT 1');
    expect(withoutFinalSemicolon('SELECT 1 ;  \n-- trailing comment\n/* block */\n')).toBe('SELECT 1 ');
    expect(withoutFinalSemicolon("SELECT ';' -- ;\n")).toBe("SELECT ';'");
    expect(withoutFinalSemicolon("SELECT 'a;'")).toBe("SELECT 'a;'");
  });
});
