import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DEPCRUISE = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruiser.mjs');

async function violations(cwd: string): Promise<string[]> {
  const { stdout } = await promisify(execFile)(process.execPath, [DEPCRUISE, 'src', '--config', join(ROOT, '.dependency-cruiser.cjs'), '--output-type', 'json'], { cwd, maxBuffer: 64 * 1024 * 1024 }).catch(
    (error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }),
  );
  return (JSON.parse(stdout) as { summary: { violations: { rule: { name: string }; from: string; to: string }[] } }).summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`);
}

describe('the import direction of src/ (dependency-cruiser, rules in .dependency-cruiser.cjs)', () => {
  it('is enforced: each rule fires on a tree that breaks it', async () => {
    const tree = mkdtempSync(join(tmpdir(), 'daily-report-depcruise-'));
    const files: Record<string, string> = {
      'src/config/config.ts': "import { reportKey } from '../report/report-key.ts';\nexport const x = reportKey;\n",
      'src/report/report-key.ts': "import { loadConfig } from '../loader/load-config.ts';\nexport const reportKey = loadConfig;\n",
      'src/loader/load-config.ts': "import { cli } from '../cli/cli.ts';\nexport const loadConfig = cli;\n",
      'src/cli/cli.ts': 'export const cli = 1;\n',
    };
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(tree, path)), { recursive: true });
      writeFileSync(join(tree, path), text);
    }
    copyFileSync(join(ROOT, 'tsconfig.json'), join(tree, 'tsconfig.json'));
    expect(await violations(tree)).toEqual(
      expect.arrayContaining([
        'config-is-the-ground-floor: src/config/config.ts → src/report/report-key.ts',
        'no-domain-imports-the-loader: src/report/report-key.ts → src/loader/load-config.ts',
        'loader-sits-under-cli: src/loader/load-config.ts → src/cli/cli.ts',
      ]),
    );
  });

  it('holds: config types import no domain, no domain imports the loader, nothing imports the CLI, no cycles', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [DEPCRUISE, 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'json'], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 }).catch(
      (error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }),
    );
    const result = JSON.parse(stdout) as { summary: { violations: { rule: { name: string }; from: string; to: string }[]; totalCruised: number } };
    expect(result.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}`)).toEqual([]);
    // The rules see the whole tree (a resolver that found nothing would pass vacuously).
    expect(result.summary.totalCruised).toBeGreaterThan(80);
  });
});
