import { defineConfig } from 'vitest/config';
import { forgetPgVariables } from './test/support/pg-environment.ts';

// The tests use servers of their own only: the shell's PG* (PGSSLMODE, PGOPTIONS …, read by
// node-postgres for every client) must not reach them. Before the workers fork, so none inherits them.
forgetPgVariables();

/** The cluster tier: `npm run test:cluster` (real kube-apiserver + etcd built from Go, helm, kubectl). */
export default defineConfig({
  test: {
    include: ['test/cluster/**/*.test.ts'],
    globalSetup: ['test/support/cluster-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // One API server for the tier; files run one after another so namespaces and timings stay simple.
    fileParallelism: false,
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: { json: '.cache/vitest-cluster-results.json' },
  },
});
