import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';

const load = async (name: string) => JSON.parse(await readFile(new URL(`../../src/storage/policies/${name}`, import.meta.url), 'utf8'));
const asList = (value: string | string[]) => (Array.isArray(value) ? value : [value]);
const BUCKET = 'arn:aws:s3:::bucket-relatorios-aplicacao';

describe('least-privilege policies shipped for operators', () => {
  it('lets the worker write, abort, verify and delete reports (the lock, a manifest being replaced), and nothing else in S3', async () => {
    const policy = await load('aws-worker-policy.json');
    const s3 = policy.Statement.filter((s: any) => asList(s.Action).some((a: string) => a.startsWith('s3:')));
    const objectLevel = s3.find((s: any) => asList(s.Action).includes('s3:PutObject'));
    expect(asList(objectLevel.Action).sort()).toEqual(['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:GetObject', 's3:PutObject']);
    expect(objectLevel.Resource).toBe(`${BUCKET}/relatorio_*`);
    const list = s3.find((s: any) => asList(s.Action).includes('s3:ListBucket'));
    expect(list.Resource).toBe(BUCKET);
    expect(list.Condition.StringLike['s3:prefix']).toEqual(['relatorio_*']);
    expect(s3.flatMap((s: any) => asList(s.Action)).sort()).toEqual(['s3:AbortMultipartUpload', 's3:DeleteObject', 's3:GetObject', 's3:ListBucket', 's3:PutObject']);
    expect(policy.Statement.every((s: any) => s.Effect === 'Allow' && !asList(s.Resource).includes('*'))).toBe(true);
  });

  it('grants only the KMS actions SSE-KMS multipart uploads need', async () => {
    const policy = await load('aws-worker-policy.json');
    const kms = policy.Statement.find((s: any) => asList(s.Action).some((a: string) => a.startsWith('kms:')));
    expect(asList(kms.Action).sort()).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
    expect(kms.Resource).toMatch(/^arn:aws:kms:/);
  });

  it('makes the bucket refuse non-TLS access and unencrypted puts', async () => {
    const policy = await load('aws-bucket-policy.json');
    const denies = policy.Statement.filter((s: any) => s.Effect === 'Deny');
    expect(denies.find((s: any) => s.Condition.Bool?.['aws:SecureTransport'] === 'false').Resource).toEqual([BUCKET, `${BUCKET}/*`]);
    expect(denies.some((s: any) => s.Action === 's3:PutObject' && s.Condition.Null?.['s3:x-amz-server-side-encryption'] === 'true')).toBe(true);
  });

  it('aborts incomplete multipart uploads after a day and expires reports (personal data) after the retention', async () => {
    const lifecycle = await load('aws-lifecycle.json');
    expect(lifecycle.Rules.find((r: any) => r.AbortIncompleteMultipartUpload).AbortIncompleteMultipartUpload.DaysAfterInitiation).toBe(1);
    expect(lifecycle.Rules.find((r: any) => r.Expiration).Expiration.Days).toBeGreaterThan(0);
    const azure = await load('azure-lifecycle.json');
    expect(azure.rules[0].definition.actions.baseBlob.delete.daysAfterCreationGreaterThan).toBe(lifecycle.Rules.find((r: any) => r.Expiration).Expiration.Days);
  });

  it('scopes the Azure role to the reports container', async () => {
    const assignment = await load('azure-role-assignment.json');
    expect(assignment.roleDefinitionName).toBe('Storage Blob Data Contributor');
    expect(assignment.scope).toMatch(/\/blobServices\/default\/containers\/bucket-relatorios-aplicacao$/);
  });
});
