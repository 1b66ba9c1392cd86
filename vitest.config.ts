import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Heavier tiers have their own configs and npm scripts (test:cluster, test:image).
    exclude: ['test/cluster/**', 'test/image/**', 'node_modules/**'],
    // One real PostgreSQL for the whole run (embedded unless PGHOST points at one).
    globalSetup: ['test/support/global-setup.ts'],
    // Child processes and a real database: generous, and never a performance assertion.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // CI also keeps a machine-readable result, from which .ci/run prints its closing count.
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: { json: '.cache/vitest-results.json' },
  },
});
