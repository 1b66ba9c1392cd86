import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort, stopChild } from './child-processes.ts';
import { serverLog, serverScratchDir } from './server-scratch.ts';
import { S3_TEST_CREDENTIALS, type RunningServer } from './storage-servers.ts';

/**
 * MinIO, built by test/tools/build-tools.sh from its Go module: the S3 server stricter than moto
 * (it verifies checksums, checks credentials and enforces If-None-Match atomically).
 */
const ROOT = resolve(import.meta.dirname, '../..');
const BINARY = join(ROOT, '.tools/bin/minio');

/** The name of the one key MinIO's built-in KMS holds (MINIO_KMS_SECRET_KEY=name:key): S3_SSE_KMS_KEY_ID on MinIO. */
export const MINIO_KMS_KEY_NAME = 'daily-report-test-key';

/** Builds MinIO (cached in .tools/bin); true, or why it could not be. */
export function ensureMinio(log: (line: string) => void): true | string {
  if (process.env.MINIO_SERVER) return true;
  if (spawnSync('go', ['version']).error) return 'Go is not installed, so MinIO cannot be built (install Go ≥ 1.26)';
  log('building MinIO (cached in .tools/bin; several minutes the first time)');
  const build = spawnSync('bash', [join(ROOT, 'test/tools/build-tools.sh'), 'minio'], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (build.status !== 0 || !existsSync(BINARY)) return `building MinIO failed (exit ${build.status}; see the output above)`;
  return true;
}

/**
 * A MinIO on a fresh directory, on 127.0.0.1. With `kms`, its built-in KMS holds one key
 * (MINIO_KMS_KEY_NAME), so SSE-S3 and SSE-KMS work; without it MinIO refuses any SSE header,
 * as a MinIO configured without a KMS does in production.
 */
export async function startMinio({ kms }: { kms: boolean }): Promise<RunningServer> {
  // Its objects on a roomy drive: MinIO refuses writes when its drive runs low (server-scratch.ts).
  const dir = serverScratchDir('minio');
  const log = serverLog(kms ? 'minio' : 'minio-without-kms');
  const port = await freePort();
  const consolePort = await freePort();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: dir,
    // Its directory, as for every server: the next run finds it by it if this run is killed (run-scratch.ts).
    TMPDIR: dir,
    MINIO_ROOT_USER: S3_TEST_CREDENTIALS.AWS_ACCESS_KEY_ID,
    MINIO_ROOT_PASSWORD: S3_TEST_CREDENTIALS.AWS_SECRET_ACCESS_KEY,
    MINIO_BROWSER: 'off',
    MINIO_UPDATE: 'off',
    MINIO_CI_CD: '1',
    ...(kms ? { MINIO_KMS_SECRET_KEY: `${MINIO_KMS_KEY_NAME}:${randomBytes(32).toString('base64')}` } : {}),
  };
  const child = spawn(process.env.MINIO_SERVER ?? BINARY, ['server', join(dir, 'data'), '--address', `127.0.0.1:${port}`, '--console-address', `127.0.0.1:${consolePort}`, '--quiet'], {
    env,
    stdio: ['ignore', log.fd, log.fd],
  });
  closeSync(log.fd);
  const url = `http://127.0.0.1:${port}`;
  for (let attempt = 0; ; attempt++) {
    if (child.exitCode !== null) throw new Error(`minio exited with ${child.exitCode}: ${log.tail()}`);
    if ((await fetch(`${url}/minio/health/ready`).catch(() => undefined))?.ok === true) break;
    if (attempt > 600) {
      await stopChild(child);
      throw new Error(`minio did not become ready within 60 s: ${log.tail()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    stop: async () => {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
