import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort, stopChild } from './child-processes.ts';
import { ensureVenvTool } from './python-tools.ts';
import { serverLog, serverScratchDir } from './server-scratch.ts';

/**
 * Pinned: the S3-protocol server the S3 tests run against (moto in server mode). Without the
 * s3crc32c extra moto silently computes CRC32 where CRC32C is asked for.
 */
export const MOTO_REQUIREMENT = 'moto[server,s3crc32c]==5.2.5';

export type ServerAvailability = { readonly url: string } | { readonly skipped: string };

/**
 * The one credential pair of every S3 test server: MinIO is started with it as its root user, and
 * moto accepts anything. Tests put it in the environment, where the SDK's default chain reads it.
 */
export const S3_TEST_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'test-access-key', AWS_SECRET_ACCESS_KEY: 'test-secret-key' } as const;

/**
 * One S3-protocol server the S3 tests run on, as global-setup provides it: `describe.each(s3Servers)`
 * runs a suite on each. moto is light and lenient; MinIO is strict (it verifies checksums, checks
 * credentials and enforces If-None-Match on CompleteMultipartUpload atomically).
 */
export type S3TestServer = ServerAvailability & {
  readonly name: 'moto' | 'minio';
  /** A key S3_SSE_KMS_KEY_ID may name on this server. */
  readonly kmsKeyId: string;
  readonly strict: boolean;
};

/**
 * Finds moto_server (MOTO_SERVER, or the cached venv), provisioning the venv from PyPI when it is
 * missing. Returns why it could not, so the S3 tier can say it was skipped — and CI can refuse.
 */
export function ensureMoto(log: (line: string) => void): string | { skipped: string } {
  return process.env.MOTO_SERVER ?? ensureVenvTool(MOTO_REQUIREMENT, 'moto-venv', 'moto_server', log);
}

export interface RunningServer {
  readonly url: string;
  stop(): Promise<void>;
}

export async function startMoto(bin: string): Promise<RunningServer> {
  const port = await freePort();
  // moto spools objects over 16 MiB to temporary files: those go to a roomy drive (server-scratch.ts).
  const spool = serverScratchDir('moto');
  const log = serverLog('moto');
  const child = spawn(bin, ['-H', '127.0.0.1', '-p', String(port)], { env: { ...process.env, TMPDIR: spool }, stdio: ['ignore', log.fd, log.fd] });
  closeSync(log.fd);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(child, async () => (await fetch(url).catch(() => undefined))?.ok === true, 'moto_server', log.tail);
  return {
    url,
    stop: async () => {
      await stopChild(child);
      rmSync(spool, { recursive: true, force: true });
    },
  };
}

/**
 * Azurite from npm, installed from its own lock file (test/tools/azurite) into .tools/azurite, not
 * with the product's dependencies: it brings ~300 packages and an OpenTelemetry 2.x family whose
 * peer ranges clash with ours (14 ERESOLVE warnings on every `npm ci`). Returns Azurite's blob entry point.
 */
export function ensureAzurite(log: (line: string) => void): string {
  const source = new URL('../tools/azurite/', import.meta.url);
  const target = fileURLToPath(new URL('../../.tools/azurite/', import.meta.url));
  const main = `${target}node_modules/azurite/dist/src/blob/main.js`;
  const lock = readFileSync(new URL('package-lock.json', source));
  const stamp = createHash('sha256').update(lock).digest('hex');
  const stampFile = `${target}installed-lock-sha256`;
  if (existsSync(main) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return main;
  log('installing Azurite from test/tools/azurite into .tools/azurite (npm ci, once; about 30 s)…');
  mkdirSync(target, { recursive: true });
  for (const file of ['package.json', 'package-lock.json']) copyFileSync(new URL(file, source), `${target}${file}`);
  const npm = spawnSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: target, stdio: ['ignore', 'inherit', 'inherit'] });
  if (npm.status !== 0 || !existsSync(main)) throw new Error(`npm ci in .tools/azurite failed (exit ${npm.status}): the Azure tests need Azurite`);
  writeFileSync(stampFile, stamp);
  return main;
}

/** Azurite's blob service, in memory. */
export async function startAzurite(main: string): Promise<RunningServer & { connectionString: string }> {
  const port = await freePort();
  const log = serverLog('azurite');
  const child = spawn(process.execPath, [main, '--blobHost', '127.0.0.1', '--blobPort', String(port), '--inMemoryPersistence', '--skipApiVersionCheck', '--disableTelemetry', '--silent'], {
    stdio: ['ignore', log.fd, log.fd],
  });
  closeSync(log.fd);
  const url = `http://127.0.0.1:${port}/devstoreaccount1`;
  await waitFor(child, async () => (await fetch(`${url}?comp=list`).catch(() => undefined)) !== undefined, 'azurite', log.tail);
  return {
    url,
    // Azurite's fixed, public development account (documented by Microsoft); not a secret.
    connectionString: `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=${url};`,
    stop: () => stopChild(child),
  };
}

async function waitFor(child: ChildProcess, ready: () => Promise<boolean>, name: string, output: () => string): Promise<void> {
  for (let attempt = 0; attempt < 300; attempt++) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}: ${output()}`);
    if (await ready()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`${name} did not start within 30 s: ${output()}`);
}
