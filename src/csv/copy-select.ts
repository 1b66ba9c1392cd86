import type { CsvFormat } from './csv-format.ts';
import { guardedTextSql, scannerRewritesFirstColumn, sqlLiteral, SCANNED_COLUMN_INDEX, timestampSql } from './csv-rules.ts';
import type { PlannedColumn } from './report-contract.ts';

/**
 * The statement that makes PostgreSQL write the report's records itself: the user's query as a
 * subquery, its columns in contract order, each written by the contract's rules (csv-rules.ts) —
 * the formula guard on string-category columns, timestamps in the fixed form, everything else
 * exactly as PostgreSQL writes it (numerics never pass through a float). The session's TimeZone
 * is the report's zone. NULL is an empty field and an empty string is `""`: COPY's own convention.
 */
export function copyStatement(subquery: string, columns: readonly PlannedColumn[], format: CsvFormat): string {
  const scanned = firstFieldIsRewritten(columns);
  const select = columns
    .map((column, index) => `${index === SCANNED_COLUMN_INDEX && scanned ? `report.${identifier(column.name)}` : expression(column, format)} AS ${identifier(column.name)}`)
    .join(',\n       ');
  return `COPY (SELECT ${select}\nFROM (\n${subquery}\n) AS report) TO STDOUT WITH (FORMAT csv, DELIMITER ${sqlLiteral(format.delimiter)})`;
}

/** The first column (data_extracao) is a timestamp left in PostgreSQL's text form for the record scanner. */
export function firstFieldIsRewritten(columns: readonly PlannedColumn[]): 'timestamptz' | 'timestamp' | undefined {
  return scannerRewritesFirstColumn(columns.map((column) => column.kind));
}

function expression(column: PlannedColumn, format: CsvFormat): string {
  const value = `report.${identifier(column.name)}`;
  switch (column.kind) {
    case 'text':
      return format.escapeFormulas ? guardedTextSql(value, column) : value;
    case 'timestamptz':
    case 'timestamp':
      return timestampSql(value, column.kind, column.name);
    case 'verbatim':
      return value;
  }
}

function identifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
