/**
 * An Azure Storage connection string checked the way @azure/storage-blob reads it
 * (`Key=Value;…`, keys case-insensitive), so a malformed one is refused with exit 2 at load
 * time rather than as "Invalid URL" (exit 1, retried) when the client is built. Part of the
 * storage settings; the messages never quote the string (it holds the account key or a SAS).
 */
export function azureConnectionStringProblem(connectionString: string): string | undefined {
  const parts = connectionStringParts(connectionString);
  if (parts === undefined) return 'is not a connection string: expected Key=Value pairs separated by ";" (copy it from the portal: Access keys → Connection string)';
  if (parts.get('usedevelopmentstorage')?.toLowerCase() === 'true') return undefined;

  const endpoint = parts.get('blobendpoint');
  if (endpoint !== undefined && !(URL.canParse(endpoint) && /^https?:$/.test(new URL(endpoint).protocol))) {
    return 'has a BlobEndpoint that is not an http(s) URL';
  }
  const protocol = parts.get('defaultendpointsprotocol');
  if (protocol !== undefined && !/^https?$/i.test(protocol)) return 'has a DefaultEndpointsProtocol other than https or http';

  if (parts.has('accountkey')) {
    if (!parts.get('accountname')) return 'has an AccountKey but no AccountName';
    if (!/^[A-Za-z0-9+/]+=*$/.test(parts.get('accountkey')!)) return 'has an AccountKey that is not base64';
    return undefined;
  }
  if (parts.has('sharedaccesssignature')) {
    if (endpoint === undefined) return 'has a SharedAccessSignature but no BlobEndpoint (a SAS connection string names the endpoint)';
    return undefined;
  }
  return 'has neither AccountName with AccountKey nor BlobEndpoint with SharedAccessSignature';
}

/**
 * The credentials inside a connection string, which travel without the rest: the SDK appends the
 * SAS token to every blob URL (`locate()`, errors). The loader redacts each as a secret of its own.
 */
export function connectionStringSecrets(connectionString: string): string[] {
  const parts = connectionStringParts(connectionString);
  if (parts === undefined) return [];
  const sas = parts.get('sharedaccesssignature');
  const signature = sas === undefined ? undefined : new URLSearchParams(sas.replace(/^\?/, '')).get('sig');
  return [parts.get('accountkey'), sas?.replace(/^\?/, ''), signature ?? undefined, signature === null || signature === undefined ? undefined : encodeURIComponent(signature)].filter(
    (value): value is string => value !== undefined && value !== '',
  );
}

function connectionStringParts(connectionString: string): Map<string, string> | undefined {
  const parts = new Map<string, string>();
  for (const part of connectionString.split(';')) {
    if (part.trim() === '') continue;
    const equals = part.indexOf('=');
    if (equals <= 0) return undefined;
    parts.set(part.slice(0, equals).trim().toLowerCase(), part.slice(equals + 1).trim());
  }
  return parts;
}
