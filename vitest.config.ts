import { defineConfig } from 'vitest/config';
import { forgetPgVariables } from './test/support/pg-environment.ts';

// The tests use servers of their own only: the shell's PG* (PGSSLMODE, PGOPTIONS …, read by
// node-postgres for every client) must not reach them. Before the workers fork, so none inherits them.
forgetPgVariables();

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
