/**
 * The Azure Blob SDK client, built from configuration; imported only when the azure provider is
 * chosen (each SDK costs tens of megabytes and a tenth of a second or more to load).
 */
import { DefaultAzureCredential } from '@azure/identity';
import { BlobServiceClient, type StoragePipelineOptions } from '@azure/storage-blob';
import type { AzureStorageConfig } from '../config/config.ts';

/** A connection string (development, Azurite) or the account URL with DefaultAzureCredential (workload identity). */
export function azureServiceClient(config: AzureStorageConfig): BlobServiceClient {
  const options: StoragePipelineOptions = {
    retryOptions: { maxTries: config.maxAttempts, tryTimeoutInMs: config.requestTimeoutMs },
  };
  return config.connectionString
    ? BlobServiceClient.fromConnectionString(config.connectionString, options)
    : new BlobServiceClient(config.accountUrl!, new DefaultAzureCredential(), options);
}
