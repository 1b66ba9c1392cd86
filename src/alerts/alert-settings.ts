import { WEBHOOK_FORMATS, type AlertsConfig } from '../config/config.ts';
import { defineSettings, flag, oneOf, text, url, type SettingsDomain } from '../config/setting.ts';

/**
 * Alert settings, on the main path: `validate` and `run` report a wrong value with every other
 * problem. After a run whose configuration failed, `notify` loads just these (the 'notify'
 * command) from the same spec, so an alert still goes out when only the rest is wrong.
 */

const ALERT_COMMANDS = ['run', 'validate', 'notify'] as const;
// Set by the chart from the downward API; read only with ALERT_KUBERNETES_EVENTS.
const DOWNWARD_API = 'Set by the chart from the downward API.';

export const ALERT_SETTINGS = defineSettings({
  // A webhook URL is a credential too: Slack and Teams put the token in the path.
  ALERT_WEBHOOK_URL: url({
    secret: true, fromFile: true, allowSecrets: true, commands: ALERT_COMMANDS, defaultDoc: '*(none)*',
    doc: 'Webhook posted once per failed report (Slack and Teams URLs carry a token: use `_FILE`).',
  }),
  ALERT_WEBHOOK_FORMAT: oneOf({ values: WEBHOOK_FORMATS, default: 'generic', commands: ALERT_COMMANDS, doc: '`generic` (JSON), `slack` or `teams`.' }),
  ALERT_ON_SUCCESS: flag({ default: 'false', commands: ALERT_COMMANDS, doc: 'Also post when a report is published.' }),
  ALERT_KUBERNETES_EVENTS: flag({
    default: 'false', commands: ALERT_COMMANDS,
    doc: 'In a pod (the chart sets it with `alerts.kubernetes.enabled`): read our own Job (`JOB_NAME`, `POD_NAMESPACE`) to alert only on the last attempt, and record `ReportPublished` / `ReportFailed` Events on it.',
  }),
  JOB_NAME: text({ commands: ALERT_COMMANDS, form: 'Job name', defaultDoc: '*(none)*', doc: `Our own Job, for \`ALERT_KUBERNETES_EVENTS\`, and for the report date of a scheduled run (\`REPORT_DATE\`). ${DOWNWARD_API}` }),
  POD_NAMESPACE: text({ commands: ALERT_COMMANDS, form: 'namespace', defaultDoc: '*(none)*', doc: `Our own namespace, for \`ALERT_KUBERNETES_EVENTS\`. ${DOWNWARD_API}` }),
  CRONJOB_NAME: text({ commands: ALERT_COMMANDS, form: 'CronJob name', defaultDoc: '*(none)*', doc: 'The CronJob, named in the rerun command an alert suggests. Set by the chart.' }),
});

export const alertSettings: SettingsDomain<typeof ALERT_SETTINGS, AlertsConfig> = {
  spec: ALERT_SETTINGS,
  build(v, context) {
    if (v.ALERT_KUBERNETES_EVENTS && (v.JOB_NAME === undefined || v.POD_NAMESPACE === undefined)) {
      context.problem('ALERT_KUBERNETES_EVENTS', 'needs JOB_NAME and POD_NAMESPACE (the chart sets them from the downward API); unset it outside a pod');
    }
    return {
      webhook: v.ALERT_WEBHOOK_URL === undefined ? undefined : { url: v.ALERT_WEBHOOK_URL, format: v.ALERT_WEBHOOK_FORMAT },
      onSuccess: v.ALERT_ON_SUCCESS,
      kubernetes:
        v.ALERT_KUBERNETES_EVENTS && v.JOB_NAME !== undefined && v.POD_NAMESPACE !== undefined
          ? { namespace: v.POD_NAMESPACE, job: v.JOB_NAME, cronJob: v.CRONJOB_NAME }
          : undefined,
    };
  },
};
