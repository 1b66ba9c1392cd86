import { execFile, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { describe, expect, inject, it } from 'vitest';
import { COMPLETE, only, renderChart } from '../support/helm-chart.ts';

// promtool comes with Debian's prometheus package (.ci/run installs it). Elsewhere these tests say loudly that they were skipped.
const promtool = spawnSync('promtool', ['--version']).error ? undefined : 'promtool';
if (!promtool) {
  if (process.env.CI) throw new Error('promtool is missing and CI=true forbids skipping the alert-rule tests (apt-get install prometheus)');
  process.stderr.write('!!! PROMETHEUS RULE TESTS SKIPPED: promtool not installed (apt-get install prometheus)\n');
}
const run = promisify(execFile);

describe.skipIf(!promtool)(`the chart's PrometheusRule${promtool ? '' : ' — SKIPPED: promtool not installed'}`, () => {
  const rendered = async (...args: string[]) =>
    (await renderChart(inject('kubeTools').helm, [...COMPLETE, '-n', 'reports', '--set', 'alerts.prometheusRule.enabled=true', ...args], 'daily-report')).objects;

  it('is rendered only when enabled, with the labels the Prometheus Operator selects by', async () => {
    expect((await renderChart(inject('kubeTools').helm, [...COMPLETE], 'daily-report')).objects.some((o) => o.kind === 'PrometheusRule')).toBe(false);
    const rule = only(await rendered('--set', 'alerts.prometheusRule.additionalLabels.release=kube-prometheus-stack'), 'PrometheusRule');
    expect(rule.metadata.labels.release).toBe('kube-prometheus-stack');
    expect(rule.spec.groups[0].rules.map((r: any) => r.alert)).toEqual(['DailyReportJobFailed', 'DailyReportNoSuccessIn26h', 'DailyReportNeverSucceeded', 'DailyReportSuspended']);
  });

  it('passes promtool check rules and promtool test rules (firing and not firing on synthetic series)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'daily-report-rules-'));
    const rule = only(await rendered(), 'PrometheusRule');
    writeFileSync(join(dir, 'rules.yaml'), stringify({ groups: rule.spec.groups }));
    copyFileSync(resolve(import.meta.dirname, 'prometheus-rules.tests.yaml'), join(dir, 'tests.yaml'));
    const check = await run(promtool!, ['check', 'rules', join(dir, 'rules.yaml')]).catch((e) => e);
    expect(check.stdout + (check.stderr ?? ''), 'promtool check rules').toMatch(/SUCCESS: 4 rules found/);
    const test = await run(promtool!, ['test', 'rules', join(dir, 'tests.yaml')]).catch((e) => e);
    expect(`${test.stdout}${test.stderr ?? ''}`, 'promtool test rules').toMatch(/SUCCESS/);
    expect(test.code ?? 0).toBe(0);
  });
});
