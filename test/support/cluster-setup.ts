import type { TestProject } from 'vitest/node';
import { useRunScratchDir } from './run-scratch.ts';
import { ensureClusterBinaries, startKubeCluster, type ClusterAvailability } from './kube-cluster.ts';
import { ensureKubeTools, type KubeTools } from './kube-tools.ts';
import { startPostgres, type PostgresEndpoint } from './postgres-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    cluster: ClusterAvailability;
    kubeTools: KubeTools;
    postgres: PostgresEndpoint;
  }
}

/**
 * The cluster tier (`npm run test:cluster`): a real kube-apiserver + etcd, helm and kubectl.
 * Without Go it is skipped with a loud reason — except under CI=true, where skipping is a failure.
 */
export default async function setup(project: TestProject) {
  const log = (line: string) => process.stderr.write(`[cluster setup] ${line}\n`);
  const removeScratch = useRunScratchDir(log);
  project.provide('kubeTools', ensureKubeTools(log));
  const binaries = ensureClusterBinaries(log);
  if (binaries !== true) {
    if (process.env.CI) throw new Error(`the cluster tier needs kube-apiserver and CI=true forbids skipping it: ${binaries}`);
    log(`!!! CLUSTER TESTS SKIPPED: ${binaries}`);
    project.provide('cluster', { skipped: binaries });
    return removeScratch;
  }
  // PostgreSQL too: the alert tests run the real job as the chart's ServiceAccount.
  const [cluster, postgres] = await Promise.all([startKubeCluster(log), startPostgres(log)]);
  project.provide('cluster', { kubeconfig: cluster.kubeconfig, server: cluster.server });
  project.provide('postgres', postgres.endpoint);
  return async () => {
    await Promise.all([cluster.stop(), postgres.stop()]);
    removeScratch();
  };
}
