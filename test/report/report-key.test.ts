import { describe, expect, it } from 'vitest';
import { DEFAULT_KEY_TEMPLATE, keyTemplateProblems, reportKey } from '../../src/report/report-key.ts';

describe('report key', () => {
  it('is relatorio_YYYYMMDD.csv by default', () => {
    expect(reportKey(DEFAULT_KEY_TEMPLATE, '2024-10-05')).toBe('relatorio_20241005.csv');
  });

  it('fills folder-style templates', () => {
    expect(reportKey('{YYYY}/{MM}/relatorio_{YYYY-MM-DD}.csv', '2024-10-05')).toBe('2024/10/relatorio_2024-10-05.csv');
  });

  it('rejects templates without the date, with unknown placeholders, or escaping the root', () => {
    expect(keyTemplateProblems('relatorio.csv')).toEqual([expect.stringMatching(/must contain the date/)]);
    expect(keyTemplateProblems('r_{YYYYMMDD}_{HH}.csv')).toEqual([expect.stringMatching(/unknown placeholder \{HH\}/)]);
    expect(keyTemplateProblems('../r_{YYYYMMDD}.csv')).toEqual([expect.stringMatching(/relative key/)]);
    expect(keyTemplateProblems('/abs/r_{YYYYMMDD}.csv')).toHaveLength(1);
    expect(keyTemplateProblems(DEFAULT_KEY_TEMPLATE)).toEqual([]);
  });
});
