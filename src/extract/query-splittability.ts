import { QueryIsInvalid } from '../errors.ts';
import { PARAMETER_NAMES, withParameterMarkers } from './named-parameters.ts';

/**
 * Whether the report query can run as shards — the same query over consecutive sub-windows, the
 * results concatenated — and give exactly the rows, in the order, of one run over the whole
 * window. Read from PostgreSQL's own parse tree (libpg-query: the server's parser as WASM), and
 * deliberately conservative: what this cannot prove splittable is refused, with the construct
 * and its place in the file (docs/parallel-extraction.md, "Which queries split").
 *
 * The rule it enforces: the window appears only as `column >= :window_start AND column <
 * :window_end` in the outer WHERE (so each shard reads exactly its sub-window's source rows, and
 * every source row is in one shard), nothing combines rows across the result (LIMIT, DISTINCT,
 * GROUP BY, aggregates, window functions, UNION), and an ORDER BY starts with that column,
 * ascending (so shards in window order are rows in query order).
 */

/** The column whose range the window restricts, and the table it belongs to when the FROM names it. */
export interface WindowColumn {
  /** The column reference as written (lower-cased unless quoted): ["t", "criado_em"] or ["criado_em"]. */
  readonly fields: readonly string[];
  /** The table in FROM that it belongs to; undefined when that cannot be told from the text (then shards are planned by equal width). */
  readonly table?: { readonly schema?: string; readonly name: string } | undefined;
}

export interface SplittableQuery {
  readonly windowColumn: WindowColumn;
  /**
   * Plain function calls at the query's own level (not in subqueries): an aggregate looks like
   * any function in the parse tree (`sum(x)`), so the caller asks the catalog which are aggregates.
   */
  readonly functionNames: readonly string[];
  /** Where the first call of each of `functionNames` is, for the error message. */
  readonly functionAt: ReadonlyMap<string, number>;
}

type Node = Record<string, unknown>;

const WINDOW_START = PARAMETER_NAMES.indexOf('window_start') + 1;
const WINDOW_END = PARAMETER_NAMES.indexOf('window_end') + 1;
/** Each shard is its own transaction: these would differ between shards (use :extracted_at). */
const TRANSACTION_TIME_FUNCTIONS = new Set(['now', 'transaction_timestamp', 'statement_timestamp']);
const TRANSACTION_TIME_VALUES = new Set(['SVFOP_CURRENT_DATE', 'SVFOP_CURRENT_TIME', 'SVFOP_CURRENT_TIME_N', 'SVFOP_CURRENT_TIMESTAMP', 'SVFOP_CURRENT_TIMESTAMP_N', 'SVFOP_LOCALTIME', 'SVFOP_LOCALTIME_N', 'SVFOP_LOCALTIMESTAMP', 'SVFOP_LOCALTIMESTAMP_N']);

let parser: Promise<(sql: string) => unknown> | undefined;

/** PostgreSQL's parser, loaded on first use (its WASM costs nothing to a run that does not split). */
function loadParser(): Promise<(sql: string) => unknown> {
  return (parser ??= import('libpg-query').then(async (module) => {
    await module.loadModule();
    return module.parseSync;
  }));
}

/** The query's window column and top-level function names, or QueryIsInvalid naming why it cannot be split. */
export async function splittableQuery(sql: string, file?: string): Promise<SplittableQuery> {
  const parse = await loadParser();
  const marked = withParameterMarkers(sql);
  const refuse = (what: string, location: number | undefined, fix: string): never => {
    throw splitRefusal(sql, file, what, location, fix);
  };

  let tree: { stmts?: { stmt?: Node }[] };
  try {
    tree = parse(marked) as typeof tree;
  } catch (error) {
    const position = (error as { sqlDetails?: { cursorPosition?: number } }).sqlDetails?.cursorPosition;
    return refuse(`PostgreSQL's parser cannot read it (${(error as Error).message})`, position, 'Fix the SQL');
  }
  const statements = tree.stmts ?? [];
  const select = statements.length === 1 ? (statements[0]!.stmt?.SelectStmt as Node | undefined) : undefined;
  if (!select) return refuse('it is not one SELECT statement', undefined, 'Write the report as one SELECT');

  if (select.op !== 'SETOP_NONE') {
    return refuse(`it is a ${String(select.op).replace('SETOP_', '')}${select.all ? ' ALL' : ''} of queries`, undefined,
      'Set operations combine rows across the whole result; write one SELECT (a UNION ALL of tables can be a UNION ALL subquery in FROM with the window filter outside it)');
  }
  if (select.limitCount || select.limitOffset) {
    return refuse('LIMIT, OFFSET or FETCH FIRST limits the whole result (each shard would apply it again)', locationOf(select.limitCount ?? select.limitOffset), 'Remove the row limit');
  }
  if (select.distinctClause) return refuse('DISTINCT removes duplicates across the whole result (each shard would only see its own)', undefined, 'Remove DISTINCT, or make the rows unique in a subquery that does not depend on the window');
  if (select.groupClause || select.groupDistinct) return refuse('GROUP BY combines rows across the whole result', locationOf(select.groupClause), 'Report one line per source row');
  if (select.havingClause) return refuse('HAVING filters groups of the whole result', locationOf(select.havingClause), 'Report one line per source row');
  if (select.windowClause) return refuse('a WINDOW clause computes over the whole result', locationOf(select.windowClause), 'Remove the window functions');

  // Aggregates and window functions at this level (a subquery is its own query: it may aggregate).
  const functionAt = new Map<string, number>();
  for (const part of [select.targetList, select.sortClause]) {
    for (const call of nodesOfType(part, 'FuncCall', { intoSubqueries: false })) {
      const name = functionName(call);
      if (call.over) return refuse(`the window function ${name}() … OVER computes over the whole result`, locationOf(call), 'Remove it, or compute it in a subquery that does not depend on the window');
      if (call.agg_star || call.agg_distinct || call.agg_order || call.agg_filter || call.agg_within_group) {
        return refuse(`the aggregate ${name}() combines rows across the whole result`, locationOf(call), 'Report one line per source row');
      }
      if (!functionAt.has(name)) functionAt.set(name, locationOf(call) ?? -1);
    }
  }
  for (const call of nodesOfType(select, 'FuncCall', { intoSubqueries: true })) {
    const name = functionName(call);
    if (TRANSACTION_TIME_FUNCTIONS.has(name)) return refuse(`${name}() is the time of each shard's own transaction, so it would differ between shards`, locationOf(call), 'Use :extracted_at, the same instant in every shard');
  }
  for (const value of nodesOfType(select, 'SQLValueFunction', { intoSubqueries: true })) {
    if (TRANSACTION_TIME_VALUES.has(String(value.op))) {
      const name = String(value.op).replace(/^SVFOP_|_N$/g, '');
      return refuse(`${name} is the time of each shard's own transaction, so it would differ between shards`, locationOf(value), 'Use :extracted_at, the same instant in every shard');
    }
  }

  const windowColumn = windowFilter(select, refuse);
  const orderBy = ((select.sortClause as Node[] | undefined) ?? []).map((item) => item.SortBy as Node);
  if (orderBy.length > 0) {
    const first = orderBy[0]!;
    const firstColumn = sortColumn(first.node as Node | undefined, select);
    if (!firstColumn || !sameColumn(firstColumn, windowColumn.fields)) {
      return refuse(`the ORDER BY does not start with the window column ${windowColumn.fields.join('.')}`, locationOf(first.node), `Start the ORDER BY with ${windowColumn.fields.join('.')} (the shards are concatenated in window order), or remove it`);
    }
    if (first.sortby_dir === 'SORTBY_DESC' || first.sortby_dir === 'SORTBY_USING') {
      return refuse(`the ORDER BY sorts the window column ${first.sortby_dir === 'SORTBY_DESC' ? 'DESC' : 'with USING'}`, locationOf(first.node), `Sort ${windowColumn.fields.join('.')} ascending (the shards are concatenated from the window's start)`);
    }
  }

  return { windowColumn: { ...windowColumn, table: tableOf(windowColumn.fields, select) }, functionNames: [...functionAt.keys()], functionAt };
}

/** The refusal of a query that does not split: the cause, where it is (a parse tree byte offset), the fix. */
export function splitRefusal(sql: string, file: string | undefined, what: string, location: number | undefined, fix: string): QueryIsInvalid {
  const at = location !== undefined && location >= 0 ? ` at ${lineAndColumn(sql, location, file)}` : ` in ${file ?? 'the report query'}`;
  return new QueryIsInvalid(
    `the report query cannot be split into shards for parallel extraction: ${what}${at}. ${fix}; or set REPORT_PARALLELISM=1 `
      + '(docs/parallel-extraction.md, "Which queries split")',
    { phase: 'extract', context: { file } },
  );
}

/**
 * The outer WHERE's `column >= :window_start` and `column < :window_end` (either way round), on
 * one plain column, as conjuncts of the top-level AND; any other use of either name is refused.
 */
function windowFilter(select: Node, refuse: (what: string, location: number | undefined, fix: string) => never): { fields: string[] } {
  const where = select.whereClause as Node | undefined;
  const conjuncts = where ? andTerms(where) : [];
  const bounds: { kind: 'start' | 'end'; fields: string[]; location: number | undefined; param: Node }[] = [];
  for (const term of conjuncts) {
    const expr = term.A_Expr as Node | undefined;
    if (!expr || expr.kind !== 'AEXPR_OP') continue;
    const op = ((expr.name as Node[])[0]!.String as Node).sval as string;
    const left = expr.lexpr as Node;
    const right = expr.rexpr as Node;
    for (const [column, param, operator] of [[left, right, op], [right, left, flip(op)]] as [Node, Node, string][]) {
      const fields = column.ColumnRef ? columnFields(column.ColumnRef as Node) : undefined;
      const number = paramNumber(param);
      if (!fields || number === undefined) continue;
      if (number === WINDOW_START && operator === '>=') bounds.push({ kind: 'start', fields, location: locationOf(term), param: paramRef(param)! });
      if (number === WINDOW_END && operator === '<') bounds.push({ kind: 'end', fields, location: locationOf(term), param: paramRef(param)! });
    }
  }
  const accepted = new Set(bounds.map((bound) => bound.param));
  for (const param of nodesOfType(select, 'ParamRef', { intoSubqueries: true })) {
    if ((param.number === WINDOW_START || param.number === WINDOW_END) && !accepted.has(param)) {
      const name = param.number === WINDOW_START ? ':window_start' : ':window_end';
      return refuse(`${name} is used other than as \`column >= :window_start\` / \`column < :window_end\` in the outer WHERE`, locationOf(param),
        'Filter the window only in the outer WHERE, as `AND column >= :window_start AND column < :window_end` on one column (not inside a subquery, CTE, OR or expression)');
    }
  }
  const start = bounds.find((bound) => bound.kind === 'start');
  const end = bounds.find((bound) => bound.kind === 'end');
  if (!start || !end) {
    return refuse('its outer WHERE does not restrict one column to the window with `column >= :window_start AND column < :window_end`', locationOf(where),
      'Add that filter (the shards are sub-windows of that column)');
  }
  if (bounds.some((bound) => !sameColumn(bound.fields, start.fields))) {
    return refuse(`the window's two ends are on different columns (${start.fields.join('.')} and ${end.fields.join('.')})`, end.location, 'Restrict one column to [:window_start, :window_end)');
  }
  return { fields: start.fields };
}

/** The RangeVar in the FROM (outside subqueries) the column belongs to, when its qualifier or a single table says so. */
function tableOf(fields: readonly string[], select: Node): WindowColumn['table'] {
  const ctes = new Set(nodesOfType((select.withClause as Node | undefined)?.ctes, 'CommonTableExpr', { intoSubqueries: false }).map((cte) => cte.ctename));
  const tables = nodesOfType(select.fromClause, 'RangeVar', { intoSubqueries: false }).filter((table) => !(table.schemaname === undefined && ctes.has(table.relname)));
  const named = (table: Node) => ({ ...(table.schemaname ? { schema: table.schemaname as string } : {}), name: table.relname as string });
  if (fields.length === 1) return tables.length === 1 && nodesOfType(select.fromClause, 'RangeSubselect', { intoSubqueries: false }).length === 0 && nodesOfType(select.fromClause, 'RangeFunction', { intoSubqueries: false }).length === 0 ? named(tables[0]!) : undefined;
  const qualifier = fields.at(-2)!;
  const schema = fields.length >= 3 ? fields.at(-3) : undefined;
  const match = tables.filter((table) => {
    const alias = (table.alias as Node | undefined)?.aliasname;
    if (alias !== undefined) return schema === undefined && alias === qualifier;
    return table.relname === qualifier && (schema === undefined || table.schemaname === schema);
  });
  return match.length === 1 ? named(match[0]!) : undefined;
}

/**
 * The column an ORDER BY item sorts by. A bare name is first an output column's name (PostgreSQL
 * looks at the select list before the FROM), explicit (`AS name`) or implicit (a column's or a
 * cast column's own name): then it sorts by that output's expression, a column only if it is one.
 */
function sortColumn(node: Node | undefined, select: Node): string[] | undefined {
  const ref = node?.ColumnRef as Node | undefined;
  if (!ref) return undefined;
  const fields = columnFields(ref);
  if (fields.length !== 1) return fields;
  const outputs = ((select.targetList as Node[] | undefined) ?? []).map((target) => target.ResTarget as Node)
    .filter((target) => (target.name ?? implicitName(target.val as Node)) === fields[0]);
  if (outputs.length === 0) return fields;
  const columns = outputs.map((target) => (target.val as Node).ColumnRef as Node | undefined);
  if (columns.some((column) => !column)) return undefined;
  const named = columns.map((column) => columnFields(column!));
  return named.every((each) => sameColumn(each, named[0]!)) ? named[0] : undefined;
}

/** The name PostgreSQL gives an unnamed output column, where it is a column's (FigureColname): `t.x` and `t.x::text` are "x". */
function implicitName(node: Node | undefined): string | undefined {
  if (node?.ColumnRef) return columnFields(node.ColumnRef as Node).at(-1);
  const cast = node?.TypeCast as Node | undefined;
  return cast ? implicitName(cast.arg as Node) : undefined;
}

/** Two references to the same column: equal, or one unqualified with the same name (a bare ORDER BY name is resolved by sortColumn first). */
function sameColumn(a: readonly string[], b: readonly string[]): boolean {
  if (a.length === b.length) return a.every((field, i) => field === b[i]);
  return a.at(-1) === b.at(-1) && (a.length === 1 || b.length === 1);
}

function andTerms(node: Node): Node[] {
  const bool = node.BoolExpr as Node | undefined;
  if (bool?.boolop === 'AND_EXPR') return (bool.args as Node[]).flatMap(andTerms);
  return [node];
}

function flip(op: string): string {
  return ({ '<': '>', '>': '<', '<=': '>=', '>=': '<=' } as Record<string, string>)[op] ?? op;
}

/** `$n` or `$n::type`. */
function paramRef(node: Node): Node | undefined {
  if (node.ParamRef) return node.ParamRef as Node;
  const cast = node.TypeCast as Node | undefined;
  return cast ? paramRef(cast.arg as Node) : undefined;
}

function paramNumber(node: Node): number | undefined {
  return paramRef(node)?.number as number | undefined;
}

function columnFields(ref: Node): string[] {
  return (ref.fields as Node[]).map((field) => ((field.String as Node | undefined)?.sval as string | undefined) ?? '*');
}

function functionName(call: Node): string {
  return ((call.funcname as Node[]).at(-1)!.String as Node).sval as string;
}

/** Every node of `type` under `root`; without `intoSubqueries`, a subquery (SubLink, FROM subselect, CTE body) is not entered. */
function nodesOfType(root: unknown, type: string, { intoSubqueries }: { intoSubqueries: boolean }): Node[] {
  const found: Node[] = [];
  const visit = (value: unknown, key: string | undefined) => {
    if (Array.isArray(value)) {
      for (const item of value) visit(item, undefined);
      return;
    }
    if (value === null || typeof value !== 'object') return;
    if (!intoSubqueries && (key === 'subselect' || key === 'subquery' || key === 'ctequery')) return;
    for (const [k, v] of Object.entries(value)) {
      if (k === type && v !== null && typeof v === 'object' && !Array.isArray(v)) found.push(v as Node);
      visit(v, k);
    }
  };
  visit(root, undefined);
  return found;
}

/** The first `location` in a node (the parse tree's byte offset), if any. */
function locationOf(node: unknown): number | undefined {
  if (Array.isArray(node)) return node.length > 0 ? locationOf(node[0]) : undefined;
  if (node === null || typeof node !== 'object') return undefined;
  const record = node as Node;
  if (typeof record.location === 'number' && record.location >= 0) return record.location;
  for (const value of Object.values(record)) {
    const found = locationOf(value);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** A byte offset in the UTF-8 SQL as a line and column (in characters) of the file. */
function lineAndColumn(sql: string, byteOffset: number, file: string | undefined): string {
  const before = Buffer.from(sql, 'utf8').subarray(0, byteOffset).toString('utf8');
  const lines = before.split('\n');
  return `line ${lines.length}, column ${[...lines.at(-1)!].length + 1} of ${file ?? 'the report query'}`;
}
