/**
 * `:name` placeholders in the report's SQL.
 *
 * Values never become part of the SQL text, so a value can not change the query. Two ways to
 * bind them, one per extraction engine:
 * - `$n` bound parameters (the cursor engine, and `validate`);
 * - `current_setting('daily_report.<name>')::<type>` references, with the values sent as bound
 *   parameters of `set_config` first (the COPY engine: COPY cannot take bound parameters).
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

/** The prefix of the session settings that carry the values for the COPY engine. */
export const SETTING_PREFIX = 'daily_report.';

export interface CompiledQuery {
  /** The SQL with `:name` replaced by `$1`, `$2`… (the same name always gets the same number). */
  readonly text: string;
  /** Parameter names in `$n` order. */
  readonly names: readonly ParameterName[];
}

export interface ScannedQuery {
  readonly text: string;
  readonly names: readonly string[];
}

interface Segment {
  readonly kind: 'code' | 'comment' | 'quoted';
  readonly text: string;
}

const IDENTIFIER_PART = /[A-Za-z0-9_]/;
const PLACEHOLDER = /::|:([A-Za-z_][A-Za-z0-9_]*)/g;

/** Rewrites every `:name` with `replace(name, position)`; `names` lists them in first-use order. */
function rewrite(sql: string, replace: (name: string, position: number) => string): ScannedQuery {
  const names: string[] = [];
  const text = segments(sql)
    .map((segment) =>
      segment.kind !== 'code'
        ? segment.text
        : segment.text.replace(PLACEHOLDER, (match, name: string | undefined) => {
            if (name === undefined) return match; // a "::" cast
            let position = names.indexOf(name);
            if (position === -1) position = names.push(name) - 1;
            return replace(name, position);
          }),
    )
    .join('');
  return { text, names };
}

/** Rewrites every `:name` to `$n`, whatever the name; `names` lists them in `$n` order. */
export function scanNamedParameters(sql: string): ScannedQuery {
  return rewrite(sql, (_, position) => `$${position + 1}`);
}

/** The `:names` a query uses that the job does not provide (an empty list means it compiles). */
export function unknownParameterNames(scanned: ScannedQuery): string[] {
  return scanned.names.filter((name) => !(name in PARAMETER_TYPES));
}

/** Scans and checks; throws a plain Error naming unknown parameters (config turns it into exit 2). */
export function compileNamedQuery(sql: string): CompiledQuery {
  const scanned = scanNamedParameters(sql);
  const unknown = unknownParameterNames(scanned);
  if (unknown.length > 0) throw new Error(`unknown query parameter(s) ${unknown.map((n) => `:${n}`).join(', ')}`);
  return { text: scanned.text, names: scanned.names as ParameterName[] };
}

/** The values for `$1…$n`, in the compiled order. */
export function bindParameters(query: CompiledQuery, values: ParameterValues): string[] {
  return query.names.map((name) => values[name]);
}

/**
 * The SQL with each `:name` read from its session setting, typed: no value is ever in the text.
 * Wrapped in a sub-select so PostgreSQL evaluates it once per statement (an InitPlan) rather than
 * once per row — measured at +0.6 s per million rows otherwise.
 */
export function withSettingReferences(sql: string): string {
  return rewrite(sql, (name) => {
    if (!(name in PARAMETER_TYPES)) throw new Error(`unknown query parameter :${name}`);
    return `(SELECT current_setting('${SETTING_PREFIX}${name}')::${PARAMETER_TYPES[name as ParameterName]})`;
  }).text;
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
