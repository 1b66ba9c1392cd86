/**
 * The baseline's upload step: stdin → S3 with lib-storage's multipart Upload, as a user would pipe
 * `psql \copy … TO STDOUT` into an uploader. Usage: node upload-stdin.ts <bucket> <key>
 */
import { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { NodeHttpHandler } from '@smithy/node-http-handler';

const [bucket, key] = process.argv.slice(2);
// The same request timeout as the product gets in the bench: moto was seen to leave a request
// unanswered now and then, and the baseline must retry it rather than hang the benchmark.
const requestHandler = new NodeHttpHandler({ requestTimeout: 30_000, socketTimeout: 30_000, throwOnRequestTimeout: true });
const client = new S3Client({ region: process.env.AWS_REGION, endpoint: process.env.S3_ENDPOINT, forcePathStyle: true, requestHandler, maxAttempts: 5 });
await new Upload({ client, params: { Bucket: bucket, Key: key, Body: process.stdin, ServerSideEncryption: 'AES256' }, partSize: 8 << 20, queueSize: 4 }).done();
