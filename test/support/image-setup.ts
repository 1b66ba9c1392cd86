import { spawnSync } from 'node:child_process';
import type { TestProject } from 'vitest/node';
import { useRunScratchDir } from './run-scratch.ts';
import { startPostgres, type PostgresEndpoint } from './postgres-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    postgres: PostgresEndpoint;
    imageTools: { ok: true } | { skipped: string };
  }
}

/**
 * The image tier (`npm run test:image`): builds the real Dockerfile with buildah (no Docker engine)
 * and runs the job inside the image against a real PostgreSQL. Needs root, buildah and mmdebstrap
 * (Debian packages; .ci/run installs them). Without them it is skipped with a loud reason — except
 * under CI=true, where skipping is a failure.
 */
export default async function setup(project: TestProject) {
  const log = (line: string) => process.stderr.write(`[image setup] ${line}\n`);
  const removeScratch = useRunScratchDir(log);
  const missing = ['buildah', 'mmdebstrap'].filter((tool) => spawnSync(tool, ['--version']).error);
  const reason =
    missing.length > 0 ? `${missing.join(' and ')} not installed (apt-get install buildah mmdebstrap)` : process.getuid?.() !== 0 ? 'building images with buildah here needs root' : undefined;
  if (reason) {
    if (process.env.CI) throw new Error(`the image tier cannot run and CI=true forbids skipping it: ${reason}`);
    log(`!!! IMAGE TESTS SKIPPED: ${reason}`);
    project.provide('imageTools', { skipped: reason });
    return removeScratch;
  }
  const postgres = await startPostgres(log);
  project.provide('postgres', postgres.endpoint);
  project.provide('imageTools', { ok: true });
  return async () => {
    await postgres.stop();
    removeScratch();
  };
}
