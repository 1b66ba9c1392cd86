import { z } from 'zod';
import type { StorageConfig } from './config.ts';
import { parseDuration } from './duration.ts';
import { duration, flag, oneOf, wholeNumber } from './schema-helpers.ts';

/**
 * The storage part of the configuration: which provider, and each provider's settings.
 * Credentials for S3 come only from the AWS SDK's default chain (env, web identity / IRSA, EKS
 * Pod Identity, instance role); we never define credential variables of our own.
 */

export const DEFAULT_BUCKET = 'bucket-relatorios-aplicacao';

export const STORAGE_DEFAULTS = {
  STORAGE_PROVIDER: 'local' as const,
  STORAGE_REQUEST_TIMEOUT: '2m',
  STORAGE_MAX_ATTEMPTS: 5,
  LOCAL_STORAGE_DIR: './out',
  S3_BUCKET: DEFAULT_BUCKET,
  S3_SSE: 'AES256' as const,
  S3_CHECKSUM_ALGORITHM: 'CRC32' as const,
  // 8 MiB parts, 2 in flight while a third fills: 24 MiB of part buffers, chosen by measurement
  // (README, Performance: 4 in flight ran no faster and peaked ~10 MB higher).
  S3_PART_SIZE_MB: 8,
  S3_QUEUE_SIZE: 2,
  AZURE_STORAGE_CONTAINER: DEFAULT_BUCKET,
  AZURE_BLOCK_SIZE_MB: 8,
  AZURE_MAX_CONCURRENCY: 2, // as S3: 8 MiB blocks, 2 staging while a third fills (24 MiB)
};

const S3_BUCKET_NAME = /^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const AZURE_CONTAINER_NAME = /^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

const url = z.string().refine((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), { error: 'must be an http(s) URL' });

export const storageShape = {
  STORAGE_PROVIDER: oneOf(['local', 's3', 'azure']).optional(),
  STORAGE_REQUEST_TIMEOUT: duration('2m').optional(),
  STORAGE_MAX_ATTEMPTS: wholeNumber(1, 20, 5).optional(),
  LOCAL_STORAGE_DIR: z.string().optional(),
  S3_BUCKET: z.string().refine((s) => S3_BUCKET_NAME.test(s), { error: 'must be a valid S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)' }).optional(),
  S3_PREFIX: z.string().optional(),
  AWS_REGION: z.string().optional(),
  AWS_DEFAULT_REGION: z.string().optional(),
  S3_ENDPOINT: url.optional(),
  S3_FORCE_PATH_STYLE: flag.optional(),
  S3_SSE: oneOf(['AES256', 'aws:kms']).optional(),
  S3_SSE_KMS_KEY_ID: z.string().optional(),
  S3_CHECKSUM_ALGORITHM: oneOf(['CRC32', 'CRC32C', 'SHA256', 'NONE']).optional(),
  S3_VERIFY: flag.optional(),
  S3_PART_SIZE_MB: wholeNumber(5, 5_120, 8).optional(),
  S3_QUEUE_SIZE: wholeNumber(1, 64, 2).optional(),
  AZURE_STORAGE_CONNECTION_STRING: z.string().optional(),
  AZURE_STORAGE_ACCOUNT_URL: url.optional(),
  AZURE_STORAGE_CONTAINER: z
    .string()
    .refine((s) => AZURE_CONTAINER_NAME.test(s), { error: 'must be a valid container name (3-63 lowercase letters, digits, single hyphens)' })
    .optional(),
  AZURE_STORAGE_PREFIX: z.string().optional(),
  AZURE_ENCRYPTION_SCOPE: z.string().optional(),
  AZURE_BLOCK_SIZE_MB: wholeNumber(1, 4_000, 8).optional(),
  AZURE_MAX_CONCURRENCY: wholeNumber(1, 64, 2).optional(),
};

type StorageEnv = z.output<z.ZodObject<typeof storageShape>>;

/**
 * Settings that only make sense together, appended to `problems`. Checked on the raw values, so
 * they are listed even when another variable failed the schema.
 */
export function storageProblems(e: Readonly<Record<string, string | undefined>>, problems: string[]): void {
  const provider = e.STORAGE_PROVIDER ?? STORAGE_DEFAULTS.STORAGE_PROVIDER;
  if (provider === 's3') {
    if (!e.AWS_REGION && !e.AWS_DEFAULT_REGION) problems.push('AWS_REGION: is required with STORAGE_PROVIDER=s3 (example: AWS_REGION=sa-east-1)');
    if (e.S3_SSE_KMS_KEY_ID && (e.S3_SSE ?? STORAGE_DEFAULTS.S3_SSE) !== 'aws:kms') {
      problems.push('S3_SSE_KMS_KEY_ID: only applies with S3_SSE=aws:kms (set S3_SSE=aws:kms, or unset the key)');
    }
  }
  if (provider === 'azure') {
    const count = [e.AZURE_STORAGE_CONNECTION_STRING, e.AZURE_STORAGE_ACCOUNT_URL].filter(Boolean).length;
    if (count !== 1) {
      problems.push(
        'AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT_URL: set exactly one ' +
          '(the account URL uses workload identity, e.g. https://myaccount.blob.core.windows.net)',
      );
    }
  }
}

/** The provider's configuration (call only when the schema and `storageProblems` found nothing). */
export function storageConfig(e: StorageEnv): StorageConfig {
  const common = {
    requestTimeoutMs: e.STORAGE_REQUEST_TIMEOUT ?? parseDuration(STORAGE_DEFAULTS.STORAGE_REQUEST_TIMEOUT)!,
    maxAttempts: e.STORAGE_MAX_ATTEMPTS ?? STORAGE_DEFAULTS.STORAGE_MAX_ATTEMPTS,
  };
  switch (e.STORAGE_PROVIDER ?? STORAGE_DEFAULTS.STORAGE_PROVIDER) {
    case 'local':
      return { provider: 'local', dir: e.LOCAL_STORAGE_DIR ?? STORAGE_DEFAULTS.LOCAL_STORAGE_DIR };
    case 's3': {
      const sse = e.S3_SSE ?? STORAGE_DEFAULTS.S3_SSE;
      return {
        provider: 's3',
        ...common,
        bucket: e.S3_BUCKET ?? STORAGE_DEFAULTS.S3_BUCKET,
        prefix: normalizePrefix(e.S3_PREFIX),
        region: (e.AWS_REGION ?? e.AWS_DEFAULT_REGION)!,
        endpoint: e.S3_ENDPOINT,
        forcePathStyle: e.S3_FORCE_PATH_STYLE ?? false,
        sse,
        kmsKeyId: e.S3_SSE_KMS_KEY_ID,
        checksumAlgorithm: e.S3_CHECKSUM_ALGORITHM ?? STORAGE_DEFAULTS.S3_CHECKSUM_ALGORITHM,
        verify: e.S3_VERIFY ?? true,
        partSizeBytes: (e.S3_PART_SIZE_MB ?? STORAGE_DEFAULTS.S3_PART_SIZE_MB) * 1024 * 1024,
        queueSize: e.S3_QUEUE_SIZE ?? STORAGE_DEFAULTS.S3_QUEUE_SIZE,
      };
    }
    case 'azure':
      return {
        provider: 'azure',
        ...common,
        connectionString: e.AZURE_STORAGE_CONNECTION_STRING,
        accountUrl: e.AZURE_STORAGE_ACCOUNT_URL,
        container: e.AZURE_STORAGE_CONTAINER ?? STORAGE_DEFAULTS.AZURE_STORAGE_CONTAINER,
        prefix: normalizePrefix(e.AZURE_STORAGE_PREFIX),
        encryptionScope: e.AZURE_ENCRYPTION_SCOPE,
        blockSizeBytes: (e.AZURE_BLOCK_SIZE_MB ?? STORAGE_DEFAULTS.AZURE_BLOCK_SIZE_MB) * 1024 * 1024,
        maxConcurrency: e.AZURE_MAX_CONCURRENCY ?? STORAGE_DEFAULTS.AZURE_MAX_CONCURRENCY,
      };
  }
}

/** "" stays ""; "reports" and "/reports/" become "reports/". */
function normalizePrefix(prefix: string | undefined): string {
  const trimmed = (prefix ?? '').replace(/^\/+/, '').replace(/\/+$/, '');
  return trimmed === '' ? '' : `${trimmed}/`;
}
