import { createHash } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPORT_COLUMNS } from '../../src/csv/report-contract.ts';
import { expectNoSecrets, filesIn, queryFile, readReport, summaryOf } from '../support/report-files.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { createTestDatabase, sql, type TestDatabase } from '../support/test-database.ts';

// Report date 2024-10-05 in São Paulo covers [2024-10-04 00:00-03:00, 2024-10-05 00:00-03:00).
const REPORT_DATE = '2024-10-05';
const WINDOW_START = '2024-10-04T00:00:00-03:00';
const WINDOW_END = '2024-10-05T00:00:00-03:00';

const HOSTILE_NAMES: (string | null)[] = [
  'Silva, João', 'Maria "Mará" Souza', 'linha\nquebrada', 'cr\rsozinho', 'crlf\r\nno meio', '=HYPERLINK("http://x","y")',
  '+55 11 99999-0000', '-Menos', '@menção', '\tTab', '🙂 emoji 👩🏽‍💻', 'Zoë Ñuñez', 'x'.repeat(10_000), ' pontas ', '', null,
  'a;b|c', "O'Brien", '\\barra\\', 'ZWJ‍join', 'e\u0301 combinado',
];
const HOSTILE_VALUES: (string | null)[] = ['-0.01', '12345678901234.56', '-12.50', '0', '0.00000000000000000001', 'NaN', null, '99999999999999999999999999999.999999'];

const HOSTILE_QUERY = `
SELECT :extracted_at::timestamptz AS data_extracao, nome AS nome_usuario, id AS id_transacao,
       valor AS valor_transacao, status AS status_transacao
FROM hostile
WHERE criado_em >= :window_start::timestamptz AND criado_em < :window_end::timestamptz
ORDER BY id`;

describe('daily-report run', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase('run');
    await sql(db, `CREATE TABLE hostile (id bigint PRIMARY KEY, nome text, valor numeric, status varchar(20), criado_em timestamptz NOT NULL);
                   GRANT SELECT ON hostile TO report_reader`);
    // Inside the window: every hostile name and value, the window's first instant, and its last microsecond.
    const inside = HOSTILE_NAMES.map((nome, i) => ({ nome, valor: HOSTILE_VALUES[i % HOSTILE_VALUES.length]!, at: `2024-10-04T12:00:00-03:00` }));
    inside.push({ nome: 'first instant', valor: '1', at: WINDOW_START }, { nome: 'last microsecond', valor: '2', at: '2024-10-04T23:59:59.999999-03:00' });
    // Outside: the window's end (exclusive) and a microsecond before its start.
    const outside = [{ nome: 'at the end', valor: '3', at: WINDOW_END }, { nome: 'just before', valor: '4', at: '2024-10-03T23:59:59.999999-03:00' }];
    const rows = [...inside, ...outside];
    const ids = ['1', '9007199254740993', '9223372036854775807'];
    for (const [i, r] of rows.entries()) {
      await sql(db, 'INSERT INTO hostile VALUES ($1, $2, $3, $4, $5)', [ids[i] ?? String(100 + i), r.nome, r.valor, i % 5 === 0 ? '=status' : 'aprovada', r.at]);
    }
  });

  it('writes a CSV that an independent parser reads back as exactly the database rows', async () => {
    const sqlFile = await queryFile(db.outDir, 'hostile', HOSTILE_QUERY);
    const started = Date.now();
    const result = await runDailyReport(['run', '--date', REPORT_DATE], { env: { ...db.env, REPORT_SQL_FILE: sqlFile } });
    expect(result.code, result.stderr).toBe(0);
    expectNoSecrets(result);

    const expected = await sql(
      db,
      `SELECT nome, id::text AS id, valor::text AS valor, status FROM hostile WHERE criado_em >= $1 AND criado_em < $2 ORDER BY id`,
      [WINDOW_START, WINDOW_END],
    );
    const csv = await readReport(join(db.outDir, 'relatorio_20241005.csv'));
    expect(csv[0]).toEqual([...REPORT_COLUMNS]);
    const escape = (text: string | null) => (text !== null && /^[=+\-@\t\r]/.test(text) ? `'${text}` : text);
    expect(csv.slice(1).map((r) => r.slice(1))).toEqual(
      expected.rows.map((r) => [escape(r.nome), r.id, r.valor, escape(r.status)]),
    );
    // Both window edges: the first instant is in, the end is out.
    const names = csv.map((r) => r[1]);
    expect(names).toContain('first instant');
    expect(names).toContain('last microsecond');
    expect(names).not.toContain('at the end');
    expect(names).not.toContain('just before');

    // One extraction instant for every row, ISO 8601 with São Paulo's offset.
    const instants = new Set(csv.slice(1).map((r) => r[0]));
    expect(instants.size).toBe(1);
    const instant = [...instants][0] as string;
    expect(instant).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}-03:00$/);
    expect(Math.abs(Date.parse(instant) - started)).toBeLessThan(60_000);

    // RFC 4180 line ends.
    const bytes = await readFile(join(db.outDir, 'relatorio_20241005.csv'), 'utf8');
    expect(bytes.startsWith(`${REPORT_COLUMNS.join(',')}\r\n`)).toBe(true);
    expect(bytes.endsWith('\r\n')).toBe(true);

    const summary = summaryOf(result);
    expect(summary).toMatchObject({ outcome: 'published', key: 'relatorio_20241005.csv', rows: csv.length - 1, bytes: Buffer.byteLength(bytes) });
    expect(summary.window_start).toBe('2024-10-04T00:00:00.000000-03:00');
    expect(result.stdout).toBe('');
  });

  it.each([
    { REPORT_TIMEZONE: 'America/Sao_Paulo' },
    { REPORT_TIMEZONE: 'Asia/Kolkata', CSV_DELIMITER: ';', CSV_BOM: 'true' },
    { REPORT_TIMEZONE: 'UTC', CSV_ESCAPE_FORMULAS: 'false', CSV_DELIMITER: 'tab' },
  ])('writes byte-identical reports with the COPY and the cursor engines (%j)', async (settings) => {
    // data_extracao is a stored timestamptz here, so two runs can be compared byte for byte.
    const sqlFile = await queryFile(db.outDir, 'engines', HOSTILE_QUERY.replace(':extracted_at::timestamptz AS data_extracao', 'criado_em AS data_extracao'));
    const reports: Buffer[] = [];
    for (const engine of ['copy', 'cursor']) {
      const result = await runDailyReport(['run', '--dry-run', '--date', REPORT_DATE], { env: { ...db.env, ...settings, REPORT_SQL_FILE: sqlFile, REPORT_ENGINE: engine, REPORT_FETCH_ROWS: '7' } });
      expect(result.code, result.stderr).toBe(0);
      expect(result.logs.find((l) => l.phase === 'connect')?.engine).toBe(engine);
      reports.push(Buffer.from(result.stdout, 'utf8'));
    }
    expect(reports[0]!.length).toBeGreaterThan(10_000);
    expect(reports[0]!.equals(reports[1]!)).toBe(true);
  });

  it('publishes the shipped query over the application schema for the previous day', async () => {
    const app = await createTestDatabase('shipped');
    await sql(app, `INSERT INTO usuarios VALUES (1, 'Ana', NULL), (2, 'Silva, João', NULL)`);
    await sql(app, `INSERT INTO transacoes VALUES
      (10, 1, 10.50, 'aprovada', '2024-10-04T08:00:00-03:00'),
      (11, 2, -3.20, 'estornada', '2024-10-04T23:30:00-03:00'),
      (12, 1, 99.99, 'aprovada', '2024-10-05T00:00:00-03:00'),
      (13, 2, 1.00, 'pendente', '2024-10-03T23:59:00-03:00')`);
    const result = await runDailyReport(['run'], { env: { ...app.env, REPORT_DATE } });
    expect(result.code, result.stderr).toBe(0);
    const csv = await readReport(join(app.outDir, 'relatorio_20241005.csv'));
    expect(csv.slice(1).map((r) => r.slice(1))).toEqual([
      ['Ana', '10', '10.50', 'aprovada'],
      ['Silva, João', '11', '-3.20', 'estornada'],
    ]);
  });

  it('covers 25 hours on the day clocks fall back, with each timestamp at its own offset', async () => {
    const dst = await createTestDatabase('dst');
    await sql(dst, `CREATE TABLE hourly (id bigint PRIMARY KEY, criado_em timestamptz NOT NULL); GRANT SELECT ON hourly TO report_reader;
                    INSERT INTO hourly SELECT g, timestamptz '2024-10-26T12:00:00Z' + g * interval '1 hour' FROM generate_series(0, 60) g`);
    const sqlFile = await queryFile(dst.outDir, 'dst', `SELECT criado_em AS data_extracao, 'x' AS nome_usuario, id AS id_transacao, 0 AS valor_transacao, 'ok' AS status_transacao
      FROM hourly WHERE criado_em >= :window_start AND criado_em < :window_end ORDER BY id`);
    const result = await runDailyReport(['run', '--date', '2024-10-28'], { env: { ...dst.env, REPORT_SQL_FILE: sqlFile, REPORT_TIMEZONE: 'Europe/Berlin' } });
    expect(result.code, result.stderr).toBe(0);
    const times = (await readReport(join(dst.outDir, 'relatorio_20241028.csv'))).slice(1).map((r) => r[0]);
    expect(times).toHaveLength(25);
    expect(times[0]).toBe('2024-10-27T00:00:00.000000+02:00');
    expect(times).toContain('2024-10-27T02:00:00.000000+02:00');
    expect(times).toContain('2024-10-27T02:00:00.000000+01:00');
    expect(times.at(-1)).toBe('2024-10-27T23:00:00.000000+01:00');
  });

  it('publishes a header-only report for a day without rows, and says so', async () => {
    const empty = await createTestDatabase('empty');
    const result = await runDailyReport(['run', '--date', REPORT_DATE], { env: empty.env });
    expect(result.code, result.stderr).toBe(0);
    expect(await readFile(join(empty.outDir, 'relatorio_20241005.csv'), 'utf8')).toBe(`${REPORT_COLUMNS.join(',')}\r\n`);
    expect(result.logs.some((l) => l.level === 'warn' && /no rows/.test(l.msg))).toBe(true);
    expect(summaryOf(result).rows).toBe(0);
    const manifest = JSON.parse(await readFile(join(empty.outDir, 'relatorio_20241005.csv.manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({ rows: 0, key: 'relatorio_20241005.csv' });
  });

  it('honours REPORT_IF_EXISTS: overwrite replaces, skip exits 0 without touching the database, fail exits 5', async () => {
    const twice = await createTestDatabase('exists');
    const run = (env: Record<string, string>) => runDailyReport(['run', '--date', REPORT_DATE], { env: { ...twice.env, ...env } });
    expect((await run({})).code).toBe(0);
    const path = join(twice.outDir, 'relatorio_20241005.csv');
    const first = await stat(path);

    await sql(twice, `INSERT INTO usuarios VALUES (1, 'Ana', NULL); INSERT INTO transacoes VALUES (1, 1, 1.00, 'aprovada', '2024-10-04T10:00:00-03:00')`);
    const skipped = await run({ REPORT_IF_EXISTS: 'skip', PGPORT: '1' }); // an unreachable port proves no connection is tried
    expect(skipped.code, skipped.stderr).toBe(0);
    expect(summaryOf(skipped).outcome).toBe('skipped');
    expect((await stat(path)).mtimeMs).toBe(first.mtimeMs);

    const failed = await run({ REPORT_IF_EXISTS: 'fail' });
    expect(failed.code).toBe(5);
    expect(failed.logs.find((l) => l.level === 'error')?.err).toMatchObject({ class: 'ReportAlreadyPublished', exit_code: 5 });

    const overwritten = await run({ REPORT_IF_EXISTS: 'overwrite' });
    expect(overwritten.code).toBe(0);
    expect((await readReport(path)).length).toBe(2);
    expect(await filesIn(twice.outDir)).toEqual(['relatorio_20241005.csv', 'relatorio_20241005.csv.manifest.json']);
  });

  it('publishes a manifest last, describing the CSV exactly', async () => {
    const m = await createTestDatabase('manifest');
    await sql(m, `INSERT INTO usuarios VALUES (1, 'Ana', NULL); INSERT INTO transacoes VALUES (1, 1, 1.00, 'aprovada', '2024-10-04T10:00:00-03:00')`);
    const result = await runDailyReport(['run', '--date', REPORT_DATE], { env: { ...m.env, CSV_DELIMITER: ';' } });
    expect(result.code, result.stderr).toBe(0);
    const csv = await readFile(join(m.outDir, 'relatorio_20241005.csv'));
    const manifest = JSON.parse(await readFile(join(m.outDir, 'relatorio_20241005.csv.manifest.json'), 'utf8'));
    expect(Object.keys(manifest).sort()).toEqual(
      ['key', 'report_date', 'window_start', 'window_end', 'extracted_at', 'rows', 'bytes', 'sha256', 'compression', 'uncompressed_bytes', 'uncompressed_sha256', 'columns', 'delimiter', 'bom', 'query_sha256', 'version', 'run_id', 'trace_id', 'object'].sort(),
    );
    expect(manifest).toMatchObject({
      key: 'relatorio_20241005.csv',
      compression: 'none',
      uncompressed_bytes: csv.length,
      uncompressed_sha256: createHash('sha256').update(csv).digest('hex'),
      report_date: REPORT_DATE,
      window_start: '2024-10-04T00:00:00.000000-03:00',
      window_end: '2024-10-05T00:00:00.000000-03:00',
      rows: 1,
      bytes: csv.length,
      sha256: createHash('sha256').update(csv).digest('hex'),
      columns: [...REPORT_COLUMNS],
      delimiter: ';',
      bom: false,
      query_sha256: createHash('sha256').update(await readFile(new URL('../../sql/report.sql', import.meta.url))).digest('hex'),
      trace_id: null,
    });
    // The CSV's identity as the file system gives it: a consumer can tell it is this very file.
    const stats = await stat(join(m.outDir, 'relatorio_20241005.csv'), { bigint: true });
    expect(manifest.object).toEqual({
      provider: 'local',
      location: join(m.outDir, 'relatorio_20241005.csv'),
      etag: `${stats.ino}-${stats.mtimeNs}-${stats.size}`,
      version_id: null,
      inode: String(stats.ino),
      mtime_ns: String(stats.mtimeNs),
    });
    expect(manifest.extracted_at).toMatch(/-03:00$/);
    expect(manifest.run_id).toBe(result.logs[0]!.run_id);
    const phases = result.logs.map((line) => line.phase).filter(Boolean);
    expect(phases.indexOf('manifest')).toBeGreaterThan(phases.indexOf('extract'));
  });

  it('replaces a report left without its manifest (a run that died) even when told to skip', async () => {
    const orphan = await createTestDatabase('orphan');
    const path = join(orphan.outDir, 'relatorio_20241005.csv');
    await writeFile(path, 'partial,garbage\r\n');
    const result = await runDailyReport(['run', '--date', REPORT_DATE], { env: { ...orphan.env, REPORT_IF_EXISTS: 'skip' } });
    expect(result.code, result.stderr).toBe(0);
    expect(summaryOf(result).outcome).toBe('published');
    expect((await readReport(path))[0]).toEqual([...REPORT_COLUMNS]);
    expect(result.logs.some((l) => l.level === 'warn' && /without a manifest that describes it/.test(l.msg))).toBe(true);
  });

  it('writes the CSV to stdout on a dry run and publishes nothing', async () => {
    const sqlFile = await queryFile(db.outDir, 'hostile', HOSTILE_QUERY);
    const dry = await createTestDatabase('dry');
    await sql(dry, `CREATE TABLE hostile (id bigint PRIMARY KEY, nome text, valor numeric, status text, criado_em timestamptz NOT NULL);
                    GRANT SELECT ON hostile TO report_reader; INSERT INTO hostile VALUES (1, 'Ana', 1.5, 'ok', '${'2024-10-04T10:00:00-03:00'}')`);
    const result = await runDailyReport(['run', '--dry-run', '--date', REPORT_DATE], { env: { ...dry.env, REPORT_SQL_FILE: sqlFile } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^data_extracao,nome_usuario,id_transacao,valor_transacao,status_transacao\r\n[^,]+-03:00,Ana,1,1.5,ok\r\n$/);
    expect(await filesIn(dry.outDir)).toEqual([]);

    const out = join(dry.outDir, '..', `dry-${Date.now()}.csv`);
    const toFile = await runDailyReport(['run', '--dry-run', '--out', out, '--date', REPORT_DATE], { env: { ...dry.env, REPORT_SQL_FILE: sqlFile } });
    expect(toFile.code, toFile.stderr).toBe(0);
    // Same report as on stdout (the extraction instant differs between the two runs).
    expect((await readReport(out)).map((r) => r.slice(1))).toEqual([[...REPORT_COLUMNS.slice(1)], ['Ana', '1', '1.5', 'ok']]);
    expect(await filesIn(dry.outDir)).toEqual([]);
  });

  it('honours CSV_DELIMITER and CSV_BOM for spreadsheets', async () => {
    const sqlFile = await queryFile(db.outDir, 'hostile', HOSTILE_QUERY);
    const result = await runDailyReport(['run', '--dry-run', '--date', REPORT_DATE], { env: { ...db.env, REPORT_SQL_FILE: sqlFile, CSV_DELIMITER: ';', CSV_BOM: 'true' } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.startsWith('\uFEFFdata_extracao;nome_usuario;id_transacao;valor_transacao;status_transacao\r\n')).toBe(true);
    expect(result.stdout).toContain('"a;b|c"');
  });
});
