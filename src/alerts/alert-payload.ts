import type { WebhookFormat } from '../config/config.ts';

/** The facts of one report's outcome, as every alert format carries them. */
export interface ReportAlert {
  readonly event: 'report.failed' | 'report.published';
  readonly report_date: string | null;
  readonly phase: string | null;
  readonly error_class: string | null;
  /** Our error messages name hosts, keys and variables, never secret values. */
  readonly message: string;
  readonly exit_code: number;
  readonly attempt: number;
  /** No retry will follow: this is the report's outcome. */
  readonly final: boolean;
  readonly trace_id: string | null;
  readonly rerun_command: string | null;
  readonly key?: string | undefined;
  readonly rows?: number | undefined;
}

/** The request body for a webhook format: the generic JSON object, or the same facts as a Slack or Teams message. */
export function webhookBody(alert: ReportAlert, format: WebhookFormat): unknown {
  if (format === 'generic') return alert;
  const failed = alert.event === 'report.failed';
  const title = failed ? `daily-report FAILED for ${alert.report_date ?? 'an unknown date'}` : `daily-report published ${alert.key} (${alert.rows} rows)`;
  const facts: [string, string][] = (
    failed
      ? [
          ['Report date', alert.report_date ?? '-'],
          ['Phase', alert.phase ?? '-'],
          ['Error', alert.error_class ?? '-'],
          ['Exit code', String(alert.exit_code)],
          ['Attempt', `${alert.attempt}${alert.final ? ' (final)' : ''}`],
          ['Message', alert.message],
          ['Rerun', alert.rerun_command ?? '-'],
          ['Trace', alert.trace_id ?? '-'],
        ]
      : [
          ['Report date', alert.report_date ?? '-'],
          ['Key', alert.key ?? '-'],
          ['Rows', String(alert.rows ?? '-')],
          ['Trace', alert.trace_id ?? '-'],
        ]
  ) as [string, string][];
  if (format === 'slack') {
    return {
      text: title,
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: title } },
        { type: 'section', fields: facts.map(([name, value]) => ({ type: 'mrkdwn', text: `*${name}*\n${value}` })) },
      ],
    };
  }
  // Teams (Workflows / incoming webhooks): an Adaptive Card.
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          body: [
            { type: 'TextBlock', size: 'Large', weight: 'Bolder', text: title, color: failed ? 'Attention' : 'Good', wrap: true },
            { type: 'FactSet', facts: facts.map(([title, value]) => ({ title, value })) },
          ],
        },
      },
    ],
  };
}
