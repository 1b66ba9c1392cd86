import { S3_CHECKSUM_ALGORITHMS, S3_SSE_MODES, STORAGE_PROVIDERS, type StorageConfig } from '../config/config.ts';
import { defineSettings, duration, flag, keyPathCheck, oneOf, text, unquotedProblem, url, wholeNumber, type BuildContext, type SettingsDomain } from '../config/setting.ts';
import { azureConnectionStringProblem, connectionStringSecrets } from './azure-connection-string.ts';

/**
 * Where reports are published: the provider, and each provider's settings. Credentials for S3
 * come only from the AWS SDK's default chain (env, web identity / IRSA, EKS Pod Identity, instance
 * role); we define no credential variables of our own.
 */

export const DEFAULT_BUCKET = 'bucket-relatorios-aplicacao';

const S3_BUCKET_NAME = /^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const AZURE_CONTAINER_NAME = /^(?!.*--)[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;
// AWS's own form (sa-east-1, us-gov-west-1, cn-north-1, eu-isoe-west-1); any S3-compatible server's region (auto, garage) with S3_ENDPOINT.
const AWS_REGION_FORM = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
const CUSTOM_REGION_FORM = /^[a-z0-9][a-z0-9-]{0,62}$/;
// Commands that publish or look at published reports: backfill --missing-only asks the storage too.
const STORAGE_COMMANDS = ['run', 'validate', 'backfill'] as const;
const prefixCheck = keyPathCheck('prefix', 'diarios/');
// Each size is bounded alone; their product is the memory the upload holds. Past this the pod is
// OOM-killed mid-upload (exit 137, retried by Kubernetes) instead of refused.
const MAX_PART_BUFFERS_MB = 2_048;
// The form every server's region has; AWS's own form is checked with the provider (it depends on S3_ENDPOINT).
const regionCheck = (s: string) => (CUSTOM_REGION_FORM.test(s) ? undefined : 'must be an AWS region such as sa-east-1 or us-east-1');

export const STORAGE_SETTINGS = defineSettings({
  STORAGE_PROVIDER: oneOf({ values: STORAGE_PROVIDERS, default: 'local', commands: STORAGE_COMMANDS, doc: '`s3`, `azure` or `local` (see Storage providers).' }),
  STORAGE_REQUEST_TIMEOUT: duration({
    min: '1s', max: '30m', example: '2m', default: '2m', commands: STORAGE_COMMANDS,
    doc: 'S3/Azure: a request silent this long (or taking this long in all) is dropped and retried. An upload that makes no progress for twice this fails with exit 1 (the time the database takes to give rows does not count).',
  }),
  STORAGE_MAX_ATTEMPTS: wholeNumber({ min: 1, max: 20, example: 5, default: '5', commands: STORAGE_COMMANDS, doc: 'S3/Azure: attempts per request (the SDKs back off between them).' }),
  LOCAL_STORAGE_DIR: text({ default: './out', commands: STORAGE_COMMANDS, form: 'path of a directory', doc: 'Directory for `local`: a writable directory, or one that can be created (a file there is refused before anything is contacted).' }),
  S3_BUCKET: text({
    default: DEFAULT_BUCKET, commands: STORAGE_COMMANDS, form: 'S3 bucket name', doc: 'Bucket.',
    check: (s) => (S3_BUCKET_NAME.test(s) ? undefined : 'must be a valid S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)'),
  }),
  S3_PREFIX: text({ commands: STORAGE_COMMANDS, form: 'key prefix', defaultDoc: '*(empty)*', check: prefixCheck, doc: 'Key prefix, e.g. `diarios/` → `diarios/relatorio_20241005.csv` (a missing final `/` is added).' }),
  AWS_REGION: text({ commands: STORAGE_COMMANDS, form: 'AWS region', defaultDoc: '*(required for s3)*', check: regionCheck, doc: 'e.g. `sa-east-1`. With `S3_ENDPOINT`, any region name the server expects (e.g. `auto`).' }),
  AWS_DEFAULT_REGION: text({ commands: STORAGE_COMMANDS, form: 'AWS region', defaultDoc: '*(none)*', check: regionCheck, doc: 'Used when `AWS_REGION` is not set.' }),
  // Read by the AWS SDK's credential chain, not by the job; declared so the chart may render it (credentials.keys.awsCredentials).
  AWS_SHARED_CREDENTIALS_FILE: text({ commands: STORAGE_COMMANDS, form: 'path of a file', defaultDoc: '*(the SDK\'s default chain)*', doc: 'An AWS shared credentials file (a mounted Secret), for S3 without IRSA or Pod Identity; read by the AWS SDK.' }),
  S3_ENDPOINT: url({ commands: STORAGE_COMMANDS, defaultDoc: '*(AWS)*', doc: 'For S3-compatible servers (MinIO, Ceph…; see docs/s3-compatible.md). Path-style requests with it, unless `S3_FORCE_PATH_STYLE=false`.' }),
  S3_FORCE_PATH_STYLE: flag({
    commands: STORAGE_COMMANDS, defaultDoc: '`true` with `S3_ENDPOINT`, else `false`',
    doc: 'Path-style requests (`http://server/bucket/key`). S3-compatible servers seldom resolve a bucket as a host name, so it is on with `S3_ENDPOINT`; `false` for one that wants virtual-host style.',
  }),
  S3_SSE: oneOf({
    values: S3_SSE_MODES, default: 'AES256', commands: STORAGE_COMMANDS,
    doc: '`AES256` (SSE-S3) or `aws:kms` (SSE-KMS, with an S3 bucket key), always sent; `none` (only with `S3_ENDPOINT`) sends no encryption header, for a server that encrypts at rest by its own means (see docs/s3-compatible.md).',
  }),
  S3_SSE_KMS_KEY_ID: text({ commands: STORAGE_COMMANDS, form: 'KMS key id or ARN', defaultDoc: '*(the AWS-managed key)*', doc: 'KMS key id/ARN, only with `S3_SSE=aws:kms`.' }),
  S3_CHECKSUM_ALGORITHM: oneOf({ values: S3_CHECKSUM_ALGORITHMS, default: 'CRC32', commands: STORAGE_COMMANDS, doc: '`CRC32`, `CRC32C`, `SHA256`, or `NONE` for S3-compatible servers that reject the newer checksum headers.' }),
  S3_VERIFY: flag({ default: 'true', commands: STORAGE_COMMANDS, doc: 'HeadObject after the upload to confirm the checksum too (size, ETag and `run_id` are always checked; the report\'s lock needs `s3:GetObject` in any case).' }),
  S3_PART_SIZE_MB: wholeNumber({ min: 5, max: 5_120, example: 8, default: '8', commands: STORAGE_COMMANDS, doc: 'Multipart part size in MiB.' }),
  // 8 MiB parts, 2 in flight while a third fills: 24 MiB of part buffers, chosen by measurement
  // (README, Performance: 4 in flight ran no faster and peaked ~10 MB higher).
  S3_QUEUE_SIZE: wholeNumber({ min: 1, max: 64, example: 2, default: '2', commands: STORAGE_COMMANDS, doc: 'Parts uploading at once. Part buffers = part size × (queue size + 1) = 24 MiB by default, at most 2048 MiB; raise it for a distant bucket (and the memory limit with it).' }),
  AZURE_STORAGE_CONNECTION_STRING: text({
    secret: true, fromFile: true, commands: STORAGE_COMMANDS, form: 'Azure Storage connection string', defaultDoc: '—', secretParts: connectionStringSecrets,
    check: (s) => {
      const wrong = azureConnectionStringProblem(s);
      return wrong === undefined ? undefined : unquotedProblem(wrong);
    },
    doc: 'Development (Azurite) or key-based access.',
  }),
  AZURE_STORAGE_ACCOUNT_URL: url({ commands: STORAGE_COMMANDS, defaultDoc: '—', doc: 'e.g. `https://myaccount.blob.core.windows.net`, with `DefaultAzureCredential` (workload identity). Set exactly one of the two.' }),
  AZURE_STORAGE_CONTAINER: text({
    default: DEFAULT_BUCKET, commands: STORAGE_COMMANDS, form: 'container name', doc: 'Container.',
    check: (s) => (AZURE_CONTAINER_NAME.test(s) ? undefined : 'must be a valid container name (3-63 lowercase letters, digits, single hyphens)'),
  }),
  AZURE_STORAGE_PREFIX: text({ commands: STORAGE_COMMANDS, form: 'blob name prefix', defaultDoc: '*(empty)*', check: prefixCheck, doc: 'Blob name prefix (a missing final `/` is added).' }),
  AZURE_ENCRYPTION_SCOPE: text({ commands: STORAGE_COMMANDS, form: 'encryption scope name', defaultDoc: '*(account default)*', doc: 'Encryption scope for the blobs (e.g. one backed by a customer-managed key).' }),
  AZURE_BLOCK_SIZE_MB: wholeNumber({ min: 1, max: 4_000, example: 8, default: '8', commands: STORAGE_COMMANDS, doc: 'Block size in MiB.' }),
  AZURE_MAX_CONCURRENCY: wholeNumber({ min: 1, max: 64, example: 2, default: '2', commands: STORAGE_COMMANDS, doc: 'Blocks uploading at once. Block buffers = block size × (concurrency + 1) = 24 MiB by default (at most 2048 MiB), as for S3.' }),
});

export const storageSettings: SettingsDomain<typeof STORAGE_SETTINGS, StorageConfig> = {
  spec: STORAGE_SETTINGS,
  build(v, context) {
    const common = { requestTimeoutMs: v.STORAGE_REQUEST_TIMEOUT, maxAttempts: v.STORAGE_MAX_ATTEMPTS };
    switch (v.STORAGE_PROVIDER) {
      case 'local':
        context.requireDirectory('LOCAL_STORAGE_DIR', v.LOCAL_STORAGE_DIR);
        return { provider: 'local', dir: v.LOCAL_STORAGE_DIR };
      case 's3': {
        const region = v.AWS_REGION ?? v.AWS_DEFAULT_REGION;
        const regionName = v.AWS_REGION === undefined ? 'AWS_DEFAULT_REGION' : 'AWS_REGION';
        if (context.failed('AWS_REGION') || context.failed('AWS_DEFAULT_REGION')) {
          // Already reported with its value.
        } else if (region === undefined) context.problem('AWS_REGION', 'is required with STORAGE_PROVIDER=s3 (example: AWS_REGION=sa-east-1)');
        else if (v.S3_ENDPOINT === undefined && !AWS_REGION_FORM.test(region)) {
          context.problem(regionName, `must be an AWS region such as sa-east-1 or us-east-1 (got ${JSON.stringify(region)})`);
        }
        bufferProblem(context, 'S3_PART_SIZE_MB', v.S3_PART_SIZE_MB, 'S3_QUEUE_SIZE', v.S3_QUEUE_SIZE);
        if (v.S3_SSE === 'none') {
          if (v.S3_ENDPOINT === undefined) {
            context.problem('S3_SSE', 'none is only for S3-compatible servers (with S3_ENDPOINT): AWS S3 encrypts every object, so use AES256 or aws:kms');
          } else {
            context.warning(`S3_SSE=none: reports are sent to ${v.S3_ENDPOINT} without a server-side encryption header; they are encrypted at rest only if that server does so by its own means`);
          }
        }
        if (v.S3_SSE_KMS_KEY_ID !== undefined && v.S3_SSE !== 'aws:kms') {
          context.problem('S3_SSE_KMS_KEY_ID', 'only applies with S3_SSE=aws:kms (set S3_SSE=aws:kms, or unset the key)');
        }
        return {
          provider: 's3',
          ...common,
          bucket: v.S3_BUCKET,
          prefix: normalizePrefix(v.S3_PREFIX),
          region: region ?? '',
          endpoint: v.S3_ENDPOINT,
          // Virtual-host style only for AWS itself, unless told otherwise.
          forcePathStyle: v.S3_FORCE_PATH_STYLE ?? v.S3_ENDPOINT !== undefined,
          sse: v.S3_SSE,
          kmsKeyId: v.S3_SSE_KMS_KEY_ID,
          checksumAlgorithm: v.S3_CHECKSUM_ALGORITHM,
          verify: v.S3_VERIFY,
          partSizeBytes: v.S3_PART_SIZE_MB * 1024 * 1024,
          queueSize: v.S3_QUEUE_SIZE,
        };
      }
      case 'azure':
        bufferProblem(context, 'AZURE_BLOCK_SIZE_MB', v.AZURE_BLOCK_SIZE_MB, 'AZURE_MAX_CONCURRENCY', v.AZURE_MAX_CONCURRENCY);
        if (context.given('AZURE_STORAGE_CONNECTION_STRING') === context.given('AZURE_STORAGE_ACCOUNT_URL')) {
          context.problem(
            'AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT_URL',
            'set exactly one (the account URL uses workload identity, e.g. https://myaccount.blob.core.windows.net)',
          );
        }
        return {
          provider: 'azure',
          ...common,
          connectionString: v.AZURE_STORAGE_CONNECTION_STRING,
          accountUrl: v.AZURE_STORAGE_ACCOUNT_URL,
          container: v.AZURE_STORAGE_CONTAINER,
          prefix: normalizePrefix(v.AZURE_STORAGE_PREFIX),
          encryptionScope: v.AZURE_ENCRYPTION_SCOPE,
          blockSizeBytes: v.AZURE_BLOCK_SIZE_MB * 1024 * 1024,
          maxConcurrency: v.AZURE_MAX_CONCURRENCY,
        };
    }
  },
};

/** Part (block) buffers = size × (in flight + 1, the one filling), bounded as a whole. */
function bufferProblem(context: BuildContext, sizeName: string, sizeMb: number, queueName: string, queue: number): void {
  if (context.failed(sizeName) || context.failed(queueName)) return;
  const total = sizeMb * (queue + 1);
  if (total > MAX_PART_BUFFERS_MB) {
    context.problem(`${sizeName} and ${queueName}`, `hold ${sizeMb} MiB × (${queue} + 1) = ${total} MiB of buffers, more than ${MAX_PART_BUFFERS_MB} MiB: the pod would be OOM-killed mid-upload; lower one of them (the defaults hold 24 MiB)`);
  }
}

/** "" stays ""; "reports" becomes "reports/" (a leading "/" or a ".." segment was refused by the check). */
function normalizePrefix(prefix: string | undefined): string {
  const trimmed = (prefix ?? '').replace(/\/+$/, '');
  return trimmed === '' ? '' : `${trimmed}/`;
}
