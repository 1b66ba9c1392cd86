import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SQL_FILE } from '../../src/report/report-settings.ts';
import { errorOf, filesIn, queryFile } from '../support/report-files.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { createTestDatabase, sql } from '../support/test-database.ts';

describe('daily-report validate', () => {
  it('connects, describes the shipped query without running it, and finds the contract satisfied', async () => {
    const db = await createTestDatabase('validate');
    const result = await runDailyReport(['validate'], { env: db.env });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`database: 127.0.0.1:${db.endpoint.port}/${db.name}`);
    expect(result.stdout).toMatch(/data_extracao\s+timestamptz\s+timestamptz\s+ok/);
    expect(result.stdout).toMatch(/id_transacao\s+bigint\s+verbatim\s+ok/);
    expect(result.stdout).toMatch(/valor_transacao\s+numeric\s+verbatim\s+ok/);
    expect(result.stdout).toMatch(/nome_usuario\s+text\s+guarded text \(category S, string\)\s+ok/);
    expect(result.stdout).toMatch(/contract: ok/);
    expect(await filesIn(db.outDir)).toEqual([]);
  });

  it('reads no rows: a query that would fail on its first row still validates', async () => {
    const db = await createTestDatabase('validate_norows');
    const sqlFile = await queryFile(db.outDir, 'boom', `SELECT now() AS data_extracao, 'x' AS nome_usuario, g AS id_transacao,
      (1 / (g - g))::numeric AS valor_transacao, 'ok' AS status_transacao FROM generate_series(1, 10) g`);
    const result = await runDailyReport(['validate'], { env: { ...db.env, REPORT_SQL_FILE: sqlFile } });
    expect(result.code, result.stderr).toBe(0);
  });

  it('with REPORT_PARALLELISM > 1, checks as the run will that the query splits: the shipped query passes, one with LIMIT exits 2 naming it', async () => {
    const db = await createTestDatabase('validate_parallel');
    const ok = await runDailyReport(['validate'], { env: { ...db.env, REPORT_PARALLELISM: '4' } });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/contract: ok/);
    const limited = await queryFile(db.outDir, 'limited', `${await readShippedQuery()}\nLIMIT 10`);
    const refused = await runDailyReport(['validate'], { env: { ...db.env, REPORT_PARALLELISM: '4', REPORT_SQL_FILE: limited } });
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stdout).toMatch(/FAILED \(exit 2\) — .*LIMIT/);
    // The same query is fine for a single stream.
    expect((await runDailyReport(['validate'], { env: { ...db.env, REPORT_SQL_FILE: limited } })).code).toBe(0);
  });

  it('shows what it found and exits 3 when the columns break the contract', async () => {
    const db = await createTestDatabase('validate_bad');
    const sqlFile = await queryFile(db.outDir, 'bad', `SELECT now() AS data_extracao, 'x' AS nome, 1 AS id_transacao, 1.5 AS valor_transacao, 'ok' AS status_transacao`);
    const result = await runDailyReport(['validate'], { env: { ...db.env, REPORT_SQL_FILE: sqlFile } });
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(/nome\s+text\s+guarded text \(category S, string\)\s+unexpected/);
    expect(result.stdout).toMatch(/contract: VIOLATED — .*missing nome_usuario; unexpected nome/);
    expect(errorOf(result).err).toMatchObject({ class: 'ReportContractViolated', exit_code: 3 });
  });

  it('takes a query file saved with a UTF-8 BOM (Notepad, "UTF-8 with BOM") and points errors at the columns the editor shows', async () => {
    const db = await createTestDatabase('validate_bom');
    const good = await queryFile(db.outDir, 'bom', `\uFEFFSELECT now() AS data_extracao, 'x' AS nome_usuario, 1 AS id_transacao, 1.5 AS valor_transacao, 'ok' AS status_transacao`);
    const ok = await runDailyReport(['validate'], { env: { ...db.env, REPORT_SQL_FILE: good } });
    expect(ok.code, ok.stderr).toBe(0);
    const typo = await queryFile(db.outDir, 'bom_typo', `\uFEFFSELECT now() AS data_extracao, 'x' AS nome_usuario, 1 AS id_transacao, 1.5 AS valor_transacao, nope AS status_transacao`);
    const failed = await runDailyReport(['validate'], { env: { ...db.env, REPORT_SQL_FILE: typo } });
    expect(failed.code).toBe(2);
    expect(errorOf(failed).err.message).toContain('at line 1, column 96 of');
  });

  it('exits 3 on a data error PostgreSQL raises while planning, naming its line and column in the file', async () => {
    const db = await createTestDatabase('validate_cast');
    const sqlFile = await queryFile(db.outDir, 'cast', `SELECT now() AS data_extracao, 'x' AS nome_usuario, 1 AS id_transacao, 1.5 AS valor_transacao,
  'ok' AS status_transacao WHERE 1 = 'a' + 1`);
    const result = await runDailyReport(['validate'], { env: { ...db.env, REPORT_SQL_FILE: sqlFile } });
    expect(result.code).toBe(3);
    expect(errorOf(result).err.message).toMatch(/^the database raised a data error on the report query at line 2, column 38 of .*invalid input syntax for type integer: "a"/);
  });

  it('exits 4 when the role may not read a table the query uses', async () => {
    const db = await createTestDatabase('validate_denied');
    await sql(db, 'CREATE TABLE segredo (id int)');
    const sqlFile = await queryFile(db.outDir, 'denied', `SELECT now() AS data_extracao, 'x' AS nome_usuario, id AS id_transacao, 1 AS valor_transacao, 'ok' AS status_transacao FROM segredo`);
    const result = await runDailyReport(['validate'], { env: { ...db.env, REPORT_SQL_FILE: sqlFile } });
    expect(result.code).toBe(4);
  });
});

const readShippedQuery = () => readFile(DEFAULT_SQL_FILE, 'utf8');
