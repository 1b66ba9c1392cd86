import type { S3Client } from '@aws-sdk/client-s3';
import type { S3StorageConfig } from '../../src/config/config.ts';
import { s3Client } from '../../src/storage/s3-client.ts';
import { S3_TEST_CREDENTIALS } from './storage-servers.ts';

/** S3 settings for a test server on `endpoint` (its credentials come from the environment: S3_TEST_CREDENTIALS). */
export function s3TestConfig(endpoint: string | undefined, overrides: Partial<S3StorageConfig> = {}): S3StorageConfig {
  return {
    provider: 's3',
    bucket: 'bucket-relatorios-aplicacao',
    prefix: '',
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    sse: 'AES256',
    kmsKeyId: undefined,
    checksumAlgorithm: 'CRC32',
    verify: true,
    partSizeBytes: 5 * 1024 * 1024,
    queueSize: 4,
    requestTimeoutMs: 10_000,
    maxAttempts: 3,
    ...overrides,
  };
}

/** A client that talks to the server directly, for tests to create buckets and read back objects. */
export function directS3Client(endpoint: string): S3Client {
  Object.assign(process.env, S3_TEST_CREDENTIALS);
  return s3Client(s3TestConfig(endpoint));
}
