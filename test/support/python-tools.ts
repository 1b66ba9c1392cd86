import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * A command-line tool from PyPI, installed at a pinned requirement into its own venv under
 * `.cache/` (once per machine). Returns the tool's path, or why it could not be installed so the
 * tier can say it was skipped — and CI can refuse.
 */
export function ensureVenvTool(requirement: string, venvName: string, command: string, log: (line: string) => void): string | { skipped: string } {
  const venv = fileURLToPath(new URL(`../../.cache/${venvName}/`, import.meta.url));
  const bin = `${venv}bin/${command}`;
  const installed = `${venv}installed-requirement`;
  if (existsSync(bin) && existsSync(installed) && readFileSync(installed, 'utf8') === requirement) return bin;
  log(`installing ${requirement} into .cache/${venvName} (once per machine; pip, usually 20–60 s)…`);
  const created = spawnSync('python3', ['-m', 'venv', venv], { stdio: 'inherit' });
  if (created.status !== 0) return { skipped: 'python3 -m venv failed (is python3 installed?)' };
  const pip = spawnSync(`${venv}bin/pip`, ['install', '--quiet', '--disable-pip-version-check', requirement], { stdio: 'inherit' });
  if (pip.status !== 0 || !existsSync(bin)) return { skipped: `pip install ${requirement} failed (is PyPI reachable?)` };
  writeFileSync(installed, requirement);
  return bin;
}
