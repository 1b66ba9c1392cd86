import { describe, expect, inject, it } from 'vitest';
import { CHART_DIR, COMPLETE, helm, scenarioFile } from '../support/helm-chart.ts';

/** What `helm install` prints, rendered client-side (no cluster). */
async function notes(args: string[]): Promise<string> {
  const result = await helm(inject('kubeTools').helm, ['install', 'daily-report', CHART_DIR, '-n', 'reports', '--dry-run=client', ...args]);
  expect(result.ok, result.stderr).toBe(true);
  return result.stdout.slice(result.stdout.indexOf('NOTES:'));
}

describe('NOTES.txt', () => {
  it('names the key the worker will publish, from the default key template', async () => {
    const text = await notes([...COMPLETE]);
    expect(text).toContain('Each run publishes relatorio_{YYYYMMDD}.csv');
    expect(text).toContain('the run of 2024-10-05 publishes relatorio_20241005.csv');
    expect(text).toContain('to s3://bucket-relatorios-aplicacao/.');
  });

  it('follows a changed key template and prefix', async () => {
    const text = await notes([...COMPLETE, '--set-json', 'report.keyTemplate="{YYYY}/{MM}/{DD}/daily.csv"', '--set', 'storage.s3.prefix=reports/']);
    expect(text).toContain('Each run publishes {YYYY}/{MM}/{DD}/daily.csv');
    expect(text).toContain('the run of 2024-10-05 publishes 2024/10/05/daily.csv');
    expect(text).toContain('s3://bucket-relatorios-aplicacao/reports/');
    expect(text).not.toContain('relatorio_');
  });

  it('names the compressed key with report.compression, the suffix appended once', async () => {
    const text = await notes([...COMPLETE, '--set', 'report.compression=zstd']);
    expect(text).toContain('Each run publishes relatorio_{YYYYMMDD}.csv.zst');
    expect(text).toContain('the run of 2024-10-05 publishes relatorio_20241005.csv.zst');
    const given = await notes([...COMPLETE, '--set', 'report.compression=gzip', '--set-json', 'report.keyTemplate="d/{YYYYMMDD}.csv.gz"']);
    expect(given).toContain('the run of 2024-10-05 publishes d/20241005.csv.gz\n');
  });

  it('tells how to check the release with helm test, and names the Azure container', async () => {
    const text = await notes(['-f', scenarioFile('azure-workload-identity')]);
    expect(text).toContain('helm test daily-report -n reports --logs');
    expect(text).toContain('to Azure container relatorios.');
  });

  it('gives Job names the API server accepts (63 bytes, the job-name label) for the longest release name', async () => {
    // A 49-character release name: the full name is the release name, cut at 52 by the chart.
    const result = await helm(inject('kubeTools').helm, ['install', 'daily-report-production-sa-east-1-nightly-extract', CHART_DIR, '-n', 'reports', '--dry-run=client', ...COMPLETE]);
    expect(result.ok, result.stderr).toBe(true);
    const text = result.stdout.slice(result.stdout.indexOf('NOTES:'));
    const names = [...text.matchAll(/create job --from=cronjob\/\S+ (\S+(?: \+%s\))?)/g)].map((m) => m[1]!.replace('$(date +%s)', '1733000000'));
    expect(names).toHaveLength(2);
    for (const name of names) expect(name.length, name).toBeLessThanOrEqual(63);
  });
});
