import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/child-processes.ts';
import { queryFile } from '../support/report-files.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { createTestDatabase, READER_PASSWORD, type TestDatabase } from '../support/test-database.ts';
import { startWebhookReceiver } from '../support/webhook-receiver.ts';

const REPORT_DATE = ['--date', '2024-10-05'];
// Slack and Teams webhook URLs carry their token in the path: it must never be printed.
const TOKEN = 'T0SECRET/B0SECRET/xoxTOKEN123';

describe('alert webhooks (outside Kubernetes: every failure alerts)', () => {
  let db: TestDatabase;
  let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let missingColumn: string;

  beforeAll(async () => {
    db = await createTestDatabase('alerts', { users: 20, transactions: 500, days: 3, until: "'2024-10-06 00:00:00-03'::timestamptz" });
    receiver = await startWebhookReceiver();
    missingColumn = await queryFile(db.outDir, 'missing', `SELECT now() AS data_extracao, 'x' AS nome_usuario, 1 AS id_transacao, 2 AS valor_transacao`);
  });
  afterAll(() => receiver.stop());

  const hook = (format: string, extra: Record<string, string> = {}) => ({ ALERT_WEBHOOK_URL: `${receiver.url}/services/${TOKEN}`, ALERT_WEBHOOK_FORMAT: format, ...extra });

  it('generic: a failed run posts one JSON object with the facts, and no secret', async () => {
    receiver.requests.length = 0;
    const result = await runDailyReport(['run', ...REPORT_DATE], { env: { ...db.env, REPORT_SQL_FILE: missingColumn, ...hook('generic') } });
    expect(result.code).toBe(3);
    expect(receiver.requests).toHaveLength(1);
    const alert = receiver.requests[0]!.body;
    expect(Object.keys(alert).sort()).toEqual(['attempt', 'error_class', 'event', 'exit_code', 'final', 'message', 'phase', 'rerun_command', 'report_date', 'trace_id'].sort());
    expect(alert).toMatchObject({
      event: 'report.failed',
      report_date: '2024-10-05',
      phase: 'extract',
      error_class: 'ReportContractViolated',
      exit_code: 3,
      attempt: 1,
      final: true,
      trace_id: null,
      rerun_command: 'daily-report run --date 2024-10-05',
    });
    expect(alert.message).toMatch(/status_transacao/);
    expect(receiver.requests[0]!.headers['content-type']).toBe('application/json');
    for (const text of [result.stderr, result.stdout, JSON.stringify(alert)]) {
      expect(text).not.toContain(TOKEN);
      expect(text).not.toContain(READER_PASSWORD);
    }
  });

  it('an invalid configuration still alerts (exit 2), with the date from --date', async () => {
    receiver.requests.length = 0;
    const result = await runDailyReport(['run', ...REPORT_DATE], { env: { ...hook('generic'), PGUSER: 'x' } });
    expect(result.code).toBe(2);
    expect(receiver.requests.map((r) => r.body)).toEqual([expect.objectContaining({ event: 'report.failed', error_class: 'ConfigurationIsInvalid', phase: 'config', exit_code: 2, report_date: '2024-10-05' })]);
    expect(receiver.requests[0]!.body.message).toMatch(/PGDATABASE: is required/);
  });

  it('slack and teams render the same facts in their message formats', async () => {
    receiver.requests.length = 0;
    await runDailyReport(['run', ...REPORT_DATE], { env: { ...db.env, REPORT_SQL_FILE: missingColumn, ...hook('slack') } });
    await runDailyReport(['run', ...REPORT_DATE], { env: { ...db.env, REPORT_SQL_FILE: missingColumn, ...hook('teams') } });
    const [slack, teams] = receiver.requests.map((r) => r.body);
    expect(slack.text).toBe('daily-report FAILED for 2024-10-05');
    expect(JSON.stringify(slack.blocks)).toMatch(/ReportContractViolated.*"\*Exit code\*\\n3"/);
    const card = teams.attachments[0];
    expect(card.contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(card.content.body[0].text).toBe('daily-report FAILED for 2024-10-05');
    expect(card.content.body[1].facts).toEqual(expect.arrayContaining([{ title: 'Error', value: 'ReportContractViolated' }, { title: 'Exit code', value: '3' }, { title: 'Rerun', value: 'daily-report run --date 2024-10-05' }]));
  });

  it('success posts only with ALERT_ON_SUCCESS, with the key and rows', async () => {
    receiver.requests.length = 0;
    expect((await runDailyReport(['run', ...REPORT_DATE], { env: { ...db.env, ...hook('generic') } })).code).toBe(0);
    expect(receiver.requests).toHaveLength(0);
    const result = await runDailyReport(['run', ...REPORT_DATE], { env: { ...db.env, ...hook('generic', { ALERT_ON_SUCCESS: 'true' }) } });
    expect(result.code).toBe(0);
    const summary = result.logs.find((l) => l.phase === 'summary')!;
    expect(receiver.requests.map((r) => r.body)).toEqual([expect.objectContaining({ event: 'report.published', key: 'relatorio_20241005.csv', rows: summary.rows, exit_code: 0 })]);
  });

  it("a webhook that is down (503, retried) or unreachable never changes the run's exit code", async () => {
    receiver.requests.length = 0;
    receiver.status.code = 503;
    try {
      const failed = await runDailyReport(['run', ...REPORT_DATE], { env: { ...db.env, REPORT_SQL_FILE: missingColumn, ...hook('generic') } });
      expect(failed.code).toBe(3);
      expect(receiver.requests).toHaveLength(3);
      expect(failed.logs.find((l) => l.msg === 'alert webhook failed')).toMatchObject({ attempts: 3, status: 503 });
    } finally {
      receiver.status.code = 200;
    }
    const unreachable = await runDailyReport(['run', ...REPORT_DATE], {
      env: { ...db.env, ALERT_WEBHOOK_URL: `http://127.0.0.1:${await freePort()}/${TOKEN}`, ALERT_ON_SUCCESS: 'true' },
    });
    expect(unreachable.code).toBe(0);
    expect(unreachable.stderr).not.toContain(TOKEN);
    expect(unreachable.logs.find((l) => l.msg === 'alert webhook failed')?.error).toBe('ECONNREFUSED');
  });
});

describe('the webhook payload', () => {
  it('has every remembered secret redacted, whatever message carried it', async () => {
    const { forgetSecrets, rememberSecret } = await import('../../src/config/redaction.ts');
    const { postWebhook } = await import('../../src/alerts/webhook.ts');
    const receiver = await startWebhookReceiver();
    try {
      rememberSecret('Webhook-Secret-5a');
      const delivery = await postWebhook(`${receiver.url}/hook`, { message: 'the driver said: password "Webhook-Secret-5a" rejected' }, 5_000);
      expect(delivery.delivered).toBe(true);
      expect(receiver.requests[0]!.body).toEqual({ message: 'the driver said: password "[redacted]" rejected' });
    } finally {
      forgetSecrets();
      await receiver.stop();
    }
  });
});
