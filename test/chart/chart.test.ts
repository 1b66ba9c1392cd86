import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { isMap, parseDocument, type Scalar } from 'yaml';
import { PERMANENT_EXIT_CODES } from '../../src/errors.ts';
import { METRIC } from '../../src/telemetry/names.ts';
import { CHART_DIR, COMPLETE, SCENARIOS, envOf, helm, only, renderChart, scenarioFile, workerContainer, type K8sObject, type Scenario } from '../support/helm-chart.ts';

const HELM = () => inject('kubeTools').helm;
const HELMS = () => [['Helm 4', inject('kubeTools').helm], ['Helm 3', inject('kubeTools').helm3]] as const;
/** The chart with only the values that have no default, plus `args`. */
const render = (...args: string[]) => renderChart(HELM(), [...COMPLETE, ...args]);
const renderScenario = (scenario: Scenario, ...args: string[]) => renderChart(HELM(), ['-f', scenarioFile(scenario), ...args]);
const podSpec = (cronJob: K8sObject) => cronJob.spec.jobTemplate.spec.template.spec;

describe('the chart with only the values that have no default', () => {
  it('passes helm lint --strict with Helm 3 and Helm 4 for every CI scenario', async () => {
    for (const [label, binary] of HELMS()) {
      for (const scenario of SCENARIOS) {
        const result = await helm(binary, ['lint', '--strict', CHART_DIR, '-f', scenarioFile(scenario)]);
        expect(result.ok, `${label}, ${scenario}: ${result.stderr}${result.stdout}`).toBe(true);
      }
    }
  });

  it('schedules the report at 01:00 in Etc/UTC, one run at a time, with the same zone given to the worker', async () => {
    const cronJob = only((await render()).objects, 'CronJob');
    expect(cronJob.spec).toMatchObject({
      schedule: '0 1 * * *',
      timeZone: 'Etc/UTC',
      concurrencyPolicy: 'Forbid',
      startingDeadlineSeconds: 21_600,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
      suspend: false,
    });
    expect(envOf(workerContainer(cronJob)).REPORT_TIMEZONE).toBe('Etc/UTC');
    const zoned = only((await render('--set', 'timeZone=America/Sao_Paulo')).objects, 'CronJob');
    expect(zoned.spec.timeZone).toBe('America/Sao_Paulo');
    expect(envOf(workerContainer(zoned)).REPORT_TIMEZONE).toBe('America/Sao_Paulo');
  });

  it('gives the worker the CronJob name and its Job name (<cronjob>-<minutes>) in every scenario, so a scheduled run reports the day it was scheduled', async () => {
    for (const scenario of SCENARIOS) {
      const cronJob = only((await renderScenario(scenario)).objects, 'CronJob');
      const env = envOf(workerContainer(cronJob));
      expect(env.CRONJOB_NAME, scenario).toBe(cronJob.metadata.name);
      expect(env.JOB_NAME, scenario).toEqual({ fieldRef: { fieldPath: "metadata.labels['batch.kubernetes.io/job-name']" } });
      expect(env.REPORT_DATE, scenario).toBeUndefined();
    }
  });

  it("fails the Job at once on the product's permanent exit codes and ignores disruptions", async () => {
    const job = only((await render()).objects, 'CronJob').spec.jobTemplate.spec;
    expect(job.backoffLimit).toBe(3);
    expect(job.activeDeadlineSeconds).toBeGreaterThan(0);
    expect(job).not.toHaveProperty('ttlSecondsAfterFinished');
    expect(job.template.spec.restartPolicy).toBe('Never');
    const [failJob, ignore] = job.podFailurePolicy.rules;
    expect(failJob).toEqual({ action: 'FailJob', onExitCodes: { containerName: 'daily-report', operator: 'In', values: [...PERMANENT_EXIT_CODES] } });
    // status is what the API server would default; the published schemas require it (kubeconform, kubernetes-validate).
    expect(ignore).toEqual({ action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] });
    expect(job.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(15);
  });

  it('runs as non-root with Pod Security Standards "restricted" settings and no writable volume', async () => {
    const spec = podSpec(only((await render()).objects, 'CronJob'));
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(spec.securityContext.runAsUser).toBeGreaterThan(0);
    const container = spec.containers[0];
    expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(container.resources).toEqual({ requests: { cpu: '250m', memory: '192Mi' }, limits: { memory: '384Mi' } });
    expect(spec.volumes.every((v: any) => v.configMap || v.secret)).toBe(true);
    expect(container.volumeMounts.every((m: any) => m.readOnly === true)).toBe(true);
    expect(spec.automountServiceAccountToken).toBe(false);
  });

  it('mounts the shipped query from a ConfigMap, identical to sql/report.sql, with a checksum that follows it', async () => {
    const { objects } = await render();
    const shipped = readFileSync(resolve(CHART_DIR, '../../sql/report.sql'), 'utf8');
    expect(readFileSync(resolve(CHART_DIR, 'files/report.sql'), 'utf8')).toBe(shipped);
    const configMap = objects.find((o) => o.kind === 'ConfigMap')!;
    expect(configMap.data['report.sql'].trim()).toBe(shipped.trim());
    const cronJob = only(objects, 'CronJob');
    expect(envOf(workerContainer(cronJob)).REPORT_SQL_FILE).toBe('/etc/daily-report/sql/report.sql');
    const changed = only((await render('--set', 'report.sql=SELECT 1')).objects, 'CronJob');
    const checksum = (c: K8sObject) => c.spec.jobTemplate.spec.template.metadata.annotations['checksum/sql'];
    expect(checksum(changed)).toMatch(/^[0-9a-f]{64}$/);
    expect(checksum(changed)).not.toBe(checksum(cronJob));
  });

  it('follows the package version and truncates names to the CronJob limit of 52 characters', async () => {
    const chart = readFileSync(resolve(CHART_DIR, 'Chart.yaml'), 'utf8');
    const { version } = JSON.parse(readFileSync(resolve(CHART_DIR, '../../package.json'), 'utf8'));
    expect(chart).toContain(`\nversion: ${version}\n`);
    expect(chart).toContain(`\nappVersion: "${version}"\n`);
    // 53 characters: the longest release name helm accepts.
    const release = `release-${'x'.repeat(45)}`;
    const { objects } = await renderChart(HELM(), [...COMPLETE], release);
    const cronJob = only(objects, 'CronJob');
    expect(cronJob.metadata.name).toBe(`${release}-daily-report`.slice(0, 52));
    for (const object of objects) expect(object.metadata.name.length, `${object.kind} ${object.metadata.name}`).toBeLessThanOrEqual(52);
  });
});

describe('the chart as a document', () => {
  it('documents every value in values.yaml with a "# --" comment', () => {
    const doc = parseDocument(readFileSync(resolve(CHART_DIR, 'values.yaml'), 'utf8'));
    const undocumented: string[] = [];
    // The yaml parser attaches a comment above a map's first key to the map (or, at the top, to the document).
    const documented = (comment: string | null | undefined) => (comment ?? '').split('\n\n').at(-1)!.trimStart().startsWith('-');
    const walk = (map: unknown, path: string, leading: string | null | undefined) => {
      if (!isMap(map)) return;
      map.items.forEach((pair, index) => {
        const key = `${path}${String((pair.key as Scalar).value)}`;
        const comment = (pair.key as Scalar).commentBefore ?? (index === 0 ? (map.commentBefore ?? leading) : undefined);
        // A comment on an object documents it whole (resources, security contexts); otherwise each child needs one.
        if (documented(comment)) return;
        if (isMap(pair.value)) walk(pair.value, `${key}.`, undefined);
        else undocumented.push(key);
      });
    };
    walk(doc.contents, '', doc.commentBefore);
    expect(undocumented).toEqual([]);
  });

  it('refuses clusters older than Kubernetes 1.30', async () => {
    const old = await helm(HELM(), ['template', 'r', CHART_DIR, ...COMPLETE, '--kube-version', '1.29.9']);
    expect(old.ok).toBe(false);
    expect(old.stderr).toMatch(/chart requires kubeVersion: >=1.30.0-0 which is incompatible with Kubernetes v1.29.9/);
    expect((await helm(HELM(), ['template', 'r', CHART_DIR, ...COMPLETE, '--kube-version', '1.30.0'])).ok).toBe(true);
  });
});

describe('credentials', () => {
  const SECRETS = { password: 'pw-7f3c-NEVER-IN-ENV', azure: 'DefaultEndpointsProtocol=https;AccountKey=azkey-9d1e-NEVER', aws: '[default]\naws_secret_access_key=aws-5b2a-NEVER' };

  it('reach the worker only as 0400 files from the Secret; no secret value is rendered anywhere else', async () => {
    for (const provider of ['s3', 'azure']) {
      const { objects } = await render(
        '--set', `storage.provider=${provider}`,
        '--set', `credentials.values.password=${SECRETS.password}`,
        '--set', `credentials.values.azureConnectionString=${SECRETS.azure}`,
        '--set', 'credentials.keys.awsCredentials=aws-credentials',
        '--set-string', `credentials.values.awsCredentials=${SECRETS.aws}`,
      );
      const nonSecret = JSON.stringify(objects.filter((o) => o.kind !== 'Secret'));
      for (const value of Object.values(SECRETS)) expect(nonSecret).not.toContain(value);
      const secret = only(objects, 'Secret');
      const decoded = Object.fromEntries(Object.entries(secret.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
      expect(decoded.password).toBe(SECRETS.password);

      const cronJob = only(objects, 'CronJob');
      const env = envOf(workerContainer(cronJob));
      expect(env.PGPASSWORD).toBeUndefined();
      expect(env.PGPASSWORD_FILE).toBe('/etc/daily-report/credentials/password');
      const volume = podSpec(cronJob).volumes.find((v: any) => v.name === 'credentials');
      expect(volume.secret.defaultMode).toBe(0o400);
      expect(volume.secret.secretName).toBe(secret.metadata.name);
      if (provider === 'azure') {
        expect(env.AZURE_STORAGE_CONNECTION_STRING_FILE).toBe('/etc/daily-report/credentials/azure-storage-connection-string');
        expect(decoded['azure-storage-connection-string']).toBe(SECRETS.azure);
        expect(env.AWS_SHARED_CREDENTIALS_FILE).toBeUndefined();
      } else {
        expect(env.AWS_SHARED_CREDENTIALS_FILE).toBe('/etc/daily-report/credentials/aws-credentials');
        expect(decoded['aws-credentials']).toBe(SECRETS.aws);
        expect(env.AZURE_STORAGE_CONNECTION_STRING_FILE).toBeUndefined();
      }
      // Only keys the configuration uses are projected: an existing Secret need not hold the others.
      expect(volume.secret.items.map((i: any) => i.key).sort()).toEqual(Object.keys(decoded).sort());
    }
  });

  it('come from an existing Secret with configurable key names, and then the chart creates none', async () => {
    const { objects } = await renderScenario('s3-irsa-kms', '--set', 'credentials.keys.user=db-user');
    expect(objects.some((o) => o.kind === 'Secret')).toBe(false);
    const cronJob = only(objects, 'CronJob');
    const env = envOf(workerContainer(cronJob));
    expect(env.PGPASSWORD_FILE).toBe('/etc/daily-report/credentials/db-password');
    expect(env.PGUSER_FILE).toBe('/etc/daily-report/credentials/db-user');
    expect(env.PGUSER).toBeUndefined();
    const volume = podSpec(cronJob).volumes.find((v: any) => v.name === 'credentials');
    expect(volume.secret).toMatchObject({ secretName: 'daily-report-db', items: [{ key: 'db-password', path: 'db-password' }, { key: 'db-user', path: 'db-user' }] });
  });

  it('no environment variable that looks secret carries a literal value in any scenario', async () => {
    for (const scenario of SCENARIOS) {
      const { objects } = await renderScenario(scenario);
      for (const variable of workerContainer(only(objects, 'CronJob')).env) {
        if (/PASSWORD|SECRET|TOKEN|CONNECTION_STRING|CREDENTIALS|ACCOUNT_KEY|WEBHOOK_URL/.test(variable.name)) {
          expect(variable.name, `${scenario}: ${variable.name} must be a *_FILE path`).toMatch(/_FILE$/);
          expect(variable.value).toMatch(/^\/etc\/daily-report\/credentials\//);
        }
      }
      expect(objects.filter((o) => o.kind === 'ConfigMap').every((c) => !/password|secret/i.test(Object.keys(c.data).join()))).toBe(true);
    }
  });
});

describe('scenarios', () => {
  it('S3 on EKS: IRSA on the ServiceAccount, SSE-KMS, verify-full against a mounted CA, a NetworkPolicy', async () => {
    const { objects } = await renderScenario('s3-irsa-kms');
    expect(only(objects, 'ServiceAccount').metadata.annotations).toEqual({ 'eks.amazonaws.com/role-arn': 'arn:aws:iam::123456789012:role/daily-report' });
    const cronJob = only(objects, 'CronJob');
    const env = envOf(workerContainer(cronJob));
    expect(env).toMatchObject({
      STORAGE_PROVIDER: 's3',
      S3_BUCKET: 'bucket-relatorios-aplicacao',
      S3_PREFIX: 'reports/',
      AWS_REGION: 'sa-east-1',
      S3_SSE: 'aws:kms',
      S3_SSE_KMS_KEY_ID: 'arn:aws:kms:sa-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      S3_CHECKSUM_ALGORITHM: 'CRC32C',
      PGSSLMODE: 'verify-full',
      PGSSLROOTCERT: '/etc/daily-report/db-ca/ca.crt',
      REPORT_TIMEZONE: 'America/Sao_Paulo',
      REPORT_IF_EXISTS: 'fail',
    });
    expect(podSpec(cronJob).volumes.find((v: any) => v.name === 'db-ca').configMap).toMatchObject({ name: 'app-db-ca', items: [{ key: 'ca.crt', path: 'ca.crt' }] });
    const policy = only(objects, 'NetworkPolicy');
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy.spec.egress.map((rule: any) => rule.ports.map((p: any) => p.port))).toEqual([[53, 53], [5432], [443]]);
    expect(objects.some((o) => o.kind === 'Role')).toBe(false);
  });

  it('Azure with workload identity: the pod label, the client-id annotation, no storage secret', async () => {
    const { objects } = await renderScenario('azure-workload-identity');
    const cronJob = only(objects, 'CronJob');
    expect(cronJob.spec.jobTemplate.spec.template.metadata.labels['azure.workload.identity/use']).toBe('true');
    expect(only(objects, 'ServiceAccount').metadata.annotations).toEqual({ 'azure.workload.identity/client-id': '00000000-1111-2222-3333-444444444444' });
    const env = envOf(workerContainer(cronJob));
    expect(env).toMatchObject({
      STORAGE_PROVIDER: 'azure',
      AZURE_STORAGE_ACCOUNT_URL: 'https://reportsacct.blob.core.windows.net',
      AZURE_STORAGE_CONTAINER: 'relatorios',
      AZURE_ENCRYPTION_SCOPE: 'reports-cmk',
    });
    expect(env.AZURE_STORAGE_CONNECTION_STRING_FILE).toBeUndefined();
    expect(Object.keys(env).some((name) => name.startsWith('S3_'))).toBe(false);
  });

  it('alerts on: the token is mounted and a Role grants exactly get on jobs and create on events', async () => {
    const { objects } = await renderScenario('alerts');
    const cronJob = only(objects, 'CronJob');
    expect(podSpec(cronJob).automountServiceAccountToken).toBe(true);
    expect(only(objects, 'Role').rules).toEqual([
      { apiGroups: ['batch'], resources: ['jobs'], verbs: ['get'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create'] },
    ]);
    const binding = only(objects, 'RoleBinding');
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: only(objects, 'ServiceAccount').metadata.name, namespace: 'default' }]);
    expect(envOf(workerContainer(cronJob)).JOB_NAME).toEqual({ fieldRef: { fieldPath: "metadata.labels['batch.kubernetes.io/job-name']" } });
    expect(envOf(workerContainer(cronJob))).toMatchObject({
      REPORT_KEY_TEMPLATE: '{YYYY}/{MM}/relatorio_{YYYYMMDD}.csv',
      ALERT_KUBERNETES_EVENTS: 'true',
      ALERT_WEBHOOK_URL_FILE: '/etc/daily-report/credentials/alert-webhook-url',
      ALERT_WEBHOOK_FORMAT: 'slack',
      CRONJOB_NAME: 'r-daily-report',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector.monitoring:4318',
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf',
    });
    expect(envOf(workerContainer(cronJob)).ALERT_WEBHOOK_URL).toBeUndefined();
  });
});

describe('the Grafana dashboard', () => {
  it('is a ConfigMap for the Grafana sidecar whose queries use only metrics the job emits', async () => {
    expect((await render()).objects.some((o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-dashboard'))).toBe(false);
    const { objects } = await renderScenario('alerts');
    const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-dashboard'))!;
    expect(configMap.metadata.labels.grafana_dashboard).toBe('1');
    const dashboard = JSON.parse(configMap.data['daily-report.json']);
    expect(dashboard.uid).toBe('daily-report');
    const exprs = dashboard.panels.flatMap((p: any) => p.targets.map((t: any) => t.expr as string));
    // OTLP → Prometheus names: dots become underscores, then the unit and _total / histogram suffixes.
    const emitted = Object.values(METRIC).map((name) => name.replaceAll('.', '_'));
    const used = [...new Set(exprs.flatMap((e: string) => [...e.matchAll(/(daily_report_[a-z_]+)\{/g)].map((m) => m[1]!)))] as string[];
    expect(used.length).toBeGreaterThan(3);
    for (const name of used) expect(emitted, name).toContain(name.replace(/_(sum|count|bucket)$/, '').replace(/_total$/, '').replace(/_(bytes|seconds)$/, ''));
    expect(dashboard.description).toContain('status = error');
  });
});

describe('bad values fail at install with the schema naming what is wrong', () => {
  const rejects = async (args: string[], message: RegExp) => {
    const result = await helm(HELM(), ['template', 'r', CHART_DIR, ...COMPLETE, ...args]);
    expect(result.ok).toBe(false);
    expect(result.stderr).toMatch(message);
  };

  it('an unknown key (a typo) is rejected', () => rejects(['--set', 'schedul=0 2 * * *'], /additional properties 'schedul' not allowed/));
  it('a nested unknown key is rejected', () => rejects(['--set', 'storage.s3.bukcet=x'], /at '\/storage\/s3'.*additional properties 'bukcet' not allowed/));
  it('a wrong type is rejected', () => rejects(['--set', 'job.backoffLimit=three'], /at '\/job\/backoffLimit': got string, want integer/));
  it('a bad schedule is rejected', () => rejects(['--set', 'schedule=0 1 * *'], /at '\/schedule': '0 1 \* \*' does not match pattern/));
  it('a time zone in the schedule is rejected', () => rejects(['--set', 'schedule=CRON_TZ=UTC 0 1 * * *'], /at '\/schedule'/));
  it('an unknown provider is rejected', () => rejects(['--set', 'storage.provider=gcs'], /at '\/storage\/provider': value must be one of 's3', 'azure'/));
  it('a KMS key without aws:kms is rejected', () => rejects(['--set', 'storage.s3.kmsKeyId=k'], /at '\/storage\/s3\/sse': value must be 'aws:kms'/));
  it('a schedule with an hour past 23 is rejected', () => rejects(['--set', 'schedule=0 25 * * *'], /at '\/schedule': '0 25 \* \* \*' does not match pattern/));
  it('sslMode prefer, which the worker cannot honour, is rejected', () =>
    rejects(['--set', 'database.sslMode=prefer'], /at '\/database\/sslMode': value must be one of 'disable', 'require', 'verify-ca', 'verify-full'/));
  it('a key template without the date is rejected', () => rejects(['--set', 'report.keyTemplate=relatorio.csv'], /at '\/report\/keyTemplate'/));
  it('workload identity without an account URL names the value to set', () =>
    rejects(['--set', 'storage.provider=azure', '--set', 'storage.azure.workloadIdentity.enabled=true', '--set', 'storage.azure.workloadIdentity.clientId=00000000-1111-2222-3333-444444444444'], /\n  - storage\.azure\.accountUrl: /));
  it('sse none without an endpoint (AWS itself) is rejected, and renders S3_SSE=none with one', async () => {
    await rejects(['--set', 'storage.s3.sse=none'], /at '\/storage\/s3\/endpoint': minLength: got 0, want 1/);
    const { objects } = await render('--set', 'storage.s3.sse=none', '--set', 'storage.s3.endpoint=https://minio.storage.svc:9000');
    expect(envOf(workerContainer(only(objects, 'CronJob')))).toMatchObject({ S3_SSE: 'none', S3_ENDPOINT: 'https://minio.storage.svc:9000' });
  });
  it('a compression the worker does not know is rejected; gzip renders REPORT_COMPRESSION=gzip', async () => {
    await rejects(['--set', 'report.compression=brotli'], /at '\/report\/compression': value must be one of 'none', 'gzip', 'zstd'/);
    const { objects } = await render('--set', 'report.compression=gzip');
    expect(envOf(workerContainer(only(objects, 'CronJob')))).toMatchObject({ REPORT_COMPRESSION: 'gzip', REPORT_KEY_TEMPLATE: 'relatorio_{YYYYMMDD}.csv' });
  });
  it('Azure with neither an existing Secret nor a connection string names the value to set', () =>
    rejects(['--set', 'storage.provider=azure'], /\n  - credentials\.existingSecret: a Secret holding the Azure Storage connection string/));
});
