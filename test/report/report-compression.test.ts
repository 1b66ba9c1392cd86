import { createGunzip, createZstdDecompress, gunzipSync, zstdDecompressSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  compressedKey,
  compressSegment,
  keyCompressionProblem,
  keysInEveryCompression,
  reportContentType,
  segmentCompressor,
} from '../../src/report/report-compression.ts';
import { DECODERS, decompressWith } from '../support/decompress-tools.ts';

const collect = async (chunks: AsyncIterable<Uint8Array>) => {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
};

async function* chunksOf(text: string, size = 1000): AsyncGenerator<Uint8Array> {
  const bytes = Buffer.from(text, 'utf8');
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

/** CSV-like text with the report's shape: a header, then records with quotes, commas and non-ASCII. */
function records(from: number, count: number): string {
  let text = '';
  for (let i = from; i < from + count; i++) text += `2024-10-04T12:00:00.000000-03:00,"Usuário ""${i}"", vírgula",${i * 1000003},${(i % 10000) / 100 - 50},aprovada\r\n`;
  return text;
}
const HEADER = 'data_extracao,nome_usuario,id_transacao,valor_transacao,status_transacao\r\n';

describe.each(['gzip', 'zstd'] as const)('%s report segments', (compression) => {
  it('two segments compressed separately and concatenated decompress, with every outside decoder, to the concatenation', async () => {
    // The header goes into segment 0's member/frame; segment 1 is its own.
    const segment0 = HEADER + records(0, 20_000);
    const segment1 = records(20_000, 20_000);
    const stream = Buffer.concat([await collect(compressSegment(chunksOf(segment0), compression)), await collect(compressSegment(chunksOf(segment1), compression))]);
    const expected = Buffer.from(segment0 + segment1, 'utf8');
    expect(stream.length).toBeLessThan(expected.length / 3);
    for (const decoder of DECODERS[compression]) expect(decompressWith(decoder, stream).equals(expected), decoder).toBe(true);
    if (compression === 'gzip') expect(gunzipSync(stream).equals(expected)).toBe(true);
  });

  it('an empty segment is still a valid member/frame that decompresses to nothing', async () => {
    const empty = await collect(compressSegment(chunksOf(''), compression));
    expect(empty.length).toBeGreaterThan(0);
    for (const decoder of DECODERS[compression]) expect(decompressWith(decoder, empty).length, decoder).toBe(0);
  });

  it("rows that trickle in reach the reader before the source goes on (flushed), not only once 16 KiB of output piled up", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    async function* trickle() {
      yield Buffer.from(HEADER + records(0, 3));
      await gate; // the source waits until the reader has seen those rows
      yield Buffer.from(records(3, 3));
    }
    const output: Uint8Array[] = [];
    const reader = compression === 'gzip' ? createGunzip() : createZstdDecompress();
    const decoded: Buffer[] = [];
    reader.on('data', (chunk: Buffer) => {
      decoded.push(chunk);
      if (Buffer.concat(decoded).toString('utf8') === HEADER + records(0, 3)) release();
    });
    for await (const chunk of compressSegment(trickle(), compression)) {
      output.push(chunk);
      reader.write(chunk);
    }
    reader.end();
    await new Promise((resolve) => reader.on('end', resolve));
    expect(Buffer.concat(decoded).toString('utf8')).toBe(HEADER + records(0, 6));
    // Still one member / frame, which every outside decoder reads whole.
    for (const decoder of DECODERS[compression]) expect(decompressWith(decoder, Buffer.concat(output)).toString('utf8'), decoder).toBe(HEADER + records(0, 6));
  }, 20_000);

  it('each call gives a fresh compressor', () => {
    const a = segmentCompressor(compression)!;
    const b = segmentCompressor(compression)!;
    expect(a).not.toBe(b);
    a.destroy();
    b.destroy();
  });

  it("a failing source's error comes out as it is (its class and exit code kept)", async () => {
    const cause = Object.assign(new Error('connection terminated'), { code: 'TRANSIENT' });
    async function* failing() {
      yield Buffer.from(HEADER);
      throw cause;
    }
    await expect(collect(compressSegment(failing(), compression))).rejects.toBe(cause);
  });

  it('a reader that stops early closes the source (its cursor is released)', async () => {
    let closed = false;
    async function* endless() {
      try {
        for (let i = 0; ; i++) yield Buffer.from(records(i * 100, 100));
      } finally {
        closed = true;
      }
    }
    for await (const chunk of compressSegment(endless(), compression)) {
      expect(chunk.length).toBeGreaterThan(0);
      break;
    }
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toBe(true);
  });
});

describe('zstd frames and naive decoders (docs/compression.md, "Reading a report")', () => {
  it("Node's own zstd decoder stops silently after the first frame: a consumer must read frame after frame", async () => {
    const first = await collect(compressSegment(chunksOf(HEADER + records(0, 10)), 'zstd'));
    const second = await collect(compressSegment(chunksOf(records(10, 10)), 'zstd'));
    expect(zstdDecompressSync(Buffer.concat([first, second])).toString('utf8')).toBe(HEADER + records(0, 10));
    // A single-segment report (today's, and every report with REPORT_PARALLELISM=1) is one frame: naive decoders read it whole.
    expect(zstdDecompressSync(first).toString('utf8')).toBe(HEADER + records(0, 10));
  });
});

describe('no compression', () => {
  it('has no compressor and passes the bytes through unchanged', async () => {
    expect(segmentCompressor('none')).toBeUndefined();
    const text = HEADER + records(0, 10);
    expect((await collect(compressSegment(chunksOf(text, 7), 'none'))).toString('utf8')).toBe(text);
  });
});

describe('compressed report key and type', () => {
  it('appends .gz / .zst to the key, and keeps a matching suffix the template already has once', () => {
    expect(compressedKey('relatorio_20241005.csv', 'none')).toBe('relatorio_20241005.csv');
    expect(compressedKey('relatorio_20241005.csv', 'gzip')).toBe('relatorio_20241005.csv.gz');
    expect(compressedKey('2024/10/r.csv', 'zstd')).toBe('2024/10/r.csv.zst');
    expect(compressedKey('r_20241005.csv.gz', 'gzip')).toBe('r_20241005.csv.gz');
  });

  it('refuses a template ending in another compression, naming both settings and the fix', () => {
    expect(keyCompressionProblem('r_{YYYYMMDD}.csv', 'gzip')).toBeUndefined();
    expect(keyCompressionProblem('r_{YYYYMMDD}.csv.gz', 'gzip')).toBeUndefined();
    expect(keyCompressionProblem('r_{YYYYMMDD}.csv.gz', 'none')).toMatch(/ends in \.gz but REPORT_COMPRESSION is none.*set REPORT_COMPRESSION=gzip, or remove \.gz/);
    expect(keyCompressionProblem('r_{YYYYMMDD}.csv.zst', 'gzip')).toMatch(/ends in \.zst but REPORT_COMPRESSION is gzip.*REPORT_COMPRESSION=zstd/);
  });

  it("lists a date's key in every compression, the configured one first", () => {
    expect(keysInEveryCompression('r.csv', 'none')).toEqual(['r.csv', 'r.csv.gz', 'r.csv.zst']);
    expect(keysInEveryCompression('r.csv.zst', 'zstd')).toEqual(['r.csv.zst', 'r.csv', 'r.csv.gz']);
  });

  it('types the object as what it is stored as, never with a Content-Encoding that clients would undo', () => {
    expect(reportContentType('none')).toBe('text/csv; charset=utf-8');
    expect(reportContentType('gzip')).toBe('application/gzip');
    expect(reportContentType('zstd')).toBe('application/zstd');
  });
});
