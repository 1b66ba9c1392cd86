import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { CHART_DIR, COMPLETE, helm } from '../support/helm-chart.ts';
import { kubectl } from '../support/kubectl.ts';

const cluster = inject('cluster');
const NAMESPACE = 'dr-quantities';

/** Forms of a Kubernetes quantity, right and wrong: the API server's parser is the judge. */
const CANDIDATES = ['2Gi', '500m', '.5Gi', '1.5Gi', '1e3', '1E+2', '1.', '5', '0', '1k', '1Ki', '100M', '+1Gi', '1.2.3', '1K', '-1', '1.5.Gi', '2GB', '1 Gi', 'Gi', '1e', '2gi'];
/** What the server takes (as zero) and the chart refuses on purpose: a unit without a number is a mistake. */
const STRICTER = new Set(['Gi']);

/** Every quantity pattern in the chart's schema (resources and spill.sizeLimit). */
function quantityPatterns(): string[] {
  const patterns: string[] = [];
  const walk = (node: unknown, path: string): void => {
    if (node === null || typeof node !== 'object') return;
    const record = node as Record<string, unknown>;
    if (typeof record.pattern === 'string' && /resources|sizeLimit/.test(path)) patterns.push(record.pattern);
    for (const [key, value] of Object.entries(record)) walk(value, `${path}/${key}`);
  };
  walk(JSON.parse(readFileSync(resolve(CHART_DIR, 'values.schema.json'), 'utf8')), '');
  return patterns;
}

describe.skipIf(!('kubeconfig' in cluster))("the chart's quantity values on a real kube-apiserver", () => {
  beforeAll(async () => {
    await kubectl(['create', 'namespace', NAMESPACE]);
    await kubectl(['create', 'serviceaccount', 'default', '-n', NAMESPACE]).catch(() => undefined);
  });

  it('one pattern checks every quantity in the schema (resources and spill.sizeLimit)', () => {
    const patterns = quantityPatterns();
    expect(patterns).toHaveLength(7);
    expect(new Set(patterns).size).toBe(1);
  });

  it.each(CANDIDATES)('%j: the chart accepts it exactly when the API server does (a bare unit: refused by the chart alone)', async (quantity) => {
    const server = await kubectl(
      ['create', '--dry-run=server', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'quantity', namespace: NAMESPACE },
        spec: {
          containers: [{ name: 'c', image: 'busybox', resources: { requests: { memory: quantity }, limits: { memory: quantity } } }],
          volumes: [{ name: 'spill', emptyDir: { sizeLimit: quantity } }],
        },
      }),
    ).then(
      () => true,
      () => false,
    );
    const [sizeLimit, memory] = await Promise.all(
      [['spill.sizeLimit'], ['resources.requests.memory', 'resources.limits.memory']].map(async (keys) => {
        const sets = keys.flatMap((key) => ['--set-string', `${key}=${quantity}`]);
        return (await helm(inject('kubeTools').helm, ['template', 'r', CHART_DIR, ...COMPLETE, ...sets])).ok;
      }),
    );
    const chart = server && !STRICTER.has(quantity);
    expect({ server, sizeLimit, memory }).toEqual({ server: STRICTER.has(quantity) ? true : server, sizeLimit: chart, memory: chart });
  });
});
