import { Crc32c } from '@aws-crypto/crc32c';
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import type { S3ChecksumAlgorithm } from '../config/config.ts';

/**
 * The checksum S3 reports for an object, computed on our side from the bytes we sent, so the
 * upload can be verified end to end with one HeadObject.
 *
 * S3 reports a single PutObject's checksum over the whole object, and a multipart upload's as a
 * checksum of the parts' checksums followed by "-<parts>" (COMPOSITE). lib-storage cuts the body
 * into parts of exactly `partSize` bytes (the last one shorter), so the parts can be followed here.
 */

interface Digest {
  update(data: Uint8Array): void;
  /** The raw digest bytes (big-endian for the CRCs, as S3 encodes them). */
  digest(): Buffer;
}

function newDigest(algorithm: Exclude<S3ChecksumAlgorithm, 'NONE'>): Digest {
  switch (algorithm) {
    case 'CRC32': {
      let value = 0;
      return { update: (data) => void (value = crc32(data, value)), digest: () => uint32(value) };
    }
    case 'CRC32C': {
      const crc = new Crc32c();
      return { update: (data) => void crc.update(data), digest: () => uint32(crc.digest()) };
    }
    case 'SHA256': {
      const hash = createHash('sha256');
      return { update: (data) => void hash.update(data), digest: () => hash.digest() };
    }
  }
}

export class PartChecksums {
  readonly #algorithm: Exclude<S3ChecksumAlgorithm, 'NONE'>;
  readonly #partSize: number;
  readonly #whole: Digest;
  readonly #parts: Buffer[] = [];
  #part: Digest;
  #inPart = 0;

  constructor(algorithm: Exclude<S3ChecksumAlgorithm, 'NONE'>, partSize: number) {
    this.#algorithm = algorithm;
    this.#partSize = partSize;
    this.#whole = newDigest(algorithm);
    this.#part = newDigest(algorithm);
  }

  update(chunk: Uint8Array): void {
    this.#whole.update(chunk);
    let offset = 0;
    while (offset < chunk.length) {
      const take = Math.min(this.#partSize - this.#inPart, chunk.length - offset);
      this.#part.update(chunk.subarray(offset, offset + take));
      this.#inPart += take;
      offset += take;
      if (this.#inPart === this.#partSize) {
        this.#parts.push(this.#part.digest());
        this.#part = newDigest(this.#algorithm);
        this.#inPart = 0;
      }
    }
  }

  /** What S3 should report: base64, with "-N" for a multipart upload of N parts. */
  expected(multipart: boolean): { value: string; parts: number } {
    if (!multipart) return { value: this.#whole.digest().toString('base64'), parts: 1 };
    const parts = this.#inPart > 0 ? [...this.#parts, this.#part.digest()] : this.#parts;
    const ofParts = newDigest(this.#algorithm);
    ofParts.update(Buffer.concat(parts));
    return { value: `${ofParts.digest().toString('base64')}-${parts.length}`, parts: parts.length };
  }
}

function uint32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value >>> 0);
  return buffer;
}
