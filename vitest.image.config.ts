import { defineConfig } from 'vitest/config';

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
