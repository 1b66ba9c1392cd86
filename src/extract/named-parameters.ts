import { QueryIsInvalid } from '../errors.ts';

/**
 * `:name` placeholders in the report's SQL.
 *
 * Each `:name` becomes its value as a typed literal ('2024-10-04T00:00:00.000-03:00'::timestamptz),
 * so PostgreSQL plans the query for the real window. (The values used to travel as bound
 * parameters read back with current_setting(): the planner could not see them, guessed that a
 * day is 0.5 % of the table, and on a day that was the whole table chose a single-process plan
 * that ran 1.4× slower than the same query with the values written in — docs/performance.md.)
 * Splicing is safe here because the values are the job's own — the report date, the window it
 * computed, the extraction instant — never text from a user, and each must match its type's
 * strict form (digits, `-` `:` `.` `T` `+` `Z`) or the run stops: nothing in it can end a quote.
 *
 * The scanner understands enough SQL to leave alone what only looks like a placeholder: `::type`
 * casts, '…' / E'…' string literals, $tag$…$tag$ bodies, "quoted" identifiers, -- line and
 * /* nested *\/ block comments.
 */

/** The names a report query may use, with the PostgreSQL type each value has. */
export const PARAMETER_TYPES = {
  report_date: 'date',
  window_start: 'timestamptz',
  window_end: 'timestamptz',
  extracted_at: 'timestamptz',
} as const;
export type ParameterName = keyof typeof PARAMETER_TYPES;
export const PARAMETER_NAMES = Object.keys(PARAMETER_TYPES) as ParameterName[];
export type ParameterValues = Record<ParameterName, string>;

/** The only forms a value may take before it is written into the SQL as a literal of its type. */
const VALUE_FORMS: Record<(typeof PARAMETER_TYPES)[ParameterName], RegExp> = {
  date: /^\d{4}-\d{2}-\d{2}$/,
  timestamptz: /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2}(?::\d{2})?)$/,
};

interface ScannedQuery {
  readonly text: string;
  readonly names: readonly string[];
}

interface Segment {
  readonly kind: 'code' | 'comment' | 'quoted';
  readonly text: string;
}

const IDENTIFIER_PART = /[A-Za-z0-9_]/;
const PLACEHOLDER = /::|:([A-Za-z_][A-Za-z0-9_]*)/g;

/** One `:name` replaced: where it was in the source, and where its value is in the text. */
interface Edit {
  readonly sourceAt: number;
  readonly sourceLength: number;
  readonly textAt: number;
  readonly textLength: number;
}

/** Rewrites every `:name` with `replace(name, position)`; `names` lists them in first-use order. */
function rewrite(sql: string, replace: (name: string, position: number) => string): ScannedQuery & { edits: Edit[] } {
  const names: string[] = [];
  const edits: Edit[] = [];
  let sourceAt = 0;
  let shift = 0; // text offset − source offset so far
  const text = segments(sql)
    .map((segment) => {
      const segmentAt = sourceAt;
      sourceAt += segment.text.length;
      if (segment.kind !== 'code') return segment.text;
      return segment.text.replace(PLACEHOLDER, (match, name: string | undefined, offset: number) => {
        if (name === undefined) return match; // a "::" cast
        let position = names.indexOf(name);
        if (position === -1) position = names.push(name) - 1;
        const value = replace(name, position);
        edits.push({ sourceAt: segmentAt + offset, sourceLength: match.length, textAt: segmentAt + offset + shift, textLength: value.length });
        shift += value.length - match.length;
        return value;
      });
    })
    .join('');
  return { text, names, edits };
}

/**
 * Where a character of the rewritten SQL came from in the SQL as written (0-based offsets): a
 * database error points into the statement it received, the user needs the place in their file.
 * A character inside a value maps to its `:name`.
 */
export function sourceOffset(sql: string, values: ParameterValues, textOffset: number): number {
  let shift = 0;
  for (const edit of rewrite(sql, (name) => literalOf(name, values)).edits) {
    if (textOffset < edit.textAt) break;
    if (textOffset < edit.textAt + edit.textLength) return edit.sourceAt;
    shift = edit.textAt + edit.textLength - (edit.sourceAt + edit.sourceLength);
  }
  return textOffset - shift;
}

/** The `:names` a query uses, in first-use order (casts, literals and comments are not names). */
export function parameterNames(sql: string): string[] {
  return [...rewrite(sql, (name) => `:${name}`).names];
}

/** The `:names` a query uses that the job does not provide (an empty list means it is usable). */
export function unknownParameterNames(sql: string): string[] {
  return parameterNames(sql).filter((name) => !(name in PARAMETER_TYPES));
}

/**
 * The positional parameters (`$1`, `$2` …) a query uses outside literals and comments. The job
 * binds none, so PostgreSQL would refuse the statement with SQLSTATE 08P01 at the first query —
 * a protocol error that reads as transient; the loader refuses it up front instead.
 */
export function positionalParameters(sql: string): string[] {
  const found = segments(sql)
    .filter((segment) => segment.kind === 'code')
    .flatMap((segment) => [...segment.text.matchAll(/(?<![A-Za-z0-9_$])\$\d+/g)].map((match) => match[0]));
  return [...new Set(found)];
}

/**
 * The SQL with each `:name` written as the positional parameter `$n` (n: its place in
 * PARAMETER_NAMES, from 1), padded with spaces to the placeholder's length, so that a SQL parser
 * reads it and every offset it reports is the offset in the SQL as written.
 */
export function withParameterMarkers(sql: string): string {
  return rewrite(sql, (name, _position) => {
    const index = PARAMETER_NAMES.indexOf(name as ParameterName);
    return index === -1 ? `:${name}` : `$${index + 1}`.padEnd(name.length + 1, ' ');
  }).text;
}

/** The SQL with each `:name` written as its value, a literal of the name's type. */
export function withLiteralValues(sql: string, values: ParameterValues): string {
  return rewrite(sql, (name) => literalOf(name, values)).text;
}

function literalOf(name: string, values: ParameterValues): string {
  if (!(name in PARAMETER_TYPES)) throw new QueryIsInvalid(`unknown query parameter :${name}; the job provides ${PARAMETER_NAMES.map((n) => `:${n}`).join(', ')}`, { phase: 'extract' });
  const type = PARAMETER_TYPES[name as ParameterName];
  const value = values[name as ParameterName];
  if (!VALUE_FORMS[type].test(value)) throw new Error(`the value of :${name} is not a ${type} in its strict form: ${JSON.stringify(value)}`);
  return `'${value}'::${type}`;
}

/**
 * The statement without a final `;` (and the whitespace and comments after it), so it can be
 * nested as a subquery. A `;` inside a literal or a comment is not the statement's end.
 */
export function withoutFinalSemicolon(sql: string): string {
  const parts = segments(sql);
  while (parts.length > 0) {
    const last = parts.at(-1)!;
    if (last.kind === 'comment' || (last.kind === 'code' && last.text.trim() === '')) {
      parts.pop();
      continue;
    }
    if (last.kind === 'code') parts[parts.length - 1] = { kind: 'code', text: last.text.replace(/;\s*$/, '') };
    break;
  }
  return parts.map((part) => part.text).join('');
}

/** Splits SQL into code, comments and quoted text (literals, dollar bodies, quoted identifiers). */
function segments(sql: string): Segment[] {
  const result: Segment[] = [];
  let code = '';
  let i = 0;
  const flushCode = () => {
    if (code !== '') result.push({ kind: 'code', text: code });
    code = '';
  };
  const take = (kind: Segment['kind'], end: number) => {
    flushCode();
    result.push({ kind, text: sql.slice(i, end) });
    i = end;
  };

  while (i < sql.length) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      take('comment', end === -1 ? sql.length : end + 1);
    } else if (c === '/' && next === '*') {
      take('comment', endOfBlockComment(sql, i));
    } else if (c === "'") {
      const escapes = i > 0 && /[eE]/.test(sql[i - 1]!) && !IDENTIFIER_PART.test(sql[i - 2] ?? ' ');
      take('quoted', endOfQuoted(sql, i, "'", escapes));
    } else if (c === '"') {
      take('quoted', endOfQuoted(sql, i, '"', false));
    } else if (c === '$' && !IDENTIFIER_PART.test(sql[i - 1] ?? ' ') && /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.test(sql.slice(i, i + 64))) {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 64))![0];
      const close = sql.indexOf(tag, i + tag.length);
      take('quoted', close === -1 ? sql.length : close + tag.length);
    } else {
      code += c;
      i++;
    }
  }
  flushCode();
  return result;
}

function endOfBlockComment(sql: string, start: number): number {
  // PostgreSQL block comments nest.
  let depth = 0;
  let i = start;
  while (i < sql.length) {
    if (sql[i] === '/' && sql[i + 1] === '*') {
      depth++;
      i += 2;
    } else if (sql[i] === '*' && sql[i + 1] === '/') {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else {
      i++;
    }
  }
  return sql.length;
}

function endOfQuoted(sql: string, start: number, quote: string, backslashEscapes: boolean): number {
  let i = start + 1;
  while (i < sql.length) {
    const c = sql[i];
    if (backslashEscapes && c === '\\') {
      i += 2;
    } else if (c === quote) {
      if (sql[i + 1] === quote) i += 2; // doubled quote inside the literal
      else return i + 1;
    } else {
      i++;
    }
  }
  return sql.length;
}
