import { Crc32c } from '@aws-crypto/crc32c';
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { S3ChecksumAlgorithm } from '../config/config.ts';

/**
 * The checksums S3 keeps for an object, computed on our side from the bytes we send, so that S3
 * checks every part on arrival and one HeadObject can confirm the object end to end.
 *
 * A single PutObject's checksum covers the whole object; a multipart upload's (COMPOSITE, S3's
 * default for these algorithms) is the checksum of the parts' checksums followed by "-<parts>".
 */
export type ChecksumAlgorithm = Exclude<S3ChecksumAlgorithm, 'NONE'>;

/** The raw digest of `bytes` (big-endian for the CRCs, as S3 encodes them). */
export function checksumOf(algorithm: ChecksumAlgorithm, bytes: Uint8Array): Buffer {
  switch (algorithm) {
    case 'CRC32':
      return uint32(crc32(bytes));
    case 'CRC32C':
      return uint32(new Crc32c().update(bytes).digest());
    case 'SHA256':
      return createHash('sha256').update(bytes).digest();
  }
}

/** What S3 reports for a multipart upload whose parts had these digests: base64 + "-N". */
export function compositeChecksum(algorithm: ChecksumAlgorithm, partDigests: readonly Buffer[]): string {
  return `${checksumOf(algorithm, Buffer.concat(partDigests)).toString('base64')}-${partDigests.length}`;
}

function uint32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value >>> 0);
  return buffer;
}

/** A checksum over a whole object, fed part after part in order. */
export interface RunningChecksum {
  update(bytes: Uint8Array): void;
  digest(): Buffer;
}

/**
 * The CRCs S3 can check over the whole object of a multipart upload (ChecksumType FULL_OBJECT);
 * undefined for SHA256 (composite only) and NONE.
 */
export function fullObjectChecksum(algorithm: S3ChecksumAlgorithm): RunningChecksum | undefined {
  if (algorithm === 'CRC32') {
    let value = 0;
    return { update: (bytes) => void (value = crc32(bytes, value)), digest: () => uint32(value) };
  }
  if (algorithm === 'CRC32C') {
    const running = new Crc32c();
    return { update: (bytes) => void running.update(bytes), digest: () => uint32(running.digest()) };
  }
  return undefined;
}
