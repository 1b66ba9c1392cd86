import Papa from 'papaparse';
import type { PlannedColumn } from './report-contract.ts';

/**
 * Turns batches of raw PostgreSQL text values into RFC 4180 CSV text.
 *
 * Values arrive as PostgreSQL's own text output (the type parsers are raw), so numerics and
 * bigints are exact by construction. Only two things are changed on the way out:
 * - timestamps get ISO 8601's "T" and a ±HH:MM offset (PostgreSQL writes "-03");
 * - text cells that a spreadsheet would run as a formula get a leading "'" (OWASP CSV
 *   injection). This is applied to text-typed columns only: papaparse's own `escapeFormulae`
 *   would also hit numerics, which arrive as strings, and corrupt "-12.50".
 */

export interface CsvFormat {
  readonly delimiter: string;
  readonly bom: boolean;
  readonly escapeFormulas: boolean;
}

export type RawRow = (string | null)[];

const NEWLINE = '\r\n';
const BOM = '\uFEFF';

export class CsvEncoder {
  readonly #columns: readonly PlannedColumn[];
  readonly #format: CsvFormat;
  readonly #unparseConfig: Papa.UnparseConfig;
  readonly #inContractOrder: boolean;

  constructor(columns: readonly PlannedColumn[], format: CsvFormat) {
    this.#columns = columns;
    this.#format = format;
    this.#inContractOrder = columns.every((column, index) => column.sourceIndex === index);
    this.#unparseConfig = {
      delimiter: format.delimiter,
      newline: NEWLINE,
      header: false,
      escapeFormulae: false,
      // NULL is an empty field; an empty string must stay distinguishable from it, so it is quoted.
      quotes: (value: unknown) => value === '',
    };
  }

  /** The header line (with the BOM when configured). */
  header(): string {
    const line = Papa.unparse([this.#columns.map((column) => column.name)], this.#unparseConfig) + NEWLINE;
    return this.#format.bom ? BOM + line : line;
  }

  /** The CSV lines for a batch, each ending in CRLF. Rows are rewritten in place (they are not reused). */
  encode(rows: RawRow[]): string {
    if (rows.length === 0) return '';
    const prepared = this.#inContractOrder ? rows : rows.map((row) => this.#columns.map((column) => row[column.sourceIndex] ?? null));
    for (const row of prepared) {
      for (let i = 0; i < this.#columns.length; i++) {
        const value = row[i];
        if (value === null || value === undefined) continue;
        row[i] = this.#cell(this.#columns[i]!.kind, value);
      }
    }
    return Papa.unparse(prepared, this.#unparseConfig) + NEWLINE;
  }

  #cell(kind: PlannedColumn['kind'], value: string): string {
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

/** "2024-10-05 01:00:03.5" → "2024-10-05T01:00:03.5"; anything else (infinity, BC) unchanged. */
export function isoTimestamp(text: string): string {
  return text.charCodeAt(10) === 32 ? `${text.slice(0, 10)}T${text.slice(11)}` : text;
}

/** "2024-10-05 01:00:03-03" → "2024-10-05T01:00:03-03:00"; "+05:30" offsets are kept as they are. */
export function isoTimestampWithOffset(text: string): string {
  const iso = isoTimestamp(text);
  const sign = iso.charCodeAt(iso.length - 3);
  return sign === 43 || sign === 45 ? `${iso}:00` : iso;
}
