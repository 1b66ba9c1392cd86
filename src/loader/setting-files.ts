import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

/** Why a file named by a setting could not be read; the message never quotes its content. */
export class SettingFileUnreadable extends Error {
  readonly reason: string;

  constructor(reason: string, options?: { cause?: unknown }) {
    super(reason, options);
    this.name = 'SettingFileUnreadable';
    this.reason = reason;
  }
}

/** A setting's file: its text, and its mode bits (after following symlinks), for rules such as pgpass's. */
export interface SettingFile {
  readonly text: string;
  readonly mode: number;
}

/** How the loader reads the files settings name: a port, so a test can count or refuse reads. */
export type ReadSettingFile = (path: string, maxBytes: number, signal: AbortSignal) => Promise<SettingFile>;

/**
 * A setting's file, read whole but bounded. Opened non-blocking, so a FIFO with no writer does not
 * hang the job (and ignore SIGTERM); anything but a regular file is refused (a FIFO, /dev/zero, a
 * directory); past `maxBytes` it stops reading. The signal is checked between reads.
 */
export const readSettingFile: ReadSettingFile = async (path, maxBytes, signal) => {
  signal.throwIfAborted();
  let handle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw new SettingFileUnreadable((error as NodeJS.ErrnoException).code ?? 'unreadable', { cause: error });
  }
  try {
    return await readOpened(handle, maxBytes, signal);
  } catch (error) {
    // EIO, ESTALE … after open: still a file the job cannot use (exit 2), never "a bug".
    if (error instanceof SettingFileUnreadable || signal.aborted) throw error;
    throw new SettingFileUnreadable((error as NodeJS.ErrnoException).code ?? 'unreadable', { cause: error });
  } finally {
    await handle.close();
  }
};

async function readOpened(handle: FileHandle, maxBytes: number, signal: AbortSignal): Promise<SettingFile> {
  const stats = await handle.stat();
  if (!stats.isFile()) throw new SettingFileUnreadable(`not a regular file (${kindOf(stats)})`);
  // /proc and some mounted files report size 0: trust only what reading returns.
  const buffer = Buffer.alloc(maxBytes + 1);
  let length = 0;
  while (length < buffer.length) {
    signal.throwIfAborted();
    const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
    if (bytesRead === 0) break;
    length += bytesRead;
  }
  if (length > maxBytes) throw new SettingFileUnreadable(`larger than ${formatBytes(maxBytes)}`);
  return { text: buffer.toString('utf8', 0, length), mode: stats.mode };
}

function kindOf(stats: { isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  if (stats.isDirectory()) return 'a directory';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  if (stats.isSocket()) return 'a socket';
  return 'not a file';
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${bytes / (1024 * 1024)} MiB` : `${bytes / 1024} KiB`;
}
