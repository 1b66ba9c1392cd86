import { setTimeout as sleep } from 'node:timers/promises';

/** `data` as a body of `chunkSize` chunks, counting how much of it the consumer has pulled. */
export function countedBody(data: Buffer, chunkSize: number): { body: AsyncGenerator<Buffer>; bytesRead: () => number } {
  let read = 0;
  async function* chunks() {
    for (let offset = 0; offset < data.length; offset += chunkSize) {
      read += Math.min(chunkSize, data.length - offset);
      yield data.subarray(offset, offset + chunkSize);
    }
  }
  return { body: chunks(), bytesRead: () => read };
}

/** Waits until the consumer has pulled nothing more for `quietMs`; what it had pulled by then. */
export async function untilReadingStops(bytesRead: () => number, quietMs = 300): Promise<number> {
  for (let last = -1; last !== bytesRead(); ) {
    last = bytesRead();
    await sleep(quietMs);
  }
  return bytesRead();
}
