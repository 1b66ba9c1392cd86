/**
 * PostgreSQL's `COPY … (FORMAT csv)` ends records with LF; RFC 4180 (and the report's contract)
 * wants CRLF. This turns one into the other on the byte stream, and counts the records.
 *
 * Only a LF outside quotes ends a record: a LF inside a quoted field is data and stays as it is.
 * Quotes toggle the state (a doubled quote inside a field toggles twice, so stays inside). The
 * scan jumps between quote and newline bytes with Buffer#indexOf (memchr), so text without quotes
 * costs one native search per record, and each chunk is copied once into an exactly sized buffer.
 */
const LF = 10;
const CR = 13;
const QUOTE = 34;

export class CrlfRecords {
  /** Records seen so far (each one a row: the header is not part of COPY's output). */
  rows = 0;
  #inQuotes = false;
  #ends: Int32Array<ArrayBuffer> = new Int32Array(4096);

  transform(chunk: Buffer): Buffer {
    let count = 0;
    let pos = 0;
    let quote = chunk.indexOf(QUOTE, 0);
    for (;;) {
      if (this.#inQuotes) {
        if (quote === -1) break;
        this.#inQuotes = false;
        pos = quote + 1;
        quote = chunk.indexOf(QUOTE, pos);
        continue;
      }
      const newline = chunk.indexOf(LF, pos);
      if (quote !== -1 && (newline === -1 || quote < newline)) {
        this.#inQuotes = true;
        pos = quote + 1;
        quote = chunk.indexOf(QUOTE, pos);
        continue;
      }
      if (newline === -1) break;
      if (count === this.#ends.length) this.#ends = grow(this.#ends);
      this.#ends[count++] = newline;
      pos = newline + 1;
    }
    this.rows += count;
    if (count === 0) return chunk;

    const out = Buffer.allocUnsafe(chunk.length + count);
    let from = 0;
    let to = 0;
    for (let i = 0; i < count; i++) {
      const end = this.#ends[i]!;
      to += chunk.copy(out, to, from, end);
      out[to++] = CR;
      out[to++] = LF;
      from = end + 1;
    }
    chunk.copy(out, to, from);
    return out;
  }
}

function grow(array: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const bigger = new Int32Array(array.length * 2);
  bigger.set(array);
  return bigger;
}
