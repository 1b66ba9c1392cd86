import type pg from 'pg';
import type { ReportQuery, SubWindow } from './report-source.ts';
import { equalWidthBoundaries, tileWindow } from './shard-plan.ts';

/**
 * The query's window cut into at most `shards` consecutive sub-windows, planned inside the
 * coordinator's snapshot (so the plan sees the rows the workers will read).
 */
export async function planShards(_client: pg.Client, query: ReportQuery, shards: number): Promise<SubWindow[]> {
  const window = { start: query.values.window_start, end: query.values.window_end };
  if (shards === 1) return [window];
  return tileWindow(window, equalWidthBoundaries(window, shards));
}
