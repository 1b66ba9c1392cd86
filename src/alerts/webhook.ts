import { redactSecrets } from '../config/redaction.ts';
import { messageOf } from '../errors.ts';

export interface WebhookResult {
  readonly delivered: boolean;
  readonly attempts: number;
  readonly status?: number;
  readonly error?: string;
}

const ATTEMPTS = 3;

/**
 * POSTs `body` as JSON with a timeout per attempt and a bounded retry (network errors, 429, 5xx);
 * never throws. The URL is a credential: it appears in no result or error this returns.
 */
export async function postWebhook(url: string, body: unknown, timeoutMs: number): Promise<WebhookResult> {
  let last: WebhookResult = { delivered: false, attempts: 0 };
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'daily-report' },
        body: redactSecrets(JSON.stringify(body)),
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) return { delivered: true, attempts: attempt, status: response.status };
      last = { delivered: false, attempts: attempt, status: response.status, error: `HTTP ${response.status}` };
      if (response.status < 500 && response.status !== 429) return last;
    } catch (error) {
      // fetch's messages can quote the URL; keep only the cause's code or name.
      const cause = (error as { cause?: { code?: string } }).cause?.code;
      last = { delivered: false, attempts: attempt, error: cause ?? (error as Error).name ?? messageOf(error).replace(url, '<webhook>') };
    }
    if (attempt < ATTEMPTS) await new Promise((r) => setTimeout(r, 500 * 2 ** (attempt - 1)));
  }
  return last;
}
