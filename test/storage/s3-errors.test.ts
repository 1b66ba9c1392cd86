import { describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.ts';
import { classifyS3Error } from '../../src/storage/s3-errors.ts';

const s3Error = (name: string, status: number, message: string) => Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });
const classify = (error: Error) => classifyS3Error(error, 'upload', 's3://b/relatorio_20241005.csv') as Error & { exitCode: number };

describe('S3 errors of S3-compatible servers, in the product’s exit codes', () => {
  it('SSE the server cannot do (MinIO without a KMS) is configuration (2), naming S3_SSE and the server-side fix', () => {
    const error = classify(s3Error('NotImplemented', 501, 'Server side encryption specified but KMS is not configured'));
    expect(error.exitCode).toBe(ExitCode.invalidInput);
    expect(error.message).toMatch(/does not support the server-side encryption S3_SSE asks for.*MINIO_KMS_SECRET_KEY.*S3_SSE=none/);
  });

  it('a KMS key the server does not have is configuration (2), naming S3_SSE_KMS_KEY_ID; a key the role may not use stays access denied (4)', () => {
    expect(classify(s3Error('kms:KeyNotFound', 404, 'key not found')).message).toMatch(/the KMS key in S3_SSE_KMS_KEY_ID was not found/);
    expect(classify(s3Error('kms:KeyNotFound', 404, 'key not found')).exitCode).toBe(ExitCode.invalidInput);
    expect(classify(s3Error('KMS.AccessDeniedException', 403, 'not authorized to perform kms:GenerateDataKey')).exitCode).toBe(ExitCode.accessDenied);
  });

  it('a missing object is not mistaken for a missing KMS key', () => {
    expect(classify(s3Error('NoSuchKey', 404, 'The specified key does not exist.')).message).not.toMatch(/KMS/);
  });

  it('a 501 about anything else, and a 500 (SeaweedFS without WEED_S3_SSE_KEY says only "please try again"), stay transient (1)', () => {
    expect(classify(s3Error('NotImplemented', 501, 'A header you provided implies functionality that is not implemented')).exitCode).toBe(ExitCode.transient);
    expect(classify(s3Error('InternalError', 500, 'We encountered an internal error, please try again.')).exitCode).toBe(ExitCode.transient);
  });

  it('a whole-object checksum MinIO refuses at CompleteMultipartUpload (XAmzContentChecksumMismatch, 400) is damage in transit (1), not configuration', () => {
    const error = classify(s3Error('XAmzContentChecksumMismatch', 400, 'The provided \'x-amz-checksum\' header does not match what was computed.'));
    expect(error.exitCode).toBe(ExitCode.transient);
    expect(error.message).toMatch(/^S3 refused upload of s3:\/\/b\/relatorio_20241005\.csv as damaged/);
  });
});
