import type pg from 'pg';
import { withLiteralValues } from './named-parameters.ts';
import type { WindowColumn } from './query-splittability.ts';
import type { ReportQuery, SubWindow } from './report-source.ts';
import { equalWidthBoundaries, shardFractions, tileWindow } from './shard-plan.ts';

/**
 * Up to this many rows in the window (the planner's estimate), the percentiles are exact; above,
 * they come from a random sample of about SAMPLE_ROWS of the window's rows. Measured on this
 * machine (PostgreSQL 17, 2M rows in the window, docs/parallel-extraction.md): exact 0.47–0.61 s,
 * sampled 0.16–0.37 s (one scan of the window's rows, no sort of them), against 7–9 s for the
 * full COPY of the shipped query; 8 sampled shards held 244k–257k rows each (1/8 is 250k).
 */
const EXACT_UP_TO_ROWS = 200_000;
const SAMPLE_ROWS = 50_000;
const SAVEPOINT = 'daily_report_plan';

export type PlanMethod = 'whole window' | 'percentiles' | 'sampled percentiles' | 'equal width';

export interface ShardPlan {
  readonly shards: SubWindow[];
  readonly method: PlanMethod;
  /** Why the percentiles were not used, when they were not. */
  readonly fallback?: string;
}

/**
 * The query's window cut into at most `shards` consecutive sub-windows of similar row counts,
 * planned inside the coordinator's snapshot (so the plan sees the rows the workers will read):
 * the window column's percentiles 1/n … (n−1)/n over its table, restricted to the window. When
 * the column's table cannot be told from the query (a CTE, a subquery, an unqualified column
 * over a join) or is not a table, equal lengths of time.
 */
export async function planShards(client: pg.Client, query: ReportQuery, shards: number, column: WindowColumn | undefined): Promise<ShardPlan> {
  const window = { start: query.values.window_start, end: query.values.window_end };
  if (shards === 1) return { shards: [window], method: 'whole window' };
  const equalWidth = (fallback: string): ShardPlan => ({ shards: tileWindow(window, equalWidthBoundaries(window, shards)), method: 'equal width', fallback });
  if (!column?.table) return equalWidth('the window column\'s table cannot be told from the query');

  const table = `${column.table.schema ? `${quoteIdentifier(column.table.schema)}.` : ''}${quoteIdentifier(column.table.name)}`;
  const value = quoteIdentifier(column.fields.at(-1)!);
  // The values as the query takes them (named-parameters.ts checks each one's form).
  const inWindow = withLiteralValues(`${value} >= :window_start AND ${value} < :window_end`, query.values);
  // A failed planning query must not end the transaction whose snapshot the workers import.
  await client.query(`SAVEPOINT ${SAVEPOINT}`);
  try {
    const { rows: kinds } = await client.query<{ kind: string | null }>('SELECT (SELECT relkind::text FROM pg_catalog.pg_class WHERE oid = to_regclass($1)) AS kind', [table]);
    if (!['r', 'p', 'm'].includes(kinds[0]?.kind ?? '')) {
      await client.query(`RELEASE SAVEPOINT ${SAVEPOINT}`);
      return equalWidth(`${table} is not a table`);
    }
    const { rows: [explained] } = await client.query<{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] }>(`EXPLAIN (FORMAT JSON) SELECT 1 FROM ${table} WHERE ${inWindow}`);
    const estimate = explained!['QUERY PLAN'][0].Plan['Plan Rows'];
    const sampled = estimate > EXACT_UP_TO_ROWS;
    const sample = sampled ? ` AND random() < ${(SAMPLE_ROWS / estimate).toFixed(8)}` : '';
    const { rows } = await client.query<{ boundary: string }>(
      `SELECT to_char(b::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS boundary
       FROM unnest((SELECT percentile_disc($1::float8[]) WITHIN GROUP (ORDER BY ${value}) FROM ${table} WHERE ${inWindow}${sample})) AS b
       WHERE b IS NOT NULL`,
      [shardFractions(shards)],
    );
    await client.query(`RELEASE SAVEPOINT ${SAVEPOINT}`);
    return { shards: tileWindow(window, rows.map((row) => row.boundary)), method: sampled ? 'sampled percentiles' : 'percentiles' };
  } catch (error) {
    await client.query(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}`);
    return equalWidth(`the percentile query failed: ${(error as Error).message}`);
  }
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
