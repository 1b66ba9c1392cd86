import { Readable, type Transform } from 'node:stream';
import { constants, createGzip, createZstdCompress } from 'node:zlib';
import type { ReportCompression } from '../config/config.ts';

/**
 * Compressed reports (`REPORT_COMPRESSION`, docs/compression.md): the compressor of one segment,
 * the key suffix, the object's content type. Node's own zlib does both formats (no dependency).
 *
 * A report body is a header plus an ordered list of segments; each segment is compressed on its
 * own — one gzip member, one zstd frame — and their concatenation is one valid stream (RFC 1952
 * §2.2, RFC 8878 §3.1), so segments can be compressed by different workers. The header goes into
 * segment 0's member: a single-segment report is then exactly one member, the form every reader
 * of .gz / .zst handles.
 */

export type Compression = ReportCompression;

/** The levels, measured on the shipped query's CSV (docs/compression.md, "Levels"). */
export const GZIP_LEVEL = 6;
export const ZSTD_LEVEL = 1;

const SUFFIXES: Readonly<Record<Compression, string>> = { none: '', gzip: '.gz', zstd: '.zst' };

/** The CSV's own type uncompressed. */
export const CSV_CONTENT_TYPE = 'text/csv; charset=utf-8';

/**
 * Compressed, the object is what it is on disk — `application/gzip` (RFC 6713), `application/zstd`
 * (RFC 8878) — and has no Content-Encoding: with `Content-Encoding: gzip` browsers and HTTP clients
 * decompress silently, so the downloaded bytes would no longer be the ones the manifest's sha256 names.
 */
const CONTENT_TYPES: Readonly<Record<Compression, string>> = { none: CSV_CONTENT_TYPE, gzip: 'application/gzip', zstd: 'application/zstd' };

/** A fresh compressor for one segment (one gzip member / one zstd frame); undefined for 'none'. */
export function segmentCompressor(compression: Compression): Transform | undefined {
  switch (compression) {
    case 'none':
      return undefined;
    case 'gzip':
      return createGzip({ level: GZIP_LEVEL });
    case 'zstd':
      // The frame's content checksum (xxh64) lets `zstd -t` and every decoder detect a damaged download on its own.
      return createZstdCompress({ params: { [constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL, [constants.ZSTD_c_checksumFlag]: 1 } });
  }
}

/**
 * One segment's bytes through its own compressor (or unchanged for 'none'). Errors of `chunks`
 * come out as they are (a database error keeps its class and exit code); stopping early (a failed
 * upload) closes `chunks`, so its cursor and transaction are released.
 */
export async function* compressSegment(chunks: AsyncIterable<Uint8Array>, compression: Compression): AsyncGenerator<Uint8Array> {
  const compressor = segmentCompressor(compression);
  if (compressor === undefined) {
    yield* chunks;
    return;
  }
  const source = Readable.from(batched(chunks, BATCH_BYTES), { objectMode: false });
  source.on('error', (error) => compressor.destroy(error));
  source.pipe(compressor);
  try {
    for await (const chunk of compressor) yield chunk as Buffer;
  } finally {
    source.unpipe(compressor);
    source.destroy();
    compressor.destroy();
  }
}

/**
 * Each write to a zlib stream is a round trip to libuv's thread pool. The engines' chunks are large
 * today (COPY: about 100 KiB each, measured), but fed in chunks of 100 bytes compression was 50×
 * slower (40 MB: zstd 8.6 s against 0.16 s batched), so whatever a segment's producer yields is
 * gathered into writes of at least this much first.
 */
export const BATCH_BYTES = 64 * 1024;

async function* batched(chunks: AsyncIterable<Uint8Array>, bytes: number): AsyncGenerator<Uint8Array> {
  let pending: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of chunks) {
    if (chunk.length >= bytes && size === 0) {
      yield chunk;
      continue;
    }
    pending.push(chunk);
    size += chunk.length;
    if (size >= bytes) {
      yield Buffer.concat(pending, size);
      pending = [];
      size = 0;
    }
  }
  if (size > 0) yield Buffer.concat(pending, size);
}

export function compressionSuffix(compression: Compression): string {
  return SUFFIXES[compression];
}

export function reportContentType(compression: Compression): string {
  return CONTENT_TYPES[compression];
}

/** The suffix a key already ends in, if it is one of ours. */
function suffixOf(key: string): Exclude<Compression, 'none'> | undefined {
  if (key.endsWith(SUFFIXES.gzip)) return 'gzip';
  if (key.endsWith(SUFFIXES.zstd)) return 'zstd';
  return undefined;
}

/**
 * The published key: the template's key with `.gz` / `.zst` appended. A template that already ends
 * in the matching suffix keeps it once (`{YYYYMMDD}.csv.gz` with gzip); one that ends in another is
 * refused by `keyCompressionProblem` before anything runs.
 */
export function compressedKey(key: string, compression: Compression): string {
  const suffix = SUFFIXES[compression];
  return suffix === '' || key.endsWith(suffix) ? key : `${key}${suffix}`;
}

/** What is wrong with a key template for a compression, or undefined. */
export function keyCompressionProblem(template: string, compression: Compression): string | undefined {
  const ends = suffixOf(template);
  if (ends === undefined || ends === compression) return undefined;
  const suffix = SUFFIXES[ends];
  return compression === 'none'
    ? `REPORT_KEY_TEMPLATE ends in ${suffix} but REPORT_COMPRESSION is none: the object would be plain CSV under a ${suffix} name; set REPORT_COMPRESSION=${ends}, or remove ${suffix} from the template`
    : `REPORT_KEY_TEMPLATE ends in ${suffix} but REPORT_COMPRESSION is ${compression}: set REPORT_COMPRESSION=${ends}, or remove ${suffix} from the template (the job appends ${SUFFIXES[compression]} itself)`;
}

/**
 * The key a date's report has in each compression, the configured one first: a report published
 * uncompressed yesterday and compressed today is one report (`backfill --missing-only`).
 */
export function keysInEveryCompression(key: string, compression: Compression): string[] {
  const ends = suffixOf(key);
  const base = ends === undefined ? key : key.slice(0, -SUFFIXES[ends].length);
  const all = (['none', 'gzip', 'zstd'] as const).map((c) => compressedKey(base, c));
  const mine = compressedKey(base, compression);
  return [mine, ...all.filter((k) => k !== mine)];
}
