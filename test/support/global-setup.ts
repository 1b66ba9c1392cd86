import type { TestProject } from 'vitest/node';
import { startPostgres, type PostgresEndpoint } from './postgres-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    postgres: PostgresEndpoint;
  }
}

export default async function setup(project: TestProject) {
  const postgres = await startPostgres((line) => process.stderr.write(`[test setup] ${line}\n`));
  project.provide('postgres', postgres.endpoint);
  return () => postgres.stop();
}
