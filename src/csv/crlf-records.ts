/**
 * Finishes PostgreSQL's `COPY … (FORMAT csv)` output into the report's records, on the bytes:
 * - records end with LF; RFC 4180 (and the contract) wants CRLF;
 * - with `isoFirstField`, the first field is a timestamptz in PostgreSQL's text form
 *   ("2024-10-05 01:00:03.5-03") and becomes ISO 8601 ("2024-10-05T01:00:03.5-03:00"). By
 *   contract that field is data_extracao, and doing it here instead of in SQL saves the server
 *   a per-row conversion (measured in the README's Performance section).
 * Only a LF outside quotes ends a record: a LF inside a quoted field is data. Quotes toggle the
 * state (a doubled quote toggles twice). The scan jumps between quote and newline bytes with
 * Buffer#indexOf (memchr). An unfinished record is carried to the next chunk, so every rewrite
 * sees whole records; each chunk is copied once into an exactly sized buffer.
 */
const LF = 10;
const CR = 13;
const QUOTE = 34;
const SPACE = 32;
const T = 84;
const PLUS = 43;
const MINUS = 45;
const OFFSET_MINUTES = Buffer.from(':00');

export interface CrlfRecordsOptions {
  /** The CSV delimiter (to find the end of the first field). */
  readonly delimiter: string;
  /** Rewrite the first field from PostgreSQL's timestamptz text to ISO 8601. */
  readonly isoFirstField: boolean;
}

export class CrlfRecords {
  /** Records completed so far (each one a row: the header is not part of COPY's output). */
  rows = 0;
  readonly #delimiter: number;
  readonly #isoFirstField: boolean;
  #inQuotes = false;
  /** Where the unfinished record carried over from the previous chunk stops being scanned. */
  #scanned = 0;
  #carry: Buffer = Buffer.alloc(0);
  #ends: Int32Array<ArrayBuffer> = new Int32Array(4096);

  constructor(options: CrlfRecordsOptions) {
    this.#delimiter = options.delimiter.charCodeAt(0);
    this.#isoFirstField = options.isoFirstField;
  }

  /** The complete records in `chunk` (with what was carried over), CRLF-terminated. */
  transform(chunk: Buffer): Buffer {
    const data = this.#carry.length === 0 ? chunk : Buffer.concat([this.#carry, chunk]);
    const count = this.#findRecordEnds(data);
    if (count === 0) {
      this.#carry = data;
      this.#scanned = data.length;
      return Buffer.alloc(0);
    }
    const last = this.#ends[count - 1]!;
    this.#carry = data.subarray(last + 1);
    this.#scanned = this.#carry.length;
    this.rows += count;
    return this.#write(data, count);
  }

  /** Whatever is left at the end of the stream: COPY ends every record, so normally nothing. */
  flush(): Buffer {
    const rest = this.#carry;
    this.#carry = Buffer.alloc(0);
    return rest;
  }

  #findRecordEnds(data: Buffer): number {
    let count = 0;
    // The carried-over part was scanned already; the quote state after it is kept in #inQuotes.
    let pos = this.#scanned;
    let quote = data.indexOf(QUOTE, pos);
    for (;;) {
      if (this.#inQuotes) {
        if (quote === -1) break;
        this.#inQuotes = false;
        pos = quote + 1;
        quote = data.indexOf(QUOTE, pos);
        continue;
      }
      const newline = data.indexOf(LF, pos);
      if (quote !== -1 && (newline === -1 || quote < newline)) {
        this.#inQuotes = true;
        pos = quote + 1;
        quote = data.indexOf(QUOTE, pos);
        continue;
      }
      if (newline === -1) break;
      if (count === this.#ends.length) this.#ends = grow(this.#ends);
      this.#ends[count++] = newline;
      pos = newline + 1;
    }
    return count;
  }

  #write(data: Buffer, count: number): Buffer {
    const iso = this.#isoFirstField;
    const out = Buffer.allocUnsafe(data.length - this.#carry.length + count * (iso ? 4 : 1));
    let from = 0;
    let to = 0;
    for (let i = 0; i < count; i++) {
      const end = this.#ends[i]!;
      if (iso) {
        let fieldEnd = data.indexOf(this.#delimiter, from);
        if (fieldEnd === -1 || fieldEnd > end) fieldEnd = end;
        const start = to;
        to += data.copy(out, to, from, fieldEnd);
        if (fieldEnd - from > 10 && out[start + 10] === SPACE) out[start + 10] = T;
        const sign = out[to - 3];
        if (fieldEnd - from >= 3 && (sign === PLUS || sign === MINUS)) to += OFFSET_MINUTES.copy(out, to);
        from = fieldEnd;
      }
      to += data.copy(out, to, from, end);
      out[to++] = CR;
      out[to++] = LF;
      from = end + 1;
    }
    return out.subarray(0, to);
  }
}

function grow(array: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const bigger = new Int32Array(array.length * 2);
  bigger.set(array);
  return bigger;
}
