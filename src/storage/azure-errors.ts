import { AccessWasDenied, ConditionNotMet, ConfigurationIsInvalid, isCertificateError, ReportError, TransientFailure } from '../errors.ts';

/** Azure Blob failures in the product's terms (the SDK has retried transient ones already). */
export function classifyAzureError(error: unknown, operation: string, location: string): unknown {
  if (error instanceof ReportError || (error as Error)?.name === 'AbortError') return error;
  const e = error as { name?: string; code?: string; statusCode?: number; message?: string };
  const status = e.statusCode;
  const code = e.code ?? e.name ?? 'Error';
  const detail = `${code}${status ? ` (HTTP ${status})` : ''}: ${firstLine(e.message ?? String(error))}`;
  const options = { phase: 'upload' as const, cause: error, context: { operation, location, azure_error: code, http_status: status } };

  if (isCertificateError(error)) {
    return new AccessWasDenied(`TLS verification of the Azure endpoint for ${location} failed (${(error as Error).message}); for a private CA set NODE_EXTRA_CA_CERTS`, options);
  }
  if (code === 'BlobAlreadyExists' || code === 'ConditionNotMet' || status === 412) {
    return new ConditionNotMet(`${location} is not as the conditional Azure ${operation} expected (${code})`, options);
  }
  // A block list naming a block the service does not have: a block lost on the way (its Put Block
  // failed, or was cut short), not a configuration problem; the next attempt stages them afresh.
  if (code === 'InvalidBlockList' || code === 'InvalidBlockId' || code === 'Md5Mismatch' || code === 'InvalidMd5') {
    return new TransientFailure(`Azure refused ${operation} of ${location} as damaged or incomplete: ${detail}`, options);
  }
  if (code === 'ContainerNotFound') return new AccessWasDenied(`Azure ${operation}: the container of ${location} does not exist: ${detail}`, options);
  if (status === 401 || status === 403 || e.name === 'CredentialUnavailableError' || e.name === 'AuthenticationError') {
    return new AccessWasDenied(`Azure ${operation} of ${location} was denied: ${detail} (the identity needs Storage Blob Data Contributor on the container)`, options);
  }
  if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 409 && status !== 429) {
    return new ConfigurationIsInvalid([`Azure rejected ${operation} of ${location}: ${detail}`], options);
  }
  return new TransientFailure(`Azure ${operation} of ${location} failed: ${detail}`, options);
}

/** Azure's messages carry RequestId and Time on further lines: keep the sentence. */
function firstLine(message: string): string {
  return message.split('\n')[0]!;
}
