import { describe, expect, inject, it } from 'vitest';
import { COMPLETE, envOf, helm, CHART_DIR, only, renderChart, workerContainer, type K8sObject } from '../support/helm-chart.ts';

/** The chart's `parallelism`: REPORT_PARALLELISM, the spill emptyDir, and the memory formula while `resources` are as shipped. */

const HELM = () => inject('kubeTools').helm;
const render = (...args: string[]) => renderChart(HELM(), [...COMPLETE, ...args]);
const podSpec = (cronJob: K8sObject) => cronJob.spec.jobTemplate.spec.template.spec;

describe("the chart's parallelism", () => {
  it('renders REPORT_PARALLELISM, and at 1 neither a spill directory nor a writable volume', async () => {
    const cronJob = only((await render()).objects, 'CronJob');
    const env = envOf(workerContainer(cronJob));
    expect(env.REPORT_PARALLELISM).toBe('1');
    expect(env).not.toHaveProperty('REPORT_SPILL_DIR');
    expect(podSpec(cronJob).volumes.some((v: any) => v.emptyDir)).toBe(false);
  });

  it('above 1, mounts an emptyDir with its size limit as REPORT_SPILL_DIR, in the Job and in the helm test pod', async () => {
    const { objects } = await render('--set', 'parallelism=4', '--set', 'spill.sizeLimit=5Gi');
    const cronJob = only(objects, 'CronJob');
    const spec = podSpec(cronJob);
    const container = workerContainer(cronJob);
    expect(envOf(container).REPORT_PARALLELISM).toBe('4');
    const dir = envOf(container).REPORT_SPILL_DIR;
    expect(spec.volumes.find((v: any) => v.name === 'spill')).toEqual({ name: 'spill', emptyDir: { sizeLimit: '5Gi' } });
    expect(container.volumeMounts.find((m: any) => m.name === 'spill')).toEqual({ name: 'spill', mountPath: dir });
    const testPod = objects.find((o) => o.kind === 'Pod')!;
    expect(envOf(testPod.spec.containers[0]).REPORT_SPILL_DIR).toBe(dir);
  });

  it.each([
    [1, '192Mi', '384Mi'],
    [2, '208Mi', '416Mi'],
    [4, '240Mi', '480Mi'],
    [16, '432Mi', '864Mi'],
  ])('sizes memory by the formula at parallelism %i (request %s, limit %s) with the shipped resources', async (n, request, limit) => {
    const container = workerContainer(only((await render('--set', `parallelism=${n}`)).objects, 'CronJob'));
    expect(container.resources).toEqual({ requests: { cpu: '250m', memory: request }, limits: { memory: limit } });
  });

  it('uses resources as given when any of them differs from the shipped values, whatever the parallelism', async () => {
    const container = workerContainer(only((await render('--set', 'parallelism=8', '--set', 'resources.requests.memory=1Gi', '--set', 'resources.limits.memory=2Gi')).objects, 'CronJob'));
    expect(container.resources).toEqual({ requests: { cpu: '250m', memory: '1Gi' }, limits: { memory: '2Gi' } });
    const cpuOnly = workerContainer(only((await render('--set', 'parallelism=8', '--set', 'resources.requests.cpu=1')).objects, 'CronJob'));
    expect(cpuOnly.resources).toEqual({ requests: { cpu: 1, memory: '192Mi' }, limits: { memory: '384Mi' } });
  });

  it.each(['0', '17', '2.5'])('refuses parallelism=%s, naming the value', async (value) => {
    const result = await helm(HELM(), ['template', 'r', CHART_DIR, ...COMPLETE, '--set-json', `parallelism=${value}`]);
    expect(result.ok).toBe(false);
    expect(result.stderr).toMatch(/parallelism/);
  });
});
