/**
 * The most of a lock or manifest object that is read. Ours are a few kilobytes; anything under
 * those names that is bigger (a mistaken upload, a hostile writer) is nobody's lock or manifest, and
 * reading it whole would hold it all in memory — a 600 MB "manifest" took a run to 1.3 GB of RSS,
 * an OOM kill at the chart's limit on every retry, and one over 2 GiB failed every run locally.
 */
export const SMALL_OBJECT_READ_LIMIT_BYTES = 1024 * 1024;

/**
 * A small object's bytes, at most `limit` + 1 of them: a bigger object's are cut there (so it never
 * parses as a lock or a manifest: the publisher takes it for a broken one) and the rest of the
 * stream is dropped unread.
 */
export async function readAtMost(body: AsyncIterable<Uint8Array> & { destroy?: () => void }, limit = SMALL_OBJECT_READ_LIMIT_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  try {
    for await (const chunk of body) {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      const room = limit + 1 - bytes;
      chunks.push(buffer.length > room ? buffer.subarray(0, room) : buffer);
      bytes += Math.min(buffer.length, room);
      if (bytes > limit) break;
    }
  } finally {
    if (bytes > limit) body.destroy?.();
  }
  return Buffer.concat(chunks, bytes);
}
