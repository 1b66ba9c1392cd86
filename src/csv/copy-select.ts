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
  const select = columns
    .map((column, index) => `${index === 0 && firstFieldIsRewritten(columns) ? `report.${identifier(column.name)}` : expression(column, format)} AS ${identifier(column.name)}`)
    .join(',\n       ');
  return `COPY (SELECT ${select}\nFROM (\n${subquery}\n) AS report) TO STDOUT WITH (FORMAT csv, DELIMITER ${literal(format.delimiter)})`;
}

/**
 * The first field (data_extracao, by contract) as a timestamptz is left in PostgreSQL's text form
 * and made ISO 8601 by the record scanner (crlf-records.ts): cheaper than converting on the server.
 */
export function firstFieldIsRewritten(columns: readonly PlannedColumn[]): boolean {
  return columns[0]?.kind === 'timestamptz';
}

function expression(column: PlannedColumn, format: CsvFormat): string {
  const value = `report.${identifier(column.name)}`;
  switch (column.kind) {
    case 'text':
      return format.escapeFormulas
        ? // ascii() is the first character's code (= + - @ tab CR), 0 for '', NULL for NULL. Measured at
          // a quarter of the cost of left(value, 1), which allocates a string per row.
          `CASE WHEN ascii(${value}) IN (61, 43, 45, 64, 9, 13) THEN '''' || ${value} ELSE ${value}::text END`
        : value;
    case 'timestamptz':
    case 'timestamp':
      // PostgreSQL's JSON form of a timestamp is ISO 8601 whatever the DateStyle: "T", the fraction
      // trimmed, ±HH:MM (never "Z") in the session's zone. Measured at a fifth of a regex's cost.
      return `to_json(${value}) #>> '{}'`;
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
