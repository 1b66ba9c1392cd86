import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/loader/load-config.ts';
import { CHART_DIR, envOf, helm, only, renderChart, scenarioFile, workerContainer, type K8sObject } from '../support/helm-chart.ts';

const HELM = () => inject('kubeTools').helm;
const HELMS = () => [['Helm 4', inject('kubeTools').helm], ['Helm 3', inject('kubeTools').helm3]] as const;
const SOURCES = ['-f', scenarioFile('sources')];
const podSpec = (cronJob: K8sObject) => cronJob.spec.jobTemplate.spec.template.spec;
const template = (binary: string, args: string[]) => helm(binary, ['template', 'r', CHART_DIR, ...args]);
const listed = (stderr: string) => [...stderr.matchAll(/^  - (.+)$/gm)].map((m) => m[1]!);

describe('the chart with sources.services', () => {
  it('renders the services into a pg_service.conf ConfigMap and mounts it and the pgpass Secret read-only, 0400', async () => {
    const { objects } = await renderChart(HELM(), SOURCES);
    const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'r-daily-report-pg-service')!;
    expect(configMap.data['pg_service.conf']).toContain('[eu]\nhost=app-db-eu.prod.svc.cluster.local\nport=5432\ndbname=app\nsslmode=verify-full\n');
    expect(configMap.data['pg_service.conf']).toContain('[us]\nhost=app-db-us.prod.svc.cluster.local\nport=6432\ndbname=app\nuser=report_reader_us');
    const spec = podSpec(only(objects, 'CronJob'));
    expect(spec.volumes).toContainEqual({ name: 'pg-service', configMap: { name: 'r-daily-report-pg-service', defaultMode: 0o444 } });
    expect(spec.volumes).toContainEqual({ name: 'pgpass', secret: { secretName: 'daily-report-pgpass', defaultMode: 0o400, items: [{ key: 'pgpass', path: 'pgpass' }] } });
    const container = workerContainer(only(objects, 'CronJob'));
    expect(container.volumeMounts).toContainEqual({ name: 'pgpass', mountPath: '/etc/daily-report/pgpass', readOnly: true });
    const env = envOf(container);
    expect(env).toMatchObject({ REPORT_SOURCES: 'eu,us', PGSERVICEFILE: '/etc/daily-report/pg-service/pg_service.conf', PGPASSFILE: '/etc/daily-report/pgpass/pgpass', PGUSER: 'report_reader' });
    // Each service names its host; the worker refuses PGPASSWORD with REPORT_SOURCES.
    for (const name of ['PGHOST', 'PGPORT', 'PGDATABASE', 'PGPASSWORD_FILE']) expect(env, name).not.toHaveProperty(name);
    // The `helm test` pod checks every source with the same mounts.
    const hook = objects.find((o) => o.kind === 'Pod')!;
    expect(hook.spec.volumes.map((v: any) => v.name)).toEqual(expect.arrayContaining(['pg-service', 'pgpass']));
  });

  it('renders what the worker reads as the two sources, once the files are where the pod mounts them', async () => {
    const { objects } = await renderChart(HELM(), SOURCES);
    const configMap = objects.find((o) => o.metadata.name === 'r-daily-report-pg-service')!;
    const dir = mkdtempSync(join(tmpdir(), 'daily-report-chart-sources-'));
    const services = join(dir, 'pg_service.conf');
    writeFileSync(services, configMap.data['pg_service.conf']);
    const pgpass = join(dir, 'pgpass');
    writeFileSync(pgpass, '*:*:app:report_reader:pw-eu-1\n*:6432:app:report_reader_us:pw-us-2\n');
    chmodSync(pgpass, 0o440); // what defaultMode 0400 and fsGroup give
    const ca = join(dir, 'ca.crt');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\n');
    const env = Object.fromEntries(Object.entries(envOf(workerContainer(only(objects, 'CronJob')))).filter(([, value]) => typeof value === 'string')) as Record<string, string>;
    const config = await loadConfig({ ...env, PGSERVICEFILE: services, PGPASSFILE: pgpass, PGSSLROOTCERT: ca, REPORT_SQL_FILE: services }, { now: new Date('2024-10-05T15:00:00Z') });
    expect(config.sources.map((s) => [s.name, s.database.host, s.database.port, s.database.user, s.database.sslMode, s.database.password])).toEqual([
      ['eu', 'app-db-eu.prod.svc.cluster.local', 5432, 'report_reader', 'verify-full', 'pw-eu-1'],
      ['us', 'app-db-us.prod.svc.cluster.local', 6432, 'report_reader_us', 'require', 'pw-us-2'],
    ]);
  });

  it("changes the pod template when a service changes, and lets the NetworkPolicy reach each service's port", async () => {
    const checksum = async (...args: string[]) => only((await renderChart(HELM(), [...SOURCES, ...args])).objects, 'CronJob').spec.jobTemplate.spec.template.metadata.annotations['checksum/pg-service'];
    expect(await checksum()).toMatch(/^[0-9a-f]{64}$/);
    expect(await checksum('--set', 'sources.services[0].dbname=app2')).not.toBe(await checksum());
    const policy = only((await renderChart(HELM(), SOURCES)).objects, 'NetworkPolicy');
    expect(policy.spec.egress[1].ports).toEqual([{ protocol: 'TCP', port: 5432 }, { protocol: 'TCP', port: 6432 }]);
  });
});

describe('sources values the chart refuses', () => {
  it('without the pgpass Secret, listing it as a value to set', async () => {
    for (const [label, binary] of HELMS()) {
      const result = await template(binary, [...SOURCES, '--set', 'sources.pgpass.existingSecret=']);
      expect(result.ok, label).toBe(false);
      expect(listed(result.stderr), label).toEqual([expect.stringMatching(/^sources\.pgpass\.existingSecret: a Secret holding a pgpass file .*--from-file=pgpass=\.\/pgpass/)]);
    }
  });

  it('a service named twice, two services for one database, and database.host beside them', async () => {
    const result = await template(HELM(), [
      ...SOURCES,
      '--set-json', 'sources.services=[{"name":"eu","host":"db","dbname":"app"},{"name":"eu","host":"db2","dbname":"app"},{"name":"br","host":"db","port":5432,"dbname":"app"}]',
      '--set', 'database.host=db.example',
    ]);
    expect(result.ok).toBe(false);
    expect(listed(result.stderr)).toEqual([
      'sources.services names eu twice: the report would hold its rows twice; list each service once',
      'sources.services eu and br are the same database (db:5432/app): the report would hold its rows twice; list it once',
      expect.stringMatching(/^database\.host=db\.example is set with sources\.services, which name their own hosts, so it would be ignored/),
    ]);
  });

  it('through the schema, with Helm 3 and 4: a name libpq sections cannot have, a URI as host, a password key', async () => {
    for (const [label, binary] of HELMS()) {
      for (const services of [
        '[{"name":"eu west","host":"db","dbname":"app"}]',
        '[{"name":"eu","host":"postgres://u:p@db/app","dbname":"app"}]',
        '[{"name":"eu","host":"db","dbname":"app","password":"secret"}]',
        '[{"name":"eu","host":"db"}]',
      ]) {
        const result = await template(binary, [...SOURCES, '--set-json', `sources.services=${services}`]);
        expect(result.ok, `${label} ${services}`).toBe(false);
        expect(result.stderr, `${label} ${services}`).toMatch(/schema/i);
      }
    }
  });
});
