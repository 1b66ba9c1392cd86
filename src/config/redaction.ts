/**
 * The one mechanism that keeps secrets out of what the job writes: the loader remembers the
 * value of every setting flagged `secret` in the spec, and every outlet (each log line, the
 * webhook payload, span status and exceptions) passes its text through `redactSecrets`.
 * URLs are written with `redactUrl`: no user:password@, no query string (a SAS token lives there).
 */

const REDACTED = '[redacted]';
const secrets = new Set<string>();

/** Values shorter than this are not remembered: redacting "a" would mangle every line. */
export const MIN_SECRET_LENGTH = 4;

/** Remembers `value` for redaction; false when it is too short to be told apart from ordinary text. */
export function rememberSecret(value: string): boolean {
  if (value.length < MIN_SECRET_LENGTH) return false;
  // As written, as it appears inside a JSON string, and percent-encoded (inside a URL).
  for (const form of [value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value)]) secrets.add(form);
  return true;
}

/** The text with every remembered secret replaced. */
export function redactSecrets(text: string): string {
  let result = text;
  for (const secret of secrets) if (result.includes(secret)) result = result.replaceAll(secret, REDACTED);
  return result;
}

/** A URL without its credentials and query string, for logs; text that is not a URL is returned as is. */
export function redactUrl(text: string): string {
  if (!URL.canParse(text)) return text;
  const url = new URL(text);
  if (url.username === '' && url.password === '' && url.search === '') return text;
  url.username = '';
  url.password = '';
  url.search = '';
  return url.toString();
}

/** For tests: forget what was remembered. */
export function forgetSecrets(): void {
  secrets.clear();
}
