import { contractTimestamp, TimestampOutOfRange, timestampOutOfRange } from './csv-rules.ts';

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
const CR = 13;
const SMALL_COPY = 48;
/** Longer than any timestamp PostgreSQL writes ("-infinity", "294276-12-31 23:59:59.999999-15:59:59 BC"). */
const MAX_FIRST_FIELD = 64;
const EMPTY = Buffer.alloc(0);

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
  #out: Buffer = EMPTY;
  #to = 0;

  constructor(options: CrlfRecordsOptions) {
    this.#delimiter = options.delimiter.charCodeAt(0);
    this.#firstField = options.firstField;
    this.#firstColumn = options.firstColumn ?? 'data_extracao';
    this.#inFirstField = options.firstField !== undefined;
  }

  /** The bytes of `chunk` as the report's, CRLF-terminated records (a record may span chunks). */
  transform(chunk: Buffer): Buffer {
    const n = chunk.length;
    // One output buffer per chunk, grown if the rewrites need it (no object per record: at a
    // million rows, views per record cost ~50 MB of peak RSS in garbage).
    this.#out = Buffer.allocUnsafe(n + (n >> 1) + 128);
    this.#to = 0;
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
        if (this.#pendingLength === 0) this.#putFirstField(chunk, pos, end);
        else {
          this.#hold(chunk.subarray(pos, end));
          const field = Buffer.concat(this.#pending, this.#pendingLength);
          this.#pending = [];
          this.#pendingLength = 0;
          this.#putFirstField(field, 0, field.length);
        }
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
      this.#put(chunk, from, newline + 1);
      // CR before the LF, in place: a copy call per two bytes is a measurable cost per row.
      this.#out[this.#to - 1] = CR;
      this.#out[this.#to++] = LF;
      this.rows++;
      this.#recordBytes = 0;
      pos = from = newline + 1;
      if (this.#firstField !== undefined) this.#inFirstField = true;
    }
    if (from < n) {
      this.#put(chunk, from, n);
      this.#recordBytes += n - from;
    }
    const out = this.#out.subarray(0, this.#to);
    this.#out = EMPTY;
    return out;
  }

  /** Appends `source[start, end)` (end -1: to its end) to the chunk's output, growing it when needed. */
  #put(source: Buffer, start: number, end: number): void {
    const stop = end === -1 ? source.length : end;
    const length = stop - start;
    // One more byte than asked: a record's LF becomes CRLF in place.
    if (this.#to + length + 1 > this.#out.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.#out.length * 2, this.#to + length + 1));
      this.#out.copy(bigger, 0, 0, this.#to);
      this.#out = bigger;
    }
    if (length <= SMALL_COPY) {
      // A native copy costs more than a loop for a first field's few dozen bytes.
      const out = this.#out;
      let to = this.#to;
      for (let i = start; i < stop; i++) out[to++] = source[i]!;
      this.#to = to;
    } else this.#to += source.copy(this.#out, this.#to, start, stop);
  }

  /** At the end of the stream: COPY ends every record, so anything unfinished is an error. */
  end(): void {
    const unterminated = this.#recordBytes + this.#pendingLength;
    if (unterminated > 0) throw new Error(`COPY output ended inside a record (${unterminated} bytes unterminated)`);
  }

  #hold(bytes: Buffer): void {
    this.#pendingLength += bytes.length;
    if (this.#pendingLength > MAX_FIRST_FIELD) throw new Error(`the first field of record ${this.rows + 1} is not a timestamp (over ${MAX_FIRST_FIELD} bytes)`);
    // Copied: only a field cut by a chunk's end is held, and the chunk itself is handed on.
    if (bytes.length > 0) this.#pending.push(Buffer.from(bytes));
  }

  /** Writes the first field, `source[start, end)`, in the contract's form (NULL stays empty). */
  #putFirstField(source: Buffer, start: number, end: number): void {
    this.#recordBytes += 1;
    if (end === start) return;
    const last = this.#lastIn;
    // No allocation on the common path: the same value as the previous row.
    if (end - start !== last.length || source.compare(last, 0, last.length, start, end) !== 0) {
      let rewritten: string;
      try {
        rewritten = contractTimestamp(source.toString('latin1', start, end), this.#firstField === 'timestamptz');
      } catch (error) {
        if (error instanceof TimestampOutOfRange) throw timestampOutOfRange(this.#firstColumn, this.rows + 1, error.value, error);
        throw error;
      }
      this.#lastIn = Buffer.from(source.subarray(start, end));
      this.#lastOut = Buffer.from(rewritten, 'latin1');
    }
    this.#put(this.#lastOut, 0, -1);
  }
}
