import { createHash } from 'node:crypto';
import type { Config } from '../config/config.ts';

/** The SHA-256 of the query text, recorded with every run so a changed query is visible. */
export function querySha256(config: Config): string {
  return createHash('sha256').update(config.report.query.text).digest('hex');
}
