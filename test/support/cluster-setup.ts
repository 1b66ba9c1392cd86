import type { TestProject } from 'vitest/node';
import { ensureClusterBinaries, startKubeCluster, type ClusterAvailability } from './kube-cluster.ts';
import { ensureKubeTools, type KubeTools } from './kube-tools.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    cluster: ClusterAvailability;
    kubeTools: KubeTools;
  }
}

/**
 * The cluster tier (`npm run test:cluster`): a real kube-apiserver + etcd, helm and kubectl.
 * Without Go it is skipped with a loud reason — except under CI=true, where skipping is a failure.
 */
export default async function setup(project: TestProject) {
  const log = (line: string) => process.stderr.write(`[cluster setup] ${line}\n`);
  project.provide('kubeTools', ensureKubeTools(log));
  const binaries = ensureClusterBinaries(log);
  if (binaries !== true) {
    if (process.env.CI) throw new Error(`the cluster tier needs kube-apiserver and CI=true forbids skipping it: ${binaries}`);
    log(`!!! CLUSTER TESTS SKIPPED: ${binaries}`);
    project.provide('cluster', { skipped: binaries });
    return;
  }
  const cluster = await startKubeCluster(log);
  project.provide('cluster', { kubeconfig: cluster.kubeconfig, server: cluster.server });
  return () => cluster.stop();
}
