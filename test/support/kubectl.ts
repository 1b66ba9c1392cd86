import { execFile } from 'node:child_process';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { helm, type HelmResult } from './helm-chart.ts';

const run = promisify(execFile);

/** The environment that points helm and kubectl at the test cluster (and puts both on PATH). */
export function clusterEnv(): Record<string, string> {
  const cluster = inject('cluster');
  if (!('kubeconfig' in cluster)) throw new Error(`no cluster: ${cluster.skipped}`);
  const tools = inject('kubeTools');
  return { KUBECONFIG: cluster.kubeconfig, PATH: `${dirname(tools.kubectl)}:${dirname(tools.helm)}:${process.env.PATH}`, HOME: process.env.HOME ?? '/tmp' };
}

/** Runs the real kubectl against the test cluster; throws with kubectl's message on failure. */
export async function kubectl(args: string[], input?: string): Promise<string> {
  const child = run(inject('kubeTools').kubectl, args, { env: { ...process.env, ...clusterEnv() }, maxBuffer: 64 * 1024 * 1024 });
  if (input !== undefined) {
    child.child.stdin!.end(input);
  }
  try {
    return (await child).stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`kubectl ${args.join(' ')}: ${e.stderr || e.message}`);
  }
}

export async function kubectlJson<T = any>(args: string[]): Promise<T> {
  return JSON.parse(await kubectl([...args, '-o', 'json'])) as T;
}

export function helmInCluster(args: string[]): Promise<HelmResult> {
  return helm(inject('kubeTools').helm, args, clusterEnv());
}
