import { AccessWasDenied, ConditionNotMet, ConfigurationIsInvalid, isCertificateError, ReportError, TransientFailure } from '../errors.ts';

/**
 * S3 failures in the product's terms. The SDK has already retried throttling, 5xx and connection
 * resets by the time an error reaches us, so those are transient (exit 1); permissions, KMS access and a
 * missing bucket never heal by retrying (exit 4); encryption the server cannot do, or a KMS key it does
 * not have, are configuration (exit 2). Credentials are never part of the message.
 */
export function classifyS3Error(error: unknown, operation: string, location: string): unknown {
  if (error instanceof ReportError || isAbort(error)) return error;
  const e = error as { name?: string; Code?: string; message?: string; $metadata?: { httpStatusCode?: number }; code?: string };
  const status = e.$metadata?.httpStatusCode;
  const name = e.Code ?? e.name ?? 'Error';
  const detail = `${name}${status ? ` (HTTP ${status})` : ''}: ${e.message ?? String(error)}`;
  const options = { phase: 'upload' as const, cause: error, context: { operation, location, s3_error: name, http_status: status } };

  if (isCertificateError(error)) {
    return new AccessWasDenied(`TLS verification of the S3 endpoint for ${location} failed (${(error as Error).message}); for a private CA set NODE_EXTRA_CA_CERTS`, options);
  }
  if (status === 412 || name === 'PreconditionFailed') {
    return new ConditionNotMet(`${location} is not as the conditional S3 ${operation} expected (412 PreconditionFailed)`, options);
  }
  // After a CompleteMultipartUpload whose answer was lost, the SDK's retry finds no upload: the
  // publisher looks at the object to tell our own completed write from anything else.
  if (name === 'NoSuchUpload') {
    return new ConditionNotMet(`the multipart upload of ${location} is gone (NoSuchUpload on ${operation}): completed by an earlier attempt, or aborted`, options);
  }
  // The server refused to assemble or store bytes that do not match their checksums or size: the
  // bytes were damaged or lost on the way, which a new attempt does not repeat. MinIO refuses a
  // wrong FULL_OBJECT checksum at CompleteMultipartUpload with XAmzContentChecksumMismatch (400).
  if (['BadDigest', 'InvalidPart', 'InvalidPartOrder', 'XAmzContentSHA256Mismatch', 'XAmzContentChecksumMismatch', 'InvalidDigest', 'IncompleteBody'].includes(name)) {
    return new TransientFailure(`S3 refused ${operation} of ${location} as damaged: ${detail}`, options);
  }
  // S3-compatible servers without the encryption we ask for: MinIO without a KMS answers 501
  // NotImplemented "Server side encryption specified but KMS is not configured" (even for a missing
  // bucket), Ceph RGW over HTTP refuses SSE. Retrying cannot help; the server or S3_SSE must change.
  if ((status === 501 || status === 400 || name === 'NotImplemented') && SSE_REFUSED.test(e.message ?? '')) {
    return new ConfigurationIsInvalid(
      [
        `S3 ${operation} of ${location}: the server does not support the server-side encryption S3_SSE asks for (${detail}). ` +
          'Configure its encryption (MinIO: MINIO_KMS_SECRET_KEY or a KES server; Ceph RGW: TLS on the endpoint; SeaweedFS: WEED_S3_SSE_KEY), ' +
          'or set S3_SSE=none if it encrypts at rest by its own means (docs/s3-compatible.md)',
      ],
      options,
    );
  }
  // A key S3_SSE_KMS_KEY_ID names that does not exist (MinIO kms:KeyNotFound 404, AWS KMS.NotFoundException 400):
  // a configuration mistake, unlike a key the role may not use (403, below).
  if (status !== 403 && (/KeyNotFound|KMS\.NotFoundException|KMS\.InvalidKeyUsageException|XAdminUserNotFound/.test(name) || (status === 404 && /\bkms\b/i.test(e.message ?? '')))) {
    return new ConfigurationIsInvalid([`S3 ${operation} of ${location}: the KMS key in S3_SSE_KMS_KEY_ID was not found by the server (${detail}); name a key it has, or unset S3_SSE_KMS_KEY_ID for the default key`], options);
  }
  if (/^KMS\./.test(name) || /kms/i.test(e.message ?? '') && status === 403) {
    return new AccessWasDenied(`S3 ${operation} of ${location} was refused by KMS: ${detail}; the role needs kms:GenerateDataKey and kms:Decrypt on the key`, options);
  }
  if (status === 403 || ['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'InvalidToken', 'AllAccessDisabled'].includes(name)) {
    return new AccessWasDenied(`S3 ${operation} of ${location} was denied: ${detail}`, options);
  }
  if (name === 'NoSuchBucket') return new AccessWasDenied(`S3 ${operation}: the bucket of ${location} does not exist: ${detail}`, options);
  if (name === 'CredentialsProviderError') {
    return new AccessWasDenied(`no AWS credentials for S3 ${operation} of ${location}: ${e.message} (IRSA, Pod Identity, instance role or AWS_* variables)`, options);
  }
  if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 409 && status !== 429) {
    return new ConfigurationIsInvalid([`S3 rejected ${operation} of ${location}: ${detail}`], options);
  }
  return new TransientFailure(`S3 ${operation} of ${location} failed: ${detail}`, options);
}

const SSE_REFUSED = /server.side.encryption|\bKMS\b.*not configured|\bencryption\b.*\b(SSL|TLS|HTTPS|secure)\b|\b(SSL|TLS|HTTPS)\b.*\bencrypt/i;

function isAbort(error: unknown): boolean {
  return (error as Error)?.name === 'AbortError';
}
