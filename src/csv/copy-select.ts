import type { CsvFormat } from './csv-format.ts';
import type { PlannedColumn } from './report-contract.ts';

/**
 * The statement that makes PostgreSQL write the report's records itself: the user's query as a
 * subquery, its columns in contract order, each written the way the contract says —
 * - text columns that a spreadsheet would run as a formula (`= + - @`, tab, CR first) get a
 *   leading `'` (OWASP CSV injection); numeric, integer, date and timestamp columns never do;
 * - timestamps as ISO 8601, `T` between date and time, and `timestamptz` with a ±HH:MM offset
 *   (PostgreSQL writes "-03"); the session's TimeZone is the report's zone, DateStyle is ISO;
 * - everything else exactly as PostgreSQL writes it (numerics never pass through a float).
 * NULL is an empty field and an empty string is `""`: that is COPY's own CSV convention.
 */
export function copyStatement(subquery: string, columns: readonly PlannedColumn[], format: CsvFormat): string {
  const select = columns.map((column) => `${expression(column, format)} AS ${identifier(column.name)}`).join(',\n       ');
  return `COPY (SELECT ${select}\nFROM (\n${subquery}\n) AS report) TO STDOUT WITH (FORMAT csv, DELIMITER ${literal(format.delimiter)})`;
}

function expression(column: PlannedColumn, format: CsvFormat): string {
  const value = `report.${identifier(column.name)}`;
  switch (column.kind) {
    case 'text':
      return format.escapeFormulas
        ? `CASE WHEN left(${value}, 1) IN ('=', '+', '-', '@', E'\\t', E'\\r') THEN '''' || ${value} ELSE ${value}::text END`
        : value;
    case 'timestamptz':
      // PostgreSQL's own text ("2024-10-05 01:00:03.5-03"), fraction trimmed as it trims it;
      // only the separator and a bare-hour offset are rewritten.
      return `regexp_replace(replace(${value}::text, ' ', 'T'), '([+-]\\d\\d)$', '\\1:00')`;
    case 'timestamp':
      return `replace(${value}::text, ' ', 'T')`;
    case 'verbatim':
      return value;
  }
}

function identifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function literal(text: string): string {
  return `E'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'").replaceAll('\t', '\\t')}'`;
}
