import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/**
 * Why a directory a setting names cannot be written into, or undefined when it can (it exists, or
 * its nearest existing ancestor is a writable directory, so it can be created). Only stat and
 * access: nothing is created here, `validate` leaves the disk as it found it.
 */
export async function directoryProblem(path: string): Promise<string | undefined> {
  const target = resolve(path);
  for (let current = target; ; current = dirname(current)) {
    let isDirectory: boolean;
    try {
      isDirectory = (await stat(current)).isDirectory();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && dirname(current) !== current) continue;
      if (code === 'ENOTDIR') continue; // a parent is a file: reported when the walk reaches it
      return `cannot use ${path} (${code ?? 'unreadable'})`;
    }
    const where = current === target ? `${path}` : `${path} cannot be created: ${current}`;
    if (!isDirectory) return `${where} is a file, not a directory; point it at a directory (it is created if missing)`;
    try {
      await access(current, constants.W_OK | constants.X_OK);
    } catch (error) {
      return `${where} is not writable by this process (${(error as NodeJS.ErrnoException).code ?? 'denied'})`;
    }
    return undefined;
  }
}
