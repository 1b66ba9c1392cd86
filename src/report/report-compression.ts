import { Readable, type Transform } from 'node:stream';
import { constants, createGzip, createZstdCompress, type Gzip, type ZstdCompress } from 'node:zlib';
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
  return zlibCompressor(compression);
}

function zlibCompressor(compression: Compression): Gzip | ZstdCompress | undefined {
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
  const compressor = zlibCompressor(compression);
  if (compressor === undefined) {
    yield* chunks;
    return;
  }
  // Each write is a round trip to libuv's thread pool: fine for the engines' chunks (COPY's are about
  // 100 KiB, measured), 50× slower for 100-byte ones (40 MB with zstd: 8.6 s against 0.16 s) — a
  // producer of tiny chunks should gather them first. (Gathering here would hold back the flush below.)
  const source = Readable.from(chunks, { objectMode: false });
  source.on('error', (error) => compressor.destroy(error));
  source.pipe(compressor);
  // A compressor emits nothing until it has a buffer's worth (16 KiB compressed: 100 KiB to MBs of
  // CSV). Rows that trickle in would then not reach the upload for minutes — the publisher's stall
  // watchdog (2 × STORAGE_REQUEST_TIMEOUT) would take that for a hung upload. So input that has
  // waited FLUSH_AFTER_MS is flushed out (a sync flush: the member / frame goes on).
  let outputAt = performance.now();
  let flushedInput = 0;
  const flusher = setInterval(() => {
    const consumed = compressor.bytesWritten;
    if (consumed > flushedInput && performance.now() - outputAt >= FLUSH_AFTER_MS && !compressor.writableEnded && !compressor.destroyed) {
      flushedInput = consumed;
      compressor.flush(compression === 'gzip' ? constants.Z_SYNC_FLUSH : constants.ZSTD_e_flush, () => undefined);
    }
  }, FLUSH_AFTER_MS / 2).unref();
  try {
    for await (const chunk of compressor) {
      outputAt = performance.now();
      yield chunk as Buffer;
    }
  } finally {
    clearInterval(flusher);
    source.unpipe(compressor);
    source.destroy();
    compressor.destroy();
  }
}

/** Input held this long without output is flushed; far below the smallest stall timeout (2 × 1 s). */
export const FLUSH_AFTER_MS = 500;

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
