import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';

export const CHART_DIR = resolve(import.meta.dirname, '../../charts/daily-report');
export const SCENARIOS = ['defaults', 's3-irsa-kms', 'azure-workload-identity', 's3-compatible', 'alerts', 'sources'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export const scenarioFile = (scenario: Scenario) => resolve(CHART_DIR, `ci/${scenario}-values.yaml`);

/**
 * Helm arguments for the values that have no default (image, database host, password, region):
 * the `defaults` scenario, without which the chart refuses to render.
 */
export const COMPLETE: readonly string[] = ['-f', resolve(CHART_DIR, 'ci/defaults-values.yaml')];

const run = promisify(execFile);

export interface HelmResult {
  ok: boolean;
  stdout: string;
  stderr: string;
}

/** Runs the real helm binary; a non-zero exit is returned, not thrown, because tests assert on failures too. */
export async function helm(binary: string, args: string[], env: Record<string, string> = {}): Promise<HelmResult> {
  try {
    const { stdout, stderr } = await run(binary, args, { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
    return { ok: true, stdout, stderr };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    return { ok: false, stdout: e.stdout ?? '', stderr: e.stderr || e.message };
  }
}

export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; [k: string]: any }; [k: string]: any };

/** `helm template` parsed into objects; throws with helm's message when rendering fails. */
export async function renderChart(binary: string, args: string[], release = 'r'): Promise<{ objects: K8sObject[]; text: string }> {
  const result = await helm(binary, ['template', release, CHART_DIR, ...args]);
  if (!result.ok) throw new Error(`helm template failed: ${result.stderr}`);
  const objects = parseAllDocuments(result.stdout)
    .map((doc) => doc.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
  return { objects, text: result.stdout };
}

export function only(objects: K8sObject[], kind: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind);
  if (found.length !== 1) throw new Error(`expected one ${kind}, rendered ${found.length}`);
  return found[0]!;
}

export const workerContainer = (cronJob: K8sObject) => cronJob.spec.jobTemplate.spec.template.spec.containers.find((c: any) => c.name === 'daily-report');
export const envOf = (container: any): Record<string, any> => Object.fromEntries(container.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
