/**
 * The object key a report is published under, from `REPORT_KEY_TEMPLATE`
 * (default `relatorio_{YYYYMMDD}.csv`).
 */

export const DEFAULT_KEY_TEMPLATE = 'relatorio_{YYYYMMDD}.csv';

const PLACEHOLDERS = ['{YYYYMMDD}', '{YYYY-MM-DD}', '{YYYY}', '{MM}', '{DD}'] as const;

/** Problems with a template, empty when it is usable. */
export function keyTemplateProblems(template: string): string[] {
  const problems: string[] = [];
  const unknown = (template.match(/\{[^}]*\}/g) ?? []).filter((p) => !(PLACEHOLDERS as readonly string[]).includes(p));
  if (unknown.length > 0) {
    problems.push(`unknown placeholder ${unknown.join(', ')}; use ${PLACEHOLDERS.join(', ')}`);
  }
  const hasDay =
    template.includes('{YYYYMMDD}') ||
    template.includes('{YYYY-MM-DD}') ||
    ['{YYYY}', '{MM}', '{DD}'].every((p) => template.includes(p));
  if (!hasDay) problems.push('must contain the date ({YYYYMMDD}), or every day would overwrite the same report');
  if (template.startsWith('/') || template.split('/').some((segment) => segment === '..' || segment === '.')) {
    problems.push('must be a relative key without "." or ".." segments');
  }
  if (template.includes('\\')) problems.push('must use "/" to separate folders, not "\\"');
  return problems;
}

/** The key for a report date (YYYY-MM-DD). */
export function reportKey(template: string, reportDate: string): string {
  const [yyyy, mm, dd] = reportDate.split('-') as [string, string, string];
  return template
    .replaceAll('{YYYYMMDD}', `${yyyy}${mm}${dd}`)
    .replaceAll('{YYYY-MM-DD}', reportDate)
    .replaceAll('{YYYY}', yyyy)
    .replaceAll('{MM}', mm)
    .replaceAll('{DD}', dd);
}
