import { CRLF, type CsvFormat } from './csv-format.ts';
import type { ColumnKind, PlannedColumn } from './report-contract.ts';

/**
 * The cursor engine's encoder: batches of raw PostgreSQL text values into CSV records written
 * exactly as PostgreSQL's own `COPY … (FORMAT csv)` writes them, so both engines produce
 * byte-identical reports (a test holds them to it):
 * - a field is quoted when it contains the delimiter, a quote, CR or LF (inner quotes doubled);
 * - NULL is an empty field, an empty string is `""`, and a lone `\.` is quoted (COPY's rule);
 * - text cells that a spreadsheet would run as a formula get a leading `'` (text columns only:
 *   numerics arrive as strings too, and "-12.50" must stay as it is);
 * - timestamps get ISO 8601's "T" and a ±HH:MM offset (PostgreSQL writes "-03").
 * A dedicated encoder rather than papaparse: papaparse also quotes values with leading or trailing
 * spaces (so the engines would differ) and cost about a fifth of the CPU (README, Performance).
 */

export type RawRow = (string | null)[];

export class CsvEncoder {
  readonly #columns: readonly PlannedColumn[];
  readonly #format: CsvFormat;
  readonly #needsQuotes: RegExp;

  constructor(columns: readonly PlannedColumn[], format: CsvFormat) {
    this.#columns = columns;
    this.#format = format;
    this.#needsQuotes = new RegExp(`["\\r\\n${format.delimiter === '\t' ? '\\t' : `\\${format.delimiter}`}]`);
  }

  /** The CSV records for a batch, each ending in CRLF. */
  encode(rows: readonly RawRow[]): string {
    const columns = this.#columns;
    const delimiter = this.#format.delimiter;
    let out = '';
    for (const row of rows) {
      for (let i = 0; i < columns.length; i++) {
        if (i > 0) out += delimiter;
        const column = columns[i]!;
        const value = row[column.sourceIndex];
        if (value === null || value === undefined) continue;
        out += this.#quoted(this.#cell(column.kind, value));
      }
      out += CRLF;
    }
    return out;
  }

  #quoted(value: string): string {
    if (value === '') return '""';
    if (!this.#needsQuotes.test(value) && value !== '\\.') return value;
    return `"${value.replaceAll('"', '""')}"`;
  }

  #cell(kind: ColumnKind, value: string): string {
    switch (kind) {
      case 'text':
        return this.#format.escapeFormulas && startsLikeFormula(value) ? `'${value}` : value;
      case 'timestamptz':
        return isoTimestampWithOffset(value);
      case 'timestamp':
        return isoTimestamp(value);
      default:
        return value;
    }
  }
}

/** `= + - @`, tab or CR at the start make a spreadsheet evaluate the cell. */
export function startsLikeFormula(value: string): boolean {
  const first = value.charCodeAt(0);
  return first === 61 || first === 43 || first === 45 || first === 64 || first === 9 || first === 13;
}

/** "2024-10-05 01:00:03.5" → "2024-10-05T01:00:03.5" — the same rewrite the COPY engine's SQL makes. */
export function isoTimestamp(text: string): string {
  return text.replaceAll(' ', 'T');
}

/** "2024-10-05 01:00:03-03" → "2024-10-05T01:00:03-03:00"; "+05:30" offsets are kept as they are. */
export function isoTimestampWithOffset(text: string): string {
  const iso = isoTimestamp(text);
  const sign = iso.charCodeAt(iso.length - 3);
  return sign === 43 || sign === 45 ? `${iso}:00` : iso;
}
