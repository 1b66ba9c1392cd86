import type { CsvFormat } from './csv-format.ts';
import { contractTimestamp, CRLF, FORMULA_PREFIX, QUOTE, startsLikeFormula, quotingPattern, TimestampOutOfRange, timestampOutOfRange } from './csv-rules.ts';
import type { PlannedColumn } from './report-contract.ts';

/**
 * The cursor engine's encoder: batches of raw PostgreSQL text values into CSV records written by
 * the contract's rules (csv-rules.ts) exactly as the COPY engine's SQL has PostgreSQL write them,
 * so both engines produce byte-identical reports (a property test holds them to it).
 * A dedicated encoder rather than papaparse: papaparse also quotes values with leading or trailing
 * spaces (so the engines would differ) and cost about a fifth of the CPU (README, Performance).
 *
 * Records are gathered in a string and handed on as UTF-8 chunks of about `CHUNK_CHARS`; a value
 * larger than that is written straight from the value in slices, so a huge field costs no copy of
 * itself on the heap (only its UTF-8 bytes, off the heap, a slice at a time).
 */

export type RawRow = (string | null)[];

const CHUNK_CHARS = 1 << 16;
const SLICE_CHARS = 1 << 20;
const DOUBLED_QUOTE = QUOTE + QUOTE;

export class CsvEncoder {
  readonly #columns: readonly PlannedColumn[];
  readonly #format: CsvFormat;
  readonly #needsQuotes: RegExp;

  constructor(columns: readonly PlannedColumn[], format: CsvFormat) {
    this.#columns = columns;
    this.#format = format;
    this.#needsQuotes = quotingPattern(format.delimiter);
  }

  /** The CSV records for a batch, each ending in CRLF, as UTF-8 chunks. `rowsBefore`: rows of earlier batches (for errors). */
  *encode(rows: readonly RawRow[], rowsBefore = 0): Generator<Buffer> {
    const columns = this.#columns;
    const delimiter = this.#format.delimiter;
    let out = '';
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r]!;
      for (let i = 0; i < columns.length; i++) {
        if (i > 0) out += delimiter;
        const column = columns[i]!;
        const raw = row[column.sourceIndex];
        if (raw === null || raw === undefined) continue;
        // The guard's prefix is kept apart from a large value: joined, the value would be copied.
        const prefix = column.kind === 'text' && this.#format.escapeFormulas && startsLikeFormula(raw) ? FORMULA_PREFIX : '';
        const value = this.#cell(column, raw, rowsBefore + r + 1);
        if (value.length <= CHUNK_CHARS) {
          out += this.#quoted(prefix + value);
          continue;
        }
        if (out !== '') yield Buffer.from(out, 'utf8');
        out = '';
        yield* this.#large(prefix, value);
      }
      out += CRLF;
      if (out.length >= CHUNK_CHARS) {
        yield Buffer.from(out, 'utf8');
        out = '';
      }
    }
    if (out !== '') yield Buffer.from(out, 'utf8');
  }

  /** The whole of `encode`, as one string (tests, small batches). */
  encodeToString(rows: readonly RawRow[]): string {
    return Buffer.concat([...this.encode(rows)]).toString('utf8');
  }

  #quoted(value: string): string {
    if (value === '') return '""';
    if (!this.#needsQuotes.test(value)) return value;
    return `"${value.replaceAll(QUOTE, DOUBLED_QUOTE)}"`;
  }

  /** `prefix` and a large value, quoted as `#quoted` would, written in slices of the original string. */
  *#large(prefix: string, value: string): Generator<Buffer> {
    // The prefix (the formula guard's ') never needs quoting itself.
    const quoted = this.#needsQuotes.test(value);
    if (quoted || prefix !== '') yield Buffer.from(quoted ? QUOTE + prefix : prefix);
    for (let at = 0; at < value.length; ) {
      let to = Math.min(at + SLICE_CHARS, value.length);
      // Never split a surrogate pair between two slices: each half would become U+FFFD.
      if (to < value.length && isHighSurrogate(value.charCodeAt(to - 1))) to--;
      const slice = value.slice(at, to);
      yield Buffer.from(quoted ? slice.replaceAll(QUOTE, DOUBLED_QUOTE) : slice, 'utf8');
      at = to;
    }
    if (quoted) yield Buffer.from(QUOTE);
  }

  /** The value as written, without the formula guard's prefix. */
  #cell(column: PlannedColumn, value: string, row: number): string {
    switch (column.kind) {
      case 'timestamptz':
      case 'timestamp':
        try {
          return contractTimestamp(value, column.kind === 'timestamptz');
        } catch (error) {
          if (error instanceof TimestampOutOfRange) throw timestampOutOfRange(column.name, row, value, error);
          throw error;
        }
      default:
        return value;
    }
  }
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
