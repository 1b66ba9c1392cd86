import type { TestProject } from 'vitest/node';
import { useRunScratchDir } from './run-scratch.ts';
import { ensureMinio, MINIO_KMS_KEY_NAME, startMinio } from './minio-server.ts';
import { ensureAzurite, ensureMoto, startAzurite, startMoto, type ServerAvailability, type S3TestServer } from './storage-servers.ts';
import { ensureKubeTools, type KubeTools } from './kube-tools.ts';
import { ensureCollector, startCollector, type CollectorAvailability } from './otel-collector.ts';
import { startPostgres, type PostgresEndpoint } from './postgres-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    postgres: PostgresEndpoint;
    /** moto: the S3 server of the tests that need only one. */
    s3: ServerAvailability;
    /** moto and MinIO (with a KMS): the S3 tests run on each (test/support/s3-servers.ts). */
    s3Servers: S3TestServer[];
    /** A MinIO without a KMS, which refuses every SSE header (for S3_SSE=none). */
    minioWithoutKms: ServerAvailability;
    azurite: { url: string; connectionString: string };
    kubeTools: KubeTools;
    collector: CollectorAvailability;
  }
}

/** Starts every real service the tests use, once per run: PostgreSQL, an S3-protocol server, Azurite, an OpenTelemetry Collector; and provides helm. */
export default async function setup(project: TestProject) {
  const log = (line: string) => process.stderr.write(`[test setup] ${line}\n`);
  const removeScratch = useRunScratchDir(log);
  project.provide('kubeTools', ensureKubeTools(log));
  const moto = ensureMoto(log);
  if (typeof moto !== 'string') {
    if (process.env.CI) throw new Error(`the S3 tests need moto_server and CI=true forbids skipping them: ${moto.skipped}`);
    log(`!!! S3 TESTS SKIPPED: ${moto.skipped}. Set MOTO_SERVER to a moto_server binary to run them.`);
  }
  const azuriteMain = ensureAzurite(log);
  const minioBuilt = ensureMinio(log);
  if (minioBuilt !== true) {
    if (process.env.CI) throw new Error(`the S3 tests on MinIO need it built and CI=true forbids skipping them: ${minioBuilt}`);
    log(`!!! S3 TESTS ON MINIO SKIPPED: ${minioBuilt}. Set MINIO_SERVER to a minio binary to run them.`);
  }
  const collectorBuilt = ensureCollector(log);
  if (collectorBuilt !== true) {
    if (process.env.CI) throw new Error(`the telemetry tests need the OpenTelemetry Collector and CI=true forbids skipping them: ${collectorBuilt}`);
    log(`!!! TELEMETRY TESTS SKIPPED: ${collectorBuilt}`);
  }
  const [postgres, s3, minio, minioWithoutKms, azurite, collector] = await startAll(removeScratch, [
    startPostgres(log),
    typeof moto === 'string' ? startMoto(moto) : undefined,
    minioBuilt === true ? startMinio({ kms: true }) : undefined,
    minioBuilt === true ? startMinio({ kms: false }) : undefined,
    startAzurite(azuriteMain),
    collectorBuilt === true ? startCollector() : undefined,
  ] as const);
  if (collector) log(`started the OpenTelemetry Collector (OTLP/HTTP) on ${collector.endpoint}`);
  project.provide('collector', collector ? { endpoint: collector.endpoint, output: collector.output } : { skipped: collectorBuilt as string });
  if (s3) log(`started moto_server (S3) on ${s3.url}`);
  if (minio && minioWithoutKms) log(`started MinIO (S3) on ${minio.url}, and one without a KMS on ${minioWithoutKms.url}`);
  log(`started Azurite (blob) on ${azurite.url}`);
  project.provide('postgres', postgres.endpoint);
  const motoAvailability: ServerAvailability = s3 ? { url: s3.url } : { skipped: (moto as { skipped: string }).skipped };
  const minioAvailability = (server: { url: string } | undefined): ServerAvailability => (server ? { url: server.url } : { skipped: minioBuilt as string });
  project.provide('s3', motoAvailability);
  project.provide('s3Servers', [
    { name: 'moto', kmsKeyId: 'arn:aws:kms:us-east-1:123456789012:key/0f0e0d0c-0b0a-0908-0706-050403020100', strict: false, ...motoAvailability },
    { name: 'minio', kmsKeyId: MINIO_KMS_KEY_NAME, strict: true, ...minioAvailability(minio) },
  ]);
  project.provide('minioWithoutKms', minioAvailability(minioWithoutKms));
  project.provide('azurite', { url: azurite.url, connectionString: azurite.connectionString });
  return async () => {
    await Promise.all([postgres.stop(), s3?.stop(), minio?.stop(), minioWithoutKms?.stop(), azurite.stop(), collector?.stop()]);
    removeScratch();
  };
}

/**
 * Starts every server at once; if one fails, stops those that did start and removes the run's
 * directory before rethrowing, so a failed setup leaves no moto, MinIO or Collector running after vitest exits.
 */
async function startAll<const T extends readonly (Promise<{ stop(): Promise<void> } | undefined> | undefined)[]>(
  removeScratch: () => void,
  starts: T,
): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const settled = await Promise.allSettled(starts);
  const failed = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) {
    await Promise.allSettled(settled.map((result) => (result.status === 'fulfilled' ? result.value?.stop() : undefined)));
    removeScratch();
    throw failed.reason;
  }
  return settled.map((result) => (result as PromiseFulfilledResult<unknown>).value) as { -readonly [K in keyof T]: Awaited<T[K]> };
}
