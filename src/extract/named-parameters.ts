/**
 * `:name` placeholders in the report's SQL, turned into PostgreSQL's `$n` bound parameters.
 *
 * Values are always sent as bound parameters and never spliced into the text, so a value can
 * not change the query. The scanner understands enough SQL to leave alone what only looks like a
 * placeholder: `::type` casts, '…' / E'…' string literals, $tag$…$tag$ bodies, "quoted"
 * identifiers, -- line and /* nested *\/ block comments.
 */

/** The names a report query may use; their values are computed per run. */
export const PARAMETER_NAMES = ['report_date', 'window_start', 'window_end', 'extracted_at'] as const;
export type ParameterName = (typeof PARAMETER_NAMES)[number];
export type ParameterValues = Record<ParameterName, string>;

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

const IDENTIFIER_START = /[A-Za-z_]/;
const IDENTIFIER_PART = /[A-Za-z0-9_]/;

/** Rewrites every `:name` to `$n`, whatever the name; `names` lists them in `$n` order. */
export function scanNamedParameters(sql: string): ScannedQuery {
  const names: string[] = [];
  let out = '';
  let i = 0;
  const copyUntil = (end: number) => {
    out += sql.slice(i, end);
    i = end;
  };

  while (i < sql.length) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      copyUntil(end === -1 ? sql.length : end + 1);
    } else if (c === '/' && next === '*') {
      copyUntil(endOfBlockComment(sql, i));
    } else if (c === "'") {
      const escapes = i > 0 && /[eE]/.test(sql[i - 1]!) && !IDENTIFIER_PART.test(sql[i - 2] ?? ' ');
      copyUntil(endOfQuoted(sql, i, "'", escapes));
    } else if (c === '"') {
      copyUntil(endOfQuoted(sql, i, '"', false));
    } else if (c === '$' && !IDENTIFIER_PART.test(sql[i - 1] ?? ' ')) {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (tag) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        copyUntil(close === -1 ? sql.length : close + tag[0].length);
      } else {
        copyUntil(i + 1);
      }
    } else if (c === ':' && next === ':') {
      copyUntil(i + 2);
    } else if (c === ':' && next !== undefined && IDENTIFIER_START.test(next)) {
      let end = i + 1;
      while (end < sql.length && IDENTIFIER_PART.test(sql[end]!)) end++;
      const name = sql.slice(i + 1, end);
      let position = names.indexOf(name);
      if (position === -1) position = names.push(name) - 1;
      out += `$${position + 1}`;
      i = end;
    } else {
      copyUntil(i + 1);
    }
  }
  return { text: out, names };
}

/** The `:names` a query uses that the job does not provide (an empty list means it compiles). */
export function unknownParameterNames(scanned: ScannedQuery): string[] {
  return scanned.names.filter((name) => !(PARAMETER_NAMES as readonly string[]).includes(name));
}

/** Scans and checks; throws a plain Error naming unknown parameters (config turns it into exit 2). */
export function compileNamedQuery(sql: string): CompiledQuery {
  const scanned = scanNamedParameters(sql);
  const unknown = unknownParameterNames(scanned);
  if (unknown.length > 0) {
    throw new Error(`unknown query parameter(s) ${unknown.map((n) => `:${n}`).join(', ')}`);
  }
  return { text: scanned.text, names: scanned.names as ParameterName[] };
}

/** The values for `$1…$n`, in the compiled order. */
export function bindParameters(query: CompiledQuery, values: ParameterValues): string[] {
  return query.names.map((name) => values[name]);
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
