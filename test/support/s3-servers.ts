import { describe, inject, it } from 'vitest';
import { S3_TEST_CREDENTIALS, type S3TestServer } from './storage-servers.ts';

/** A server of this run that is up. */
export type RunningS3TestServer = S3TestServer & { readonly url: string };

/**
 * Every S3 server of this test run (moto, then MinIO), for a test that must hold on each; a server
 * that could not be started carries `skipped` (outside CI only: global-setup refuses that under CI=true).
 * Sets the test credentials in this process's environment, where the SDK's default chain reads them.
 */
export function s3Servers(): S3TestServer[] {
  Object.assign(process.env, S3_TEST_CREDENTIALS);
  return inject('s3Servers');
}

/**
 * `describe(title on moto)`, `describe(title on minio)`: the suite once per S3 server that is up,
 * and a loudly skipped one for each that is not.
 */
export function describeOnS3Servers(title: string, suite: (server: RunningS3TestServer) => void): void {
  for (const server of s3Servers()) {
    if ('url' in server) describe(`${title} on ${server.name}`, () => suite(server));
    else {
      process.stderr.write(`\n!!! ${title} on ${server.name} — SKIPPED: ${server.skipped}\n\n`);
      describe.skip(`${title} on ${server.name} — SKIPPED: ${server.skipped}`, () => it('runs on this server', () => {}));
    }
  }
}
