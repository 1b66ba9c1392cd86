import type { TestProject } from 'vitest/node';
import { ensureAzurite, ensureMoto, startAzurite, startMoto, type ServerAvailability } from './storage-servers.ts';
import { ensureKubeTools, type KubeTools } from './kube-tools.ts';
import { ensureCollector, startCollector, type CollectorAvailability } from './otel-collector.ts';
import { startPostgres, type PostgresEndpoint } from './postgres-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    postgres: PostgresEndpoint;
    s3: ServerAvailability;
    azurite: { url: string; connectionString: string };
    kubeTools: KubeTools;
    collector: CollectorAvailability;
  }
}

/** Starts every real service the tests use, once per run: PostgreSQL, an S3-protocol server, Azurite, an OpenTelemetry Collector; and provides helm. */
export default async function setup(project: TestProject) {
  const log = (line: string) => process.stderr.write(`[test setup] ${line}\n`);
  project.provide('kubeTools', ensureKubeTools(log));
  const moto = ensureMoto(log);
  if (typeof moto !== 'string') {
    if (process.env.CI) throw new Error(`the S3 tests need moto_server and CI=true forbids skipping them: ${moto.skipped}`);
    log(`!!! S3 TESTS SKIPPED: ${moto.skipped}. Set MOTO_SERVER to a moto_server binary to run them.`);
  }
  const azuriteMain = ensureAzurite(log);
  const collectorBuilt = ensureCollector(log);
  if (collectorBuilt !== true) {
    if (process.env.CI) throw new Error(`the telemetry tests need the OpenTelemetry Collector and CI=true forbids skipping them: ${collectorBuilt}`);
    log(`!!! TELEMETRY TESTS SKIPPED: ${collectorBuilt}`);
  }
  const [postgres, s3, azurite, collector] = await Promise.all([
    startPostgres(log),
    typeof moto === 'string' ? startMoto(moto) : undefined,
    startAzurite(azuriteMain),
    collectorBuilt === true ? startCollector() : undefined,
  ]);
  if (collector) log(`started the OpenTelemetry Collector (OTLP/HTTP) on ${collector.endpoint}`);
  project.provide('collector', collector ? { endpoint: collector.endpoint, output: collector.output } : { skipped: collectorBuilt as string });
  if (s3) log(`started moto_server (S3) on ${s3.url}`);
  log(`started Azurite (blob) on ${azurite.url}`);
  project.provide('postgres', postgres.endpoint);
  project.provide('s3', s3 ? { url: s3.url } : { skipped: (moto as { skipped: string }).skipped });
  project.provide('azurite', { url: azurite.url, connectionString: azurite.connectionString });
  return async () => {
    await Promise.all([postgres.stop(), s3?.stop(), azurite.stop(), collector?.stop()]);
  };
}
