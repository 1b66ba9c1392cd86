import type { StorageConfig } from '../config/config.ts';
import { LocalStorage } from './local-storage.ts';
import type { ReportStorage } from './report-storage.ts';

/**
 * The one place a provider and its SDK client are built; the pipeline only ever sees
 * `ReportStorage`. A cloud SDK is loaded only for its provider: loading both would cost every
 * run a few hundred milliseconds of start-up (seen in a CPU profile of `npm run bench`).
 */
export async function createStorage(config: StorageConfig): Promise<ReportStorage> {
  switch (config.provider) {
    case 'local':
      return new LocalStorage(config.dir);
    case 's3': {
      const [{ S3Storage }, { s3Client }] = await Promise.all([import('./s3-storage.ts'), import('./s3-client.ts')]);
      // Twice the per-request timeout: a part may legitimately use one whole timeout, then retry.
      return new S3Storage(s3Client(config), { ...config, stallTimeoutMs: 2 * config.requestTimeoutMs });
    }
    case 'azure': {
      const [{ AzureStorage }, { azureServiceClient }] = await Promise.all([import('./azure-storage.ts'), import('./azure-client.ts')]);
      return new AzureStorage(azureServiceClient(config).getContainerClient(config.container), config);
    }
  }
}
