import { describe, expect, it } from 'vitest';
import { bindParameters, compileNamedQuery, scanNamedParameters } from '../../src/extract/named-parameters.ts';

describe('named query parameters', () => {
  it('turns each :name into $n, reusing the number when a name repeats', () => {
    const compiled = compileNamedQuery('SELECT :report_date, x FROM t WHERE a >= :window_start AND b < :window_end AND c >= :window_start');
    expect(compiled.text).toBe('SELECT $1, x FROM t WHERE a >= $2 AND b < $3 AND c >= $2');
    expect(compiled.names).toEqual(['report_date', 'window_start', 'window_end']);
  });

  it('binds values by name in $n order', () => {
    const compiled = compileNamedQuery('SELECT :window_end, :report_date');
    const values = bindParameters(compiled, { report_date: '2024-10-05', window_start: 's', window_end: 'e', extracted_at: 'x' });
    expect(values).toEqual(['e', '2024-10-05']);
  });

  it('leaves casts, string literals, quoted identifiers and comments alone', () => {
    const sql = [
      "SELECT :extracted_at::timestamptz, ':not_a_param', E'it\\'s :nope', 'a''b :nope',",
      '"col:nope", $$ :nope $$, $tag$ :nope $tag$ -- :nope',
      '/* :nope /* nested :nope */ still :nope */ , :report_date',
    ].join('\n');
    const scanned = scanNamedParameters(sql);
    expect(scanned.names).toEqual(['extracted_at', 'report_date']);
    expect(scanned.text).toContain('$1::timestamptz');
    expect(scanned.text).toContain("':not_a_param'");
    expect(scanned.text).toContain('"col:nope"');
    expect(scanned.text).toContain('$$ :nope $$');
    expect(scanned.text.endsWith(', $2')).toBe(true);
  });

  it('does not take an array slice bound or a positional $1 for a name', () => {
    expect(scanNamedParameters('SELECT a[1:2], $1, x::int FROM t').names).toEqual([]);
  });

  it('works for a query that uses no parameter', () => {
    expect(compileNamedQuery('SELECT 1').text).toBe('SELECT 1');
  });

  it('names every unknown parameter', () => {
    expect(() => compileNamedQuery('SELECT :report_date, :tenant, :day')).toThrow(/:tenant, :day/);
  });
});
