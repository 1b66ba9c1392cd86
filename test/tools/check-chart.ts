/**
 * The chart checks a GitOps pipeline runs, with the real third-party tools (.ci/run runs this):
 *   - `helm lint --strict` with Helm 3 and Helm 4, for every ci/*-values.yaml scenario;
 *   - each scenario rendered by both, for each Kubernetes 1.30–1.34, validated strictly against that
 *     version's official schemas (kubernetes-validate --strict: unknown fields and missing required
 *     ones fail, as in kubeconform -strict);
 *   - `helm install` with no values is refused, by both, with the list of values to set;
 *   - charts/daily-report/README.md is what helm-docs generates from values.yaml (--write-readme rewrites it).
 * A tool that cannot be installed is a loud skip on a workstation and a failure under CI=true.
 *
 *   npm exec -- node test/tools/check-chart.ts [--write-readme]
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { ensureHelmDocs, ensureKubernetesValidate, KUBERNETES_VERSIONS, type Tool } from '../support/chart-tools.ts';
import { CHART_DIR, SCENARIOS, helm, scenarioFile } from '../support/helm-chart.ts';
import { ensureKubeTools } from '../support/kube-tools.ts';

const run = promisify(execFile);
const log = (line: string) => process.stderr.write(`[check-chart] ${line}\n`);
const failures: string[] = [];
const skipped: string[] = [];
let passed = 0;

function check(name: string, ok: boolean, detail = ''): void {
  if (ok) passed += 1;
  else failures.push(`${name}${detail ? `\n${detail.trim()}` : ''}`);
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}`);
}

function available(name: string, tool: Tool): string | undefined {
  if (typeof tool === 'string') return tool;
  if (process.env.CI) {
    failures.push(`${name}: ${tool.skipped} (CI=true never skips)`);
  } else {
    skipped.push(`${name}: ${tool.skipped}`);
    log(`!!! ${name.toUpperCase()} CHECKS SKIPPED: ${tool.skipped}`);
  }
  return undefined;
}

const kube = ensureKubeTools(log);
const helms = [
  ['Helm 4', kube.helm],
  ['Helm 3', kube.helm3],
] as const;

for (const [label, binary] of helms) {
  for (const scenario of SCENARIOS) {
    const result = await helm(binary, ['lint', '--strict', CHART_DIR, '-f', scenarioFile(scenario)]);
    check(`${label}: helm lint --strict -f ci/${scenario}-values.yaml`, result.ok, result.stdout + result.stderr);
  }
  const bare = await helm(binary, ['template', 'daily-report', CHART_DIR]);
  const refused = !bare.ok && ['image.repository', 'database.host', 'credentials.existingSecret', 'storage.s3.region'].every((v) => bare.stderr.includes(`  - ${v}: `));
  check(`${label}: helm install with no values is refused with the list of values to set`, refused, bare.stderr || bare.stdout.slice(0, 400));
}

const validator = available('kubernetes-validate', ensureKubernetesValidate(log));
if (validator) {
  const dir = mkdtempSync(join(tmpdir(), 'daily-report-chart-'));
  try {
    for (const [label, binary] of helms) {
      for (const version of KUBERNETES_VERSIONS) {
        const files: string[] = [];
        for (const scenario of SCENARIOS) {
          const rendered = await helm(binary, ['template', 'daily-report', CHART_DIR, '-n', 'reports', '--kube-version', version, '-f', scenarioFile(scenario)]);
          if (!rendered.ok) {
            check(`${label}: render ci/${scenario}-values.yaml for Kubernetes ${version}`, false, rendered.stderr);
            continue;
          }
          const file = join(dir, `${label.replace(' ', '')}-${version}-${scenario}.yaml`);
          writeFileSync(file, rendered.stdout);
          files.push(file);
        }
        // --quiet prints only problems; a kind without a bundled schema (the PrometheusRule CRD) is a
        // warning, not a failure — the cluster tier validates that one against its CRD.
        const result = await run(validator, ['--strict', '--quiet', '-k', version, ...files]).then(
          (r) => ({ ok: true, output: r.stdout + r.stderr }),
          (e: { stdout?: string; stderr?: string }) => ({ ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` }),
        );
        check(`${label}: every scenario validates strictly on Kubernetes ${version} (kubernetes-validate --strict)`, result.ok, result.output);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const helmDocs = available('helm-docs', ensureHelmDocs(log));
if (helmDocs) {
  const generated = (await run(helmDocs, ['--chart-search-root', resolve(CHART_DIR, '..'), '--dry-run', '--log-level', 'error'])).stdout;
  const readme = resolve(CHART_DIR, 'README.md');
  if (process.argv.includes('--write-readme')) {
    writeFileSync(readme, generated);
    log(`wrote ${readme}`);
  }
  let current = '';
  try {
    current = readFileSync(readme, 'utf8');
  } catch {}
  check('charts/daily-report/README.md is what helm-docs generates (fix: npm exec -- node test/tools/check-chart.ts --write-readme)', current === generated);
}

console.log(`\nchart checks: ${passed} passed, ${failures.length} failed, ${skipped.length} skipped`);
for (const failure of failures) console.error(`\nFAILED: ${failure}`);
process.exit(failures.length > 0 ? 1 : 0);
