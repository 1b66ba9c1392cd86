import { z } from 'zod';
import { parseDuration } from './duration.ts';

/** Field schemas for environment variables (always strings), with messages that show an example. */

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

export const wholeNumber = (min: number, max: number, example: number) =>
  z
    .string()
    .refine((s) => /^\d+$/.test(s) && Number(s) >= min && Number(s) <= max, {
      error: `must be a whole number from ${min} to ${max} (example: ${example})`,
    })
    .transform(Number);

export const duration = (example: string) =>
  z
    .string()
    .refine((s) => (parseDuration(s) ?? 0) > 0, { error: `must be a positive duration such as 90s, 5m, 2h or 1h30m (example: ${example})` })
    .transform((s) => parseDuration(s)!);

export const flag = z
  .string()
  .refine((s) => TRUE.has(s.toLowerCase()) || FALSE.has(s.toLowerCase()), { error: 'must be true or false' })
  .transform((s) => TRUE.has(s.toLowerCase()));

export const oneOf = <const T extends readonly [string, ...string[]]>(values: T, hint = '') =>
  z.enum(values, { error: `must be one of ${values.join(' | ')}${hint}` });
