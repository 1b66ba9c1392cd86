/**
 * The one place where a segment's bytes (and the header's) are encoded on their way into the
 * report, by the worker that produced them — so encoding runs on every core. Identity for an
 * uncompressed report; REPORT_COMPRESSION plugs `segmentCompressor` (report-compression.ts) in
 * here: each segment its own gzip member or zstd frame, whose concatenation is one valid stream.
 */
export function encodeSegment(bytes: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  return bytes;
}
