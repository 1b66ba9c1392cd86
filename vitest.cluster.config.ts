import { defineConfig } from 'vitest/config';

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
