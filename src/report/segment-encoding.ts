import type { Hash } from 'node:crypto';
import { compressSegment, type Compression } from './report-compression.ts';

/**
 * How the segments of one report are encoded, and the plain CSV bytes they held (the manifest's
 * `uncompressed_bytes`; hashed too where the one segment is the whole report, in order).
 */
export interface SegmentEncoding {
  readonly compression: Compression;
  readonly plain: { bytes: number; readonly hash?: Hash };
}

/**
 * The one place where a segment's bytes (and the header's) are encoded on their way into the
 * report, by the worker that produced them — so encoding runs on every core. With gzip each
 * segment is its own member, and members concatenate into one valid stream that every gzip reader
 * decompresses whole (RFC 1952 §2.2). zstd is not encoded here but once over the merged stream
 * (run-report.ts): Node's and python-zstandard's default decoders stop after a stream's first
 * frame (docs/compression.md), and zstd's level 1 is fast enough on one core not to matter.
 */
export function encodeSegment(bytes: AsyncIterable<Buffer>, encoding: SegmentEncoding): AsyncIterable<Buffer> {
  // Uncompressed, the caller counts the CSV itself (run-report.ts): no extra hop per chunk.
  if (encoding.compression === 'none') return bytes;
  return compressSegment(countPlain(bytes, encoding.plain), encoding.compression) as AsyncIterable<Buffer>;
}

async function* countPlain(bytes: AsyncIterable<Buffer>, plain: SegmentEncoding['plain']): AsyncGenerator<Buffer> {
  for await (const chunk of bytes) {
    plain.bytes += chunk.length;
    plain.hash?.update(chunk);
    yield chunk;
  }
}
