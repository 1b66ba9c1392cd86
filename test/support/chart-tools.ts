import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ensureVenvTool } from './python-tools.ts';

/**
 * The third-party tools GitOps pipelines run on a chart, pinned, installed from the registries and
 * cached under `.tools/` and `.cache/`: helm-docs (the ecosystem's chart README generator, a Go
 * module) and kubernetes-validate (PyPI; it bundles the official Kubernetes JSON schemas, so it
 * needs no download at run time). Each returns the binary, or why it could not be had, so a tier
 * can say it was skipped — and CI, which never skips, can refuse.
 */

const TOOLS = resolve(import.meta.dirname, '../../.tools');

export const HELM_DOCS = { module: 'github.com/norwoodj/helm-docs/cmd/helm-docs', version: 'v1.14.2' } as const;
export const KUBERNETES_VALIDATE = 'kubernetes-validate==1.37.0';
/** Every Kubernetes minor the chart supports (Chart.yaml kubeVersion >=1.30) up to the newest in common use. */
export const KUBERNETES_VERSIONS = ['1.30.0', '1.31.0', '1.32.0', '1.33.0', '1.34.0'] as const;

export type Tool = string | { skipped: string };

export function ensureHelmDocs(log: (line: string) => void): Tool {
  const dir = join(TOOLS, `helm-docs-${HELM_DOCS.version}`);
  const binary = join(dir, 'helm-docs');
  if (existsSync(binary)) return binary;
  if (spawnSync('go', ['version']).error) return { skipped: 'Go is not installed, so helm-docs cannot be built (install Go ≥ 1.22)' };
  log(`building helm-docs ${HELM_DOCS.version} with go install (once per machine, about a minute cold)`);
  const partial = `${dir}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  const built = spawnSync('go', ['install', `${HELM_DOCS.module}@${HELM_DOCS.version}`], { env: { ...process.env, GOBIN: partial }, stdio: ['ignore', 'inherit', 'inherit'] });
  if (built.status !== 0) return { skipped: `go install ${HELM_DOCS.module}@${HELM_DOCS.version} failed (is the Go module proxy reachable?)` };
  rmSync(dir, { recursive: true, force: true });
  renameSync(partial, dir);
  return binary;
}

export function ensureKubernetesValidate(log: (line: string) => void): Tool {
  return ensureVenvTool(KUBERNETES_VALIDATE, 'kubernetes-validate', 'kubernetes-validate', log);
}
