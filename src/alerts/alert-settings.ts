import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { flag, oneOf } from '../config/schema-helpers.ts';

/**
 * Alert settings. Read on their own, leniently, at the end of a run: an alert must go out even when
 * the rest of the configuration is what failed. The same shape is part of the full configuration's
 * schema, so `daily-report validate` reports a wrong value.
 */
export const alertShape = {
  ALERT_WEBHOOK_URL: z.string().refine((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), { error: 'must be an http(s) URL' }).optional(),
  ALERT_WEBHOOK_FORMAT: oneOf(['generic', 'slack', 'teams']).optional(),
  ALERT_ON_SUCCESS: flag.optional(),
  ALERT_KUBERNETES_EVENTS: flag.optional(),
};

export type WebhookFormat = 'generic' | 'slack' | 'teams';

export interface AlertSettings {
  readonly webhook: { url: string; format: WebhookFormat } | undefined;
  readonly onSuccess: boolean;
  /** Read our own Job and record Events on it (the chart's alerts.kubernetes.enabled). */
  readonly kubernetes: { namespace: string; job: string; cronJob: string | undefined } | undefined;
}

export function alertSettings(env: Readonly<Record<string, string | undefined>>): AlertSettings {
  const parsed = z.object(alertShape).safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== '')));
  const e = parsed.success ? parsed.data : {};
  let url = e.ALERT_WEBHOOK_URL;
  if (url === undefined && env.ALERT_WEBHOOK_URL_FILE) {
    try {
      url = readFileSync(env.ALERT_WEBHOOK_URL_FILE, 'utf8').trim();
    } catch {
      url = undefined;
    }
  }
  const kubernetes = e.ALERT_KUBERNETES_EVENTS && env.JOB_NAME && env.POD_NAMESPACE ? { namespace: env.POD_NAMESPACE, job: env.JOB_NAME, cronJob: env.CRONJOB_NAME } : undefined;
  return {
    webhook: url && URL.canParse(url) ? { url, format: e.ALERT_WEBHOOK_FORMAT ?? 'generic' } : undefined,
    onSuccess: e.ALERT_ON_SUCCESS ?? false,
    kubernetes,
  };
}
