import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { withLiteralValues } from '../../src/extract/named-parameters.ts';
import { reportWindow } from '../../src/report/report-window.ts';
import { createTestDatabase, sql } from '../support/test-database.ts';

const REPORT_SQL = new URL('../../sql/report.sql', import.meta.url);

describe('the report query as PostgreSQL plans it', () => {
  it("is planned for the real window: the planner's row estimate follows the day's rows", async () => {
    // 20,000 transactions over four days: the report's day holds about a quarter of them. A query
    // whose values the planner cannot see is estimated at 0.5 % of the table (100 rows) instead.
    const db = await createTestDatabase('plan', { users: 500, transactions: 20_000, days: 4, until: "'2024-10-07T00:00:00-03:00'::timestamptz" });
    const window = reportWindow('2024-10-05', 'America/Sao_Paulo');
    const query = withLiteralValues(await readFile(REPORT_SQL, 'utf8'), {
      report_date: window.reportDate,
      window_start: window.start,
      window_end: window.end,
      extracted_at: '2024-10-05T04:00:00.000Z',
    });

    const actual = Number((await sql(db, `SELECT count(*) FROM (${query}) AS report`)).rows[0].count);
    const [{ 'QUERY PLAN': [plan] }] = (await sql(db, `EXPLAIN (FORMAT JSON) ${query}`)).rows;

    expect(actual).toBeGreaterThan(4_000);
    expect(plan.Plan['Plan Rows']).toBeGreaterThan(actual / 2);
    expect(plan.Plan['Plan Rows']).toBeLessThan(actual * 2);
  });
});
