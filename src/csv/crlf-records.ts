import { contractTimestamp, CRLF, TimestampOutOfRange, timestampOutOfRange } from './csv-rules.ts';

/**
 * Finishes PostgreSQL's `COPY … (FORMAT csv)` output into the report's records, on the bytes, as
 * they stream:
 * - records end with LF; RFC 4180 (and the contract) wants CRLF;
 * - with `firstField`, the first field is a timestamp in PostgreSQL's text form
 *   ("2024-10-05 01:00:03.5-03") and becomes the contract's ("2024-10-05T01:00:03.500000-03:00",
 *   csv-rules.ts). By contract that field is data_extracao, and doing it here instead of in SQL
 *   saves the server a per-row conversion (README, Performance).
 * Only a LF outside quotes ends a record: a LF inside a quoted field is data. Quotes toggle the
 * state (a doubled quote toggles twice). The scan jumps between quote and newline bytes with
 * Buffer#indexOf (memchr), each position searched once per chunk.
 *
 * Nothing but the first field (a timestamp, a few dozen bytes) is ever held back: the rest of a
 * record is passed on as it arrives, so a field of any size streams through in bounded memory and
 * linear time (a 64 MB value used to be re-concatenated with every chunk: quadratic).
 */
const LF = 10;
const QUOTE = 34;
const CRLF_BYTES = Buffer.from(CRLF);
/** Longer than any timestamp PostgreSQL writes ("-infinity", "294276-12-31 23:59:59.999999-15:59:59 BC"). */
const MAX_FIRST_FIELD = 64;

export interface CrlfRecordsOptions {
  /** The CSV delimiter (to find the end of the first field). */
  readonly delimiter: string;
  /** Rewrite the first field from PostgreSQL's timestamp text to the contract's form. */
  readonly firstField?: 'timestamptz' | 'timestamp' | undefined;
  /** The first column's name, for errors. */
  readonly firstColumn?: string;
}

export class CrlfRecords {
  /** Records completed so far (each one a row: the header is not part of COPY's output). */
  rows = 0;
  readonly #delimiter: number;
  readonly #firstField: 'timestamptz' | 'timestamp' | undefined;
  readonly #firstColumn: string;
  #inQuotes = false;
  /** Bytes of the current record already passed on (0: at a record's start). */
  #recordBytes = 0;
  /** Collecting the current record's first field (only with `firstField`). */
  #inFirstField: boolean;
  #pending: Buffer[] = [];
  #pendingLength = 0;
  // The last first field and its rewrite: data_extracao is usually the same on every row.
  #lastIn: Buffer = Buffer.alloc(0);
  #lastOut: Buffer = Buffer.alloc(0);

  constructor(options: CrlfRecordsOptions) {
    this.#delimiter = options.delimiter.charCodeAt(0);
    this.#firstField = options.firstField;
    this.#firstColumn = options.firstColumn ?? 'data_extracao';
    this.#inFirstField = options.firstField !== undefined;
  }

  /** The bytes of `chunk` as the report's, CRLF-terminated records (a record may span chunks). */
  transform(chunk: Buffer): Buffer {
    const parts: Buffer[] = [];
    const n = chunk.length;
    let from = 0; // the first byte not yet handed on
    let pos = 0;
    // Cached search results within this chunk: -2 not searched yet, -1 none left.
    let quote = -2;
    let newline = -2;
    while (pos < n) {
      if (this.#inFirstField) {
        const end = chunk.indexOf(this.#delimiter, pos);
        if (end === -1) {
          this.#hold(chunk.subarray(pos));
          pos = from = n;
          break;
        }
        this.#hold(chunk.subarray(pos, end));
        parts.push(this.#rewriteFirstField());
        this.#inFirstField = false;
        pos = from = end;
        continue;
      }
      if (quote !== -1 && quote < pos) quote = chunk.indexOf(QUOTE, pos);
      if (this.#inQuotes) {
        if (quote === -1) break;
        this.#inQuotes = false;
        pos = quote + 1;
        continue;
      }
      if (newline !== -1 && newline < pos) newline = chunk.indexOf(LF, pos);
      if (quote !== -1 && (newline === -1 || quote < newline)) {
        this.#inQuotes = true;
        pos = quote + 1;
        continue;
      }
      if (newline === -1) break;
      parts.push(chunk.subarray(from, newline), CRLF_BYTES);
      this.rows++;
      this.#recordBytes = 0;
      pos = from = newline + 1;
      if (this.#firstField !== undefined) this.#inFirstField = true;
    }
    if (from < n) {
      parts.push(chunk.subarray(from));
      this.#recordBytes += n - from;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }

  /** At the end of the stream: COPY ends every record, so anything unfinished is an error. */
  end(): void {
    const unterminated = this.#recordBytes + this.#pendingLength;
    if (unterminated > 0) throw new Error(`COPY output ended inside a record (${unterminated} bytes unterminated)`);
  }

  #hold(bytes: Buffer): void {
    this.#pendingLength += bytes.length;
    if (this.#pendingLength > MAX_FIRST_FIELD) throw new Error(`the first field of record ${this.rows + 1} is not a timestamp (over ${MAX_FIRST_FIELD} bytes)`);
    // Copied: the chunk it came from is handed on and may be reused.
    if (bytes.length > 0) this.#pending.push(Buffer.from(bytes));
  }

  #rewriteFirstField(): Buffer {
    const field = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending, this.#pendingLength);
    this.#pending = [];
    this.#pendingLength = 0;
    this.#recordBytes += 1;
    if (field.length === 0) return field; // NULL
    if (field.equals(this.#lastIn)) return this.#lastOut;
    let rewritten: string;
    try {
      rewritten = contractTimestamp(field.toString('latin1'), this.#firstField === 'timestamptz');
    } catch (error) {
      if (error instanceof TimestampOutOfRange) throw timestampOutOfRange(this.#firstColumn, this.rows + 1, error.value, error);
      throw error;
    }
    this.#lastIn = field;
    this.#lastOut = Buffer.from(rewritten, 'latin1');
    return this.#lastOut;
  }
}
