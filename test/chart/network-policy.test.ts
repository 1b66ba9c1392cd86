import { describe, expect, inject, it } from 'vitest';
import { COMPLETE, only, renderChart, scenarioFile } from '../support/helm-chart.ts';

// Egress follows the configured endpoints: a rule per destination, on the port its URL names.
const policy = async (...args: string[]) => only((await renderChart(inject('kubeTools').helm, [...COMPLETE, '--set', 'networkPolicy.enabled=true', ...args])).objects, 'NetworkPolicy');
const ports = (p: any) => p.spec.egress.map((rule: any) => rule.ports.map((port: any) => port.port));

describe('the NetworkPolicy', () => {
  it('allows DNS, the database port and HTTPS to the storage CIDRs for AWS S3, and nothing inbound', async () => {
    const p = await policy();
    expect(p.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(p.spec.ingress).toEqual([]);
    expect(ports(p)).toEqual([[53, 53], [5432], [443]]);
    expect(p.spec.egress[2].to).toEqual([{ ipBlock: { cidr: '0.0.0.0/0' } }]);
  });

  it('an S3-compatible endpoint, an OTLP endpoint and a webhook from values each get their own port', async () => {
    const { objects } = await renderChart(inject('kubeTools').helm, ['-f', scenarioFile('s3-compatible')]);
    const p = only(objects, 'NetworkPolicy');
    // DNS, database 6432, MinIO on 9000, OTLP on 4318, the webhook relay on 8080.
    expect(ports(p)).toEqual([[53, 53], [6432], [9000], [4318], [8080]]);
    expect(p.spec.egress[2].to).toEqual([{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'storage' } } }]);
    // The webhook URL is a credential: only its port appears outside the Secret.
    expect(JSON.stringify(objects.filter((o) => o.kind !== 'Secret'))).not.toContain('alert-relay.ops');
  });

  it('takes the scheme default when a URL names no port, and no peers for an in-cluster endpoint unless given', async () => {
    expect(ports(await policy('--set', 'storage.s3.endpoint=http://minio.storage'))[2]).toEqual([80]);
    const https = await policy('--set', 'storage.s3.endpoint=https://s3.internal.example');
    expect(ports(https)[2]).toEqual([443]);
    expect(https.spec.egress[2].to).toBeUndefined();
    expect(ports(await policy('--set', 'telemetry.otlpEndpoint=https://otlp.example.com'))[3]).toEqual([443]);
  });

  it('for a webhook in an existing Secret, uses networkPolicy.webhookPort', async () => {
    const p = await policy('--set', 'credentials.values.password=', '--set', 'credentials.existingSecret=s', '--set', 'credentials.keys.alertWebhookUrl=url', '--set', 'networkPolicy.webhookPort=8443');
    expect(ports(p)).toEqual([[53, 53], [5432], [443], [8443]]);
  });

  it('Azure: the account URL port; the API server with alerts.kubernetes; extra rules last', async () => {
    const p = await policy(
      '--set', 'storage.provider=azure', '--set', 'storage.azure.accountUrl=https://acct.blob.core.windows.net',
      '--set', 'storage.azure.workloadIdentity.enabled=true', '--set', 'storage.azure.workloadIdentity.clientId=00000000-1111-2222-3333-444444444444',
      '--set', 'alerts.kubernetes.enabled=true',
      '--set-json', 'networkPolicy.extraEgress=[{"ports":[{"protocol":"TCP","port":3128}]}]',
    );
    expect(ports(p)).toEqual([[53, 53], [5432], [443], [443, 6443], [3128]]);
  });
});
