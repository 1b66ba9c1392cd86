import { describe, expect, it } from 'vitest';
import { parameterNames, unknownParameterNames, withoutFinalSemicolon, withSettingReferences } from '../../src/extract/named-parameters.ts';

describe('named query parameters', () => {
  it('reads each :name from its session setting, typed, once per statement', () => {
    expect(withSettingReferences('SELECT :report_date, x FROM t WHERE a >= :window_start AND b < :window_end')).toBe(
      "SELECT (SELECT current_setting('daily_report.report_date')::date), x FROM t " +
        "WHERE a >= (SELECT current_setting('daily_report.window_start')::timestamptz) " +
        "AND b < (SELECT current_setting('daily_report.window_end')::timestamptz)",
    );
  });

  it('leaves casts, string literals, quoted identifiers and comments alone', () => {
    const sql = [
      "SELECT :extracted_at::timestamptz, ':not_a_param', E'it\\'s :nope', 'a''b :nope',",
      '"col:nope", $$ :nope $$, $tag$ :nope $tag$ -- :nope',
      '/* :nope /* nested :nope */ still :nope */ , :report_date',
    ].join('\n');
    expect(parameterNames(sql)).toEqual(['extracted_at', 'report_date']);
    const rewritten = withSettingReferences(sql);
    expect(rewritten).toContain("(SELECT current_setting('daily_report.extracted_at')::timestamptz)::timestamptz");
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
    expect(() => withSettingReferences('SELECT :tenant')).toThrow(/unknown query parameter :tenant/);
  });

  it('drops a final semicolon and what follows it, but not one inside a literal or a comment', () => {
    expect(withoutFinalSemicolon('SELECT 1;')).toBe('SELECT 1');
    expect(withoutFinalSemicolon('SELECT 1 ;  \n-- trailing comment\n/* block */\n')).toBe('SELECT 1 ');
    expect(withoutFinalSemicolon("SELECT ';' -- ;\n")).toBe("SELECT ';'");
    expect(withoutFinalSemicolon("SELECT 'a;'")).toBe("SELECT 'a;'");
  });
});
