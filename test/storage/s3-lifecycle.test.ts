import { CreateBucketCommand, GetBucketLifecycleConfigurationCommand, PutBucketLifecycleConfigurationCommand } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { expect, it } from 'vitest';
import { describeOnS3Servers } from '../support/s3-servers.ts';
import { directS3Client } from '../support/s3-test-config.ts';

const lifecycle = async () => JSON.parse(await readFile(new URL('../../src/storage/policies/aws-lifecycle.json', import.meta.url), 'utf8'));

// One rule with every action: MinIO refuses a rule whose only action is AbortIncompleteMultipartUpload
// ("did not validate against our published schema"), and drops that action from a rule that has others.
describeOnS3Servers('the shipped lifecycle policy (aws-lifecycle.json)', (server) => {
  it('is accepted by PutBucketLifecycleConfiguration and keeps the reports’ retention', async () => {
    const client = directS3Client(server.url);
    const bucket = `lifecycle-${randomBytes(5).toString('hex')}`;
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    await client.send(new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: await lifecycle() }));
    const { Rules } = await client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket }));
    expect(Rules).toHaveLength(1);
    expect(Rules![0]).toMatchObject({ Status: 'Enabled', Filter: { Prefix: 'relatorio_' }, Expiration: { Days: 90 } });
    // MinIO aborts abandoned uploads itself (MINIO_API_STALE_UPLOADS_EXPIRY, 24 h by default): docs/s3-compatible.md.
    if (server.name === 'minio') expect(Rules![0]!.AbortIncompleteMultipartUpload).toBeUndefined();
    else expect(Rules![0]!.AbortIncompleteMultipartUpload).toEqual({ DaysAfterInitiation: 1 });
  });
});
