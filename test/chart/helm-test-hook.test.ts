import { describe, expect, inject, it } from 'vitest';
import { COMPLETE, SCENARIOS, renderChart, scenarioFile, type K8sObject } from '../support/helm-chart.ts';

const objectsOf = async (args: string[]) => (await renderChart(inject('kubeTools').helm, args)).objects;
const hookPod = (objects: K8sObject[]) => objects.find((o) => o.kind === 'Pod' && o.metadata.annotations?.['helm.sh/hook'] === 'test')!;

describe('helm test', () => {
  it('runs daily-report validate once, in a pod identical to the nightly one but for the command, in every scenario', async () => {
    for (const scenario of SCENARIOS) {
      const objects = await objectsOf(['-f', scenarioFile(scenario)]);
      const pod = hookPod(objects);
      expect(pod, scenario).toBeDefined();
      const nightly = objects.find((o) => o.kind === 'CronJob')!.spec.jobTemplate.spec.template;
      const { containers: [check], ...podRest } = pod.spec;
      const { containers: [worker], ...nightlyRest } = nightly.spec;
      expect(check.args, scenario).toEqual(['validate']);
      expect(worker.args, scenario).toEqual(['run']);
      expect({ ...check, args: undefined }, scenario).toEqual({ ...worker, args: undefined });
      expect(podRest, scenario).toEqual(nightlyRest);
      expect(pod.spec.restartPolicy).toBe('Never');
      // The NetworkPolicy selects it too, so the check meets the same egress rules as the nightly run.
      for (const [label, value] of Object.entries(nightly.metadata.labels)) expect(pod.metadata.labels[label], `${scenario}: ${label}`).toBe(value);
    }
  });

  it('keeps a failed check for kubectl logs and replaces it on the next helm test', async () => {
    const pod = hookPod(await objectsOf([...COMPLETE]));
    expect(pod.metadata.annotations['helm.sh/hook-delete-policy']).toBe('before-hook-creation,hook-succeeded');
    expect(pod.metadata.name).toBe('r-daily-report-validate');
  });
});
