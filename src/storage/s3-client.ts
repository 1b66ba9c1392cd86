/** The S3 SDK client, built from configuration; imported only when the s3 provider is chosen. */
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import http from 'node:http';
import https from 'node:https';
import type { S3StorageConfig } from '../config/config.ts';

/**
 * Credentials come from the SDK's default chain only. Agents honour HTTP(S)_PROXY and NO_PROXY
 * (Node's `proxyEnv`); a private CA comes from NODE_EXTRA_CA_CERTS, which Node reads itself.
 */
export function s3Client(config: S3StorageConfig): S3Client {
  const agentOptions = { keepAlive: true, maxSockets: config.queueSize + 2, proxyEnv: process.env };
  return new S3Client({
    region: config.region,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    forcePathStyle: config.forcePathStyle,
    maxAttempts: config.maxAttempts,
    // NONE is for S3-compatible servers that reject the newer checksum headers.
    requestChecksumCalculation: config.checksumAlgorithm === 'NONE' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED',
    responseChecksumValidation: config.checksumAlgorithm === 'NONE' ? 'WHEN_REQUIRED' : 'WHEN_SUPPORTED',
    requestHandler: new NodeHttpHandler({
      connectionTimeout: Math.min(config.requestTimeoutMs, 10_000),
      // A request is abandoned and retried when its connection goes silent for this long, and in
      // any case when it has taken this long in all: a server that acknowledged a part's bytes
      // and never answered was seen to escape the inactivity timer (README, Failure behaviour).
      socketTimeout: config.requestTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
      throwOnRequestTimeout: true,
      httpAgent: new http.Agent(agentOptions),
      httpsAgent: new https.Agent(agentOptions),
    }),
  });
}
