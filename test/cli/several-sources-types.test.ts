import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { sourcesEnvironment } from '../support/source-files.ts';
import { createTestDatabase, READER_PASSWORD, sql, type TestDatabase } from '../support/test-database.ts';

/**
 * validate refuses (exit 3) sources whose report columns have different types — "the report is
 * one CSV" (validate-command.ts, typeDisagreement): numeric in one, double precision in another
 * write one column in two forms. The run must refuse the same configuration, before any byte.
 */
let eu: TestDatabase;
let us: TestDatabase;
beforeAll(async () => {
  const data = { users: 10, days: 1, until: "'2024-10-05 00:00:00-03'::timestamptz", transactions: 30 };
  eu = await createTestDatabase('types_eu', data);
  us = await createTestDatabase('types_us', data);
  await sql(us, 'ALTER TABLE transacoes ALTER COLUMN valor TYPE double precision');
});

describe('two sources whose valor_transacao differ in type (numeric and double precision)', () => {
  it.each([['validate'], ['run', '--date', '2024-10-05']])('%s: exits 3 naming the column, publishing nothing', async (...args) => {
    const { host, port } = eu.endpoint;
    const services = [{ name: 'eu', host, port, dbname: eu.name }, { name: 'us', host, port, dbname: us.name }];
    const env = await sourcesEnvironment(eu.env, join(eu.outDir, '..'), services, { user: 'report_reader', password: READER_PASSWORD });
    const result = await runDailyReport(args, { env });
    expect(result.code, result.stdout.slice(-1000) + result.stderr.slice(-1500)).toBe(ExitCode.badData);
    expect(result.stdout + result.stderr).toMatch(/valor_transacao is numeric in .* but double precision in/);
    expect((await readdir(eu.outDir)).filter((name) => !name.startsWith('.'))).toEqual([]);
  });
});
