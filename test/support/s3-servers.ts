import { inject } from 'vitest';
import { S3_TEST_CREDENTIALS, type S3TestServer } from './storage-servers.ts';

/**
 * Every S3 server of this test run (moto, MinIO), for `describe.each(s3Servers())`; a server that
 * could not be started carries `skipped` (outside CI only: global-setup refuses that under CI=true).
 * Sets the test credentials in this process's environment, where the SDK's default chain reads them.
 */
export function s3Servers(): S3TestServer[] {
  Object.assign(process.env, S3_TEST_CREDENTIALS);
  return inject('s3Servers');
}

/** The server's URL, or undefined when it was skipped (the suite is then skipped too). */
export const urlOf = (server: S3TestServer): string | undefined => ('url' in server ? server.url : undefined);

/** The title of a suite on `server`, saying loudly when it is skipped. */
export const titleOn = (title: string, server: S3TestServer): string => `${title} on ${server.name}${'skipped' in server ? ` — SKIPPED: ${server.skipped}` : ''}`;
