import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, inject, it } from 'vitest';
import { CHART_DIR, COMPLETE, envOf, helm, only, renderChart, workerContainer } from '../support/helm-chart.ts';

// The skaffold binary cannot be built here (its Go module is not served by the module proxy), so
// this checks skaffold.yaml against what it drives — the Dockerfile, the chart and its schema — and
// renders the chart with exactly the values skaffold would pass, through the real helm.
const ROOT = resolve(import.meta.dirname, '../..');
const skaffold = parse(readFileSync(resolve(ROOT, 'skaffold.yaml'), 'utf8'));
const schema = JSON.parse(readFileSync(resolve(CHART_DIR, 'values.schema.json'), 'utf8'));
const HELM = () => inject('kubeTools').helm;

/** The schema node of a dotted values path (`storage.s3.bucket`), or undefined when the chart has no such value. */
function schemaAt(path: string): any {
  return path.split('.').reduce((node, key) => node?.properties?.[key], schema);
}

/** Applies the JSON-patch `add` operations skaffold profiles use, so the test sees the profile's effective config. */
function withProfile(config: any, name: string): any {
  const result = structuredClone(config);
  const profile = config.profiles.find((p: any) => p.name === name);
  for (const patch of profile.patches) {
    expect(patch.op).toBe('add');
    const keys = patch.path.split('/').slice(1);
    const parent = keys.slice(0, -1).reduce((node: any, key: string) => node[key], result);
    expect(parent, `patch path ${patch.path} must exist in skaffold.yaml`).toBeDefined();
    parent[keys.at(-1)] = patch.value;
  }
  return result;
}

/** The helm arguments skaffold derives from a release, with the image variables of one build. */
function helmArgs(release: any, image: Record<string, string>): string[] {
  const templates = Object.entries(release.setValueTemplates ?? {}).map(([key, template]) => {
    const value = String(template).replace(/\{\{\.(\w+)\}\}/g, (_, name: string) => image[name] ?? '');
    return ['--set-string', `${key}=${value}`];
  });
  const values = Object.entries(release.setValues ?? {}).map(([key, value]) => ['--set', `${key}=${value}`]);
  return [...templates.flat(), ...values.flat()];
}

const BUILT = {
  IMAGE_REPO_daily_report: 'registry.example.com/team/daily-report',
  IMAGE_TAG_daily_report: 'v0.1.0-3-gabcdef0',
  IMAGE_DIGEST_daily_report: `sha256:${'a'.repeat(64)}`,
};

describe('skaffold.yaml', () => {
  it('uses the v4 schema and builds the image from the Dockerfile', () => {
    expect(skaffold.apiVersion).toMatch(/^skaffold\/v4/);
    expect(skaffold.kind).toBe('Config');
    for (const artifact of skaffold.build.artifacts) expect(existsSync(resolve(ROOT, artifact.docker.dockerfile))).toBe(true);
  });

  it('deploys the chart with the built image, every value it sets existing in the chart schema', () => {
    const artifacts = skaffold.build.artifacts.map((a: any) => a.image.replaceAll('-', '_'));
    for (const release of skaffold.deploy.helm.releases) {
      expect(existsSync(resolve(ROOT, release.chartPath, 'Chart.yaml'))).toBe(true);
      for (const [key, template] of Object.entries(release.setValueTemplates)) {
        expect(schemaAt(key), `${key} is not a value of the chart`).toBeDefined();
        for (const [, variable, artifact] of String(template).matchAll(/\{\{\.IMAGE_(REPO|TAG|DIGEST)_(\w+)\}\}/g)) {
          expect(artifacts, `${variable} of an artifact skaffold does not build`).toContain(artifact);
        }
      }
    }
  });

  it('the dev profile only sets values the chart has', () => {
    const dev = withProfile(skaffold, 'dev');
    for (const key of Object.keys(dev.deploy.helm.releases[0].setValues)) expect(schemaAt(key), `${key} is not a value of the chart`).toBeDefined();
  });

  it('renders, through helm and the schema, a CronJob running the image skaffold built', async () => {
    const [release] = skaffold.deploy.helm.releases;
    // skaffold supplies the image; the rest of what the chart refuses to go without comes from the user's values.
    const alone = await helm(HELM(), ['template', release.name, CHART_DIR, ...helmArgs(release, BUILT)]);
    expect(alone.ok).toBe(false);
    expect(alone.stderr).toMatch(/  - database\.host: /);
    expect(alone.stderr).not.toMatch(/  - image\.repository: /);
    const cronJob = only((await renderChart(HELM(), [...COMPLETE, ...helmArgs(release, BUILT)], release.name)).objects, 'CronJob');
    expect(workerContainer(cronJob).image).toBe(`${BUILT.IMAGE_REPO_daily_report}@${BUILT.IMAGE_DIGEST_daily_report}`);
    // A builder that reports no digest: the tag is used.
    const tagged = only((await renderChart(HELM(), [...COMPLETE, ...helmArgs(release, { ...BUILT, IMAGE_DIGEST_daily_report: '' })], release.name)).objects, 'CronJob');
    expect(workerContainer(tagged).image).toBe(`${BUILT.IMAGE_REPO_daily_report}:${BUILT.IMAGE_TAG_daily_report}`);
  });

  it('renders the dev profile: development database, S3-compatible endpoint, frequent schedule', async () => {
    const [release] = withProfile(skaffold, 'dev').deploy.helm.releases;
    const lint = await helm(HELM(), ['lint', '--strict', CHART_DIR, ...helmArgs(release, BUILT)]);
    expect(lint.ok, lint.stderr + lint.stdout).toBe(true);
    const { objects } = await renderChart(HELM(), helmArgs(release, BUILT), release.name);
    const cronJob = only(objects, 'CronJob');
    expect(cronJob.spec.schedule).toBe('*/10 * * * *');
    expect(envOf(workerContainer(cronJob))).toMatchObject({
      PGHOST: 'postgresql',
      PGSSLMODE: 'disable',
      S3_ENDPOINT: 'http://s3:9000',
      S3_SSE: 'none',
      S3_FORCE_PATH_STYLE: 'true',
      AWS_SHARED_CREDENTIALS_FILE: '/etc/daily-report/credentials/aws-credentials',
      LOG_LEVEL: 'debug',
    });
    const secret = only(objects, 'Secret');
    expect(Buffer.from(secret.data['aws-credentials'], 'base64').toString()).toContain('aws_access_key_id = dev\n');
  });
});
