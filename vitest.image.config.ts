import { defineConfig } from 'vitest/config';
import { forgetPgVariables } from './test/support/pg-environment.ts';

// The tests use servers of their own only: the shell's PG* (PGSSLMODE, PGOPTIONS …, read by
// node-postgres for every client) must not reach them. Before the workers fork, so none inherits them.
forgetPgVariables();

/** The image tier: `npm run test:image` (buildah builds the Dockerfile; the job runs inside the image). */
export default defineConfig({
  test: {
    include: ['test/image/**/*.test.ts'],
    globalSetup: ['test/support/image-setup.ts'],
    testTimeout: 300_000,
    // A cold build assembles the base image and installs npm packages: minutes, not seconds.
    hookTimeout: 1_200_000,
    pool: 'forks',
    reporters: process.env.CI ? ['default', 'json'] : ['default'],
    outputFile: { json: '.cache/vitest-image-results.json' },
  },
});
