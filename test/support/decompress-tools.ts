import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureVenvTool } from './python-tools.ts';

/**
 * Decoders that are not Node's: the gzip and zstd command-line tools (Debian's packages) and
 * Python's `gzip` module and `zstandard` package (PyPI, pinned, in its own venv under .cache/).
 * A compressed report must read back with what consumers use, not only with the zlib that wrote it.
 */

export type OutsideDecoder = 'gzip CLI' | 'zstd CLI' | 'python gzip' | 'python zstandard';

export const DECODERS: Readonly<Record<'gzip' | 'zstd', readonly OutsideDecoder[]>> = {
  gzip: ['gzip CLI', 'python gzip'],
  zstd: ['zstd CLI', 'python zstandard'],
};

const ZSTANDARD = 'zstandard==0.25.0';

/** Python with `zstandard` installed; throws (with pip's reason) when it cannot be. */
function zstandardPython(): string {
  const python = ensureVenvTool(ZSTANDARD, 'zstandard-venv', 'python', (line) => process.stderr.write(`${line}\n`));
  if (typeof python !== 'string') throw new Error(`python zstandard unavailable: ${python.skipped}`);
  return python;
}

const PYTHON_GZIP = 'import gzip, sys; sys.stdout.buffer.write(gzip.open(sys.argv[1]).read())';
// read_across_frames: a report of several segments is several frames; python-zstandard stops after the first by default.
const PYTHON_ZSTANDARD = 'import sys, zstandard; sys.stdout.buffer.write(zstandard.ZstdDecompressor().stream_reader(open(sys.argv[1], "rb"), read_across_frames=True).read())';

/** The decompressed bytes of `compressed`, as the outside tool reads them (it fails loudly on a damaged stream). */
export function decompressWith(decoder: OutsideDecoder, compressed: Uint8Array): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'decompress-'));
  try {
    const file = join(dir, decoder.startsWith('python') ? 'report' : decoder === 'gzip CLI' ? 'report.gz' : 'report.zst');
    writeFileSync(file, compressed);
    const run = (command: string, args: string[]) => execFileSync(command, args, { maxBuffer: 1 << 30 });
    switch (decoder) {
      case 'gzip CLI':
        return run('gzip', ['-dc', file]);
      case 'zstd CLI':
        return run('zstd', ['-dcq', file]);
      case 'python gzip':
        return run('python3', ['-c', PYTHON_GZIP, file]);
      case 'python zstandard':
        return run(zstandardPython(), ['-c', PYTHON_ZSTANDARD, file]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Whether the CLIs are on this machine (.ci/run installs them). */
export function missingCliTools(): string[] {
  return ['gzip', 'zstd'].filter((tool) => spawnSync(tool, ['--version']).error !== undefined);
}
