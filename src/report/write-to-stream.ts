import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * Streams the report into an open stream (stdout for `run --dry-run`) with back-pressure,
 * without ending it: the stream belongs to the caller.
 */
export async function writeToStream(body: AsyncIterable<Uint8Array>, out: Writable, signal: AbortSignal): Promise<void> {
  await pipeline(Readable.from(body, { objectMode: false }), out, { signal, end: false });
}
