import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/loader/load-config.ts';
import { CHART_DIR, envOf, helm, only, renderChart, scenarioFile, workerContainer } from '../support/helm-chart.ts';

const HELMS = () => [['Helm 4', inject('kubeTools').helm], ['Helm 3', inject('kubeTools').helm3]] as const;
const SOURCES = ['-f', scenarioFile('sources')];

/** The worker's reading of the chart's rendered files and env: its refusal, or undefined. */
async function workerRefusal(args: string[]): Promise<string | undefined> {
  const { objects } = await renderChart(inject('kubeTools').helm, [...SOURCES, ...args]);
  const configMap = objects.find((o) => o.metadata.name === 'r-daily-report-pg-service')!;
  const dir = mkdtempSync(join(tmpdir(), 'review-chart-sources-'));
  const services = join(dir, 'pg_service.conf');
  writeFileSync(services, configMap.data['pg_service.conf']);
  const pgpass = join(dir, 'pgpass');
  writeFileSync(pgpass, '*:*:*:*:pw\n');
  chmodSync(pgpass, 0o440);
  const ca = join(dir, 'ca.crt');
  writeFileSync(ca, '-----BEGIN CERTIFICATE-----\n');
  const env = Object.fromEntries(Object.entries(envOf(workerContainer(only(objects, 'CronJob')))).filter(([, value]) => typeof value === 'string')) as Record<string, string>;
  return loadConfig({ ...env, PGSERVICEFILE: services, PGPASSFILE: pgpass, PGSSLROOTCERT: ca, REPORT_SQL_FILE: services }, { now: new Date('2024-10-05T15:00:00Z') })
    .then(() => undefined, (error: unknown) => (error as Error).message);
}

describe('a service value the chart accepts is one the worker accepts', () => {
  it.each([
    ['a user starting with a space', '{"name":"eu","host":"db","dbname":"app","user":" report_reader"}'],
    ['a dbname starting with a space', '{"name":"eu","host":"db","dbname":" app"}'],
    ['a user with a line break (a second line in pg_service.conf)', '{"name":"eu","host":"db","dbname":"app","user":"report\\nreader"}'],
    ['a dbname with a line break', '{"name":"eu","host":"db","dbname":"app\\n[us]"}'],
    ['a dbname ending with a space', '{"name":"eu","host":"db","dbname":"app "}'],
    ['a dbname with inner spaces and colons', '{"name":"eu","host":"db","dbname":"my app:1"}'],
  ])('%s: refused by the chart, or read by the worker', async (_, service) => {
    const args = ['--set-json', `sources.services=[${service}]`];
    const refusals: string[] = [];
    for (const [label, binary] of HELMS()) {
      const rendered = await helm(binary, ['template', 'r', CHART_DIR, ...SOURCES, ...args]);
      refusals.push(`${label}: ${rendered.ok ? 'accepted' : 'refused'}`);
    }
    expect(new Set(refusals.map((r) => r.split(': ')[1])).size, refusals.join('; ')).toBe(1);
    if (refusals[0]!.endsWith('refused')) return;
    expect(await workerRefusal(args)).toBeUndefined();
  });
});
