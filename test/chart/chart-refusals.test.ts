import { describe, expect, inject, it } from 'vitest';
import { CHART_DIR, COMPLETE, helm, only, renderChart } from '../support/helm-chart.ts';

// What `helm install` refuses before anything reaches the cluster, with Helm 3 and Helm 4 alike:
// values without a usable default, contradictions between values, and values the worker cannot honour.
const HELMS = () => [['Helm 4', inject('kubeTools').helm], ['Helm 3', inject('kubeTools').helm3]] as const;
const template = (binary: string, args: string[]) => helm(binary, ['template', 'r', CHART_DIR, ...args]);
/** The lines under "Set" or "Resolve" in the refusal, as `value: reason`. */
const listed = (stderr: string) => [...stderr.matchAll(/^  - (.+)$/gm)].map((m) => m[1]!);

describe('an install that could only fail is refused', () => {
  it('with no values, by Helm 3 and 4, in one message listing every value to set and nothing else', async () => {
    for (const [label, binary] of HELMS()) {
      const result = await template(binary, []);
      expect(result.ok, label).toBe(false);
      expect(result.stderr, label).toContain('daily-report cannot be installed with these values');
      expect(listed(result.stderr).map((line) => line.split(':')[0]), label).toEqual(['image.repository', 'database.host', 'credentials.existingSecret', 'storage.s3.region']);
      expect(result.stderr, label).not.toContain('Resolve these contradictions');
    }
  });

  it('until each missing value is set; then it renders', async () => {
    const steps = [
      ['--set', 'image.repository=registry.example.com/team/daily-report'],
      ['--set', 'database.host=db.example'],
      ['--set', 'storage.s3.region=sa-east-1'],
    ];
    const args: string[] = [];
    let remaining = 4;
    for (const step of steps) {
      args.push(...step);
      const result = await template(inject('kubeTools').helm, args);
      remaining -= 1;
      expect(listed(result.stderr)).toHaveLength(remaining);
    }
    // A role without a password (certificate or trust authentication) is a choice, stated explicitly.
    const passwordless = await renderChart(inject('kubeTools').helm, [...args, '--set', 'credentials.keys.password='], 'r');
    expect(only(passwordless.objects, 'CronJob').spec.jobTemplate.spec.template.spec.volumes.map((v: any) => v.name)).toEqual(['sql']);
  });

  it('when values contradict each other, naming each contradiction in the same message', async () => {
    const result = await template(inject('kubeTools').helm, [
      ...COMPLETE,
      '--set', 'credentials.existingSecret=daily-report-db',
      '--set', 'alerts.webhook.onSuccess=true',
      '--set', 'database.caCertificate.configMap=app-db-ca', '--set', 'database.sslMode=disable',
      '--set', 'storage.azure.workloadIdentity.enabled=true',
      '--set-json', 'extraEnv=[{"name":"REPORT_KEY_TEMPLATE","value":"{YYYY}/relatorio_{YYYYMMDD}.csv"}]',
    ]);
    expect(result.ok).toBe(false);
    expect(result.stderr).toContain('Resolve these contradictions');
    const lines = listed(result.stderr);
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(/^credentials\.values\.password is set but credentials\.existingSecret=daily-report-db is used, so it would be ignored/);
    expect(lines.some((l) => l.startsWith('storage.azure.workloadIdentity.enabled=true with storage.provider=s3'))).toBe(true);
    expect(lines.some((l) => l.startsWith('database.caCertificate.configMap is set with database.sslMode=disable'))).toBe(true);
    expect(lines.some((l) => l.startsWith('alerts.webhook.onSuccess=true without a webhook: set credentials.keys.alertWebhookUrl'))).toBe(true);
    expect(lines.some((l) => l.startsWith('extraEnv sets REPORT_KEY_TEMPLATE, which the chart sets from its values') && l.includes('report.keyTemplate'))).toBe(true);
  });

  it('when extraEnv names a variable of ours the worker does not know, naming it; a setting it knows, a libpq one and anyone else’s pass', async () => {
    const refused = await template(inject('kubeTools').helm, [
      ...COMPLETE,
      '--set-json', 'extraEnv=[{"name":"REPORT_LOCK_LEAS","value":"10m"},{"name":"PGSSLMOD","value":"verify-full"},{"name":"STORAGE_REQUEST_TIMEOUT","value":"1m"}]',
    ]);
    expect(refused.ok).toBe(false);
    expect(listed(refused.stderr)).toEqual([
      expect.stringMatching(/^extraEnv sets REPORT_LOCK_LEAS, which is not a setting of daily-report \(a typo, or a setting that no longer exists\)/),
      expect.stringMatching(/^extraEnv sets PGSSLMOD, which is not a setting of daily-report/),
    ]);
    const accepted = await template(inject('kubeTools').helm, [
      ...COMPLETE,
      '--set-json', 'extraEnv=[{"name":"REPORT_LOCK_LEASE","value":"10m"},{"name":"PGAPPNAME","value":"x"},{"name":"OTEL_SERVICE_NAME","value":"x"},{"name":"NODE_EXTRA_CA_CERTS","value":"/ca.pem"}]',
    ]);
    expect(accepted.ok, accepted.stderr).toBe(true);
  });

  it('when a Job would be deleted before the failure alert could see it', async () => {
    const result = await template(inject('kubeTools').helm, [...COMPLETE, '--set', 'alerts.prometheusRule.enabled=true', '--set', 'job.ttlSecondsAfterFinished=3600']);
    expect(listed(result.stderr)).toEqual([expect.stringMatching(/^job\.ttlSecondsAfterFinished=3600 deletes a failed Job before alerts\.prometheusRule's 26 h window ends/)]);
  });

  it('when the key template ends in another compression than report.compression, naming the fix', async () => {
    const result = await template(inject('kubeTools').helm, [...COMPLETE, '--set-json', 'report.keyTemplate="r_{YYYYMMDD}.csv.gz"', '--set', 'report.compression=zstd']);
    expect(listed(result.stderr)).toEqual([expect.stringMatching(/^report\.keyTemplate ends in \.gz but report\.compression is zstd: set report\.compression=gzip, or remove \.gz/)]);
    const matching = await template(inject('kubeTools').helm, [...COMPLETE, '--set-json', 'report.keyTemplate="r_{YYYYMMDD}.csv.gz"', '--set', 'report.compression=gzip']);
    expect(matching.ok, matching.stderr).toBe(true);
  });

  it('never shows a secret value in the refusal', async () => {
    const result = await template(inject('kubeTools').helm, [...COMPLETE, '--set', 'credentials.existingSecret=s', '--set', 'credentials.values.password=pw-4d1c-NEVER-SHOWN']);
    expect(result.ok).toBe(false);
    expect(result.stderr).not.toContain('pw-4d1c-NEVER-SHOWN');
  });
});

describe('values the worker cannot honour are refused by the schema, with Helm 3 and 4', () => {
  it.each([
    ['database.sslMode=prefer', /sslMode/],
    ['database.sslMode=allow', /sslMode/],
    ['schedule=0 25 * * *', /schedule/],
    ['schedule=60 1 * * *', /schedule/],
    ['schedule=0 1 32 * *', /schedule/],
    ['schedule=0 1 * 13 *', /schedule/],
    ['schedule=0 1 * * 8', /schedule/],
    ['report.keyTemplate="relatorio.csv"', /keyTemplate/],
    ['report.keyTemplate="/abs/relatorio_{YYYYMMDD}.csv"', /keyTemplate/],
  ])('%s', async (value, path) => {
    for (const [label, binary] of HELMS()) {
      // JSON values: --set would read the braces of a key template as a list.
      const result = await template(binary, [...COMPLETE, value.includes('"') ? '--set-json' : '--set', value]);
      expect(result.ok, label).toBe(false);
      expect(result.stderr, label).toMatch(/schema/);
      expect(result.stderr, label).toMatch(path);
    }
  });

  it.each([
    ['0 1 31 2 *', 'never fires (no month it names has day 31)'],
    ['0 1 30 FEB *', 'never fires (no month it names has day 30)'],
    ['0 1 31 4,6,9,11 *', 'never fires (no month it names has day 31)'],
    ['0 1 31 4-6/2 *', 'never fires (no month it names has day 31)'],
    ['*/0 * * * *', 'the step in "*/0" must be at least 1'],
    ['5-1 * * * *', 'the range "5-1" runs backwards'],
    ['0 1 * DEC-JAN *', 'the range "DEC-JAN" runs backwards'],
  ])('the schedule "%s", which the API server refuses or which never fires, is refused before anything reaches the cluster', async (schedule, reason) => {
    for (const [label, binary] of HELMS()) {
      const result = await template(binary, [...COMPLETE, '--set-string', `schedule=${schedule.replaceAll(',', '\\,')}`]);
      expect(result.ok, label).toBe(false);
      expect(listed(result.stderr), label).toContain(`schedule=${JSON.stringify(schedule)}: ${reason}${reason.startsWith('never') ? ', so the CronJob would never create a Job; e.g. "0 1 * * *"' : ''}`);
    }
  });

  it.each(['*/10 * * * *', '0 1 * * MON-FRI', '30 2 1,15 * ?', '0 0-23/2 * JAN,jul *', '@daily', '0 1 31 * *', '0 1 31 2,3 *', '0 1 29 2 *', '0 1 31 2 MON', '0 1 30 */2 *'])('the schedule "%s" is accepted', async (schedule) => {
    for (const [label, binary] of HELMS()) {
      // --set reads commas as list separators: escaped, the value reaches the chart as written.
      const result = await template(binary, [...COMPLETE, '--set-string', `schedule=${schedule.replaceAll(',', '\\,')}`]);
      expect(result.ok, `${label}: ${result.stderr}`).toBe(true);
    }
  });
});

describe('an image reference the container runtime cannot parse', () => {
  // The API server takes any string as an image; the kubelet then leaves the pod in InvalidImageName
  // at 01:00 until the Job's deadline. Checked by the schema, with Helm 3 and 4.
  it.each([
    ['image.repository=Registry.example.com/Team/daily-report', /image\/repository/],
    ['image.repository=registry.example.com:5000/team/daily-report:1.0', /image\/repository/],
    ['image.repository=registry.example.com/team/daily-report@sha256:abc', /image\/repository/],
    ['image.repository=registry.example.com/team//daily-report', /image\/repository/],
    ['image.tag=latest@sha256:abc', /image\/tag/],
    ['image.tag=-latest', /image\/tag/],
  ])('%s is refused', async (value, path) => {
    for (const [label, binary] of HELMS()) {
      const result = await template(binary, [...COMPLETE, '--set', value]);
      expect(result.ok, label).toBe(false);
      expect(result.stderr.replaceAll('.', '/'), label).toMatch(path);
    }
  });

  it.each([
    'registry.example.com/team/daily-report',
    'registry.example.com:5000/team/daily-report',
    'localhost:5000/daily-report',
    '123456789012.dkr.ecr.sa-east-1.amazonaws.com/daily-report',
    'ghcr.io/acme/reports/daily_report',
    'daily-report',
  ])('the repository %s renders', async (repository) => {
    for (const [label, binary] of HELMS()) {
      const result = await template(binary, [...COMPLETE, '--set', `image.repository=${repository}`, '--set', 'image.tag=1.2.3-rc.1']);
      expect(result.ok, `${label}: ${result.stderr}`).toBe(true);
      expect(result.stdout).toContain(`image: "${repository}:1.2.3-rc.1"`);
    }
  });
});

describe('names the API server would refuse mid-install', () => {
  it.each([
    ['nameOverride=Daily_Report', /nameOverride/],
    ['serviceAccount.name=Report_Reader', /serviceAccount\/name/],
    ['alerts.grafanaDashboard.label=grafana dashboard', /grafanaDashboard\/label/],
    ['alerts.grafanaDashboard.labelValue=-1', /grafanaDashboard\/labelValue/],
  ])('%s is refused by the schema, before any object is created', async (value, path) => {
    for (const [label, binary] of HELMS()) {
      const result = await template(binary, [...COMPLETE, '--set-string', value]);
      expect(result.ok, label).toBe(false);
      expect(result.stderr.replaceAll('.', '/'), label).toMatch(path);
    }
    const pullSecret = await template(inject('kubeTools').helm, [...COMPLETE, '--set-json', 'imagePullSecrets=[{"name":"Reg_Cred"}]']);
    expect(pullSecret.stderr).toMatch(/imagePullSecrets\/0\/name/);
  });
});

describe('job.ttlSecondsAfterFinished', () => {
  const ttl = async (binary: string, args: string[]) =>
    only((await renderChart(binary, [...COMPLETE, ...args])).objects, 'CronJob').spec.jobTemplate.spec.ttlSecondsAfterFinished;

  it('null (the default, documented) keeps finished Jobs with Helm 3, which drops nulls, and with Helm 4', async () => {
    for (const [label, binary] of HELMS()) {
      expect(await ttl(binary, []), label).toBeUndefined();
      expect(await ttl(binary, ['--set', 'job.ttlSecondsAfterFinished=null']), label).toBeUndefined();
      const lint = await helm(binary, ['lint', '--strict', CHART_DIR, ...COMPLETE, '--set', 'job.ttlSecondsAfterFinished=null']);
      expect(lint.ok, `${label}: ${lint.stdout}`).toBe(true);
    }
  });

  it('a number is rendered, 0 included', async () => {
    for (const [label, binary] of HELMS()) {
      expect(await ttl(binary, ['--set', 'job.ttlSecondsAfterFinished=604800']), label).toBe(604_800);
      expect(await ttl(binary, ['--set', 'job.ttlSecondsAfterFinished=0']), label).toBe(0);
    }
  });
});
