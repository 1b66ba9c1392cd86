import { parse } from 'csv-parse/sync';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
// = + - @ tab CR: written here rather than imported, so the test also runs against older code.
const FORMULA_FIRST_CODES = [61, 43, 45, 64, 9, 13];
import { errorOf, filesIn, queryFile } from '../support/report-files.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { createTestDatabase, sql, type TestDatabase } from '../support/test-database.ts';
import { seededRandom } from '../support/seeded-random.ts';

/**
 * Property test: rows of every supported type, generated from a seed (PROPERTY_SEED to replay one),
 * through both engines. The two reports must be the same bytes, and an independent CSV parser must
 * read back exactly what the database holds: the text types' own output (with the formula guard),
 * timestamps that PostgreSQL reads back as the stored instant, everything else verbatim.
 */
const SEED = Number(process.env.PROPERTY_SEED ?? 20241005);
const ROWS = 400;
const REPORT_DATE = '2024-10-05';
const ZONES = ['America/Sao_Paulo', 'Asia/Kolkata', 'Pacific/Apia'];

const random = seededRandom;

const ALPHABET = [...'ab Z09,;|\t"\'\r\n\\.=+-@é🙂', 'e\u0301', '\u200d', 'ção'];
const COLUMNS: Record<string, string> = {
  ts: 'timestamptz', ts2: 'timestamp', tstz2: 'timestamptz', t: 'text', vc: 'varchar(40)', bp: 'char(6)', nm: 'name', ci: 'citext', en: 'mood',
  dom: 'dtext', num: 'numeric', i8: 'bigint', f8: 'float8', bool: 'boolean', dt: 'date', iv: 'interval', js: 'jsonb', arr: 'text[]', uu: 'uuid',
};
/** Query shapes: each type in some contract slot; first columns that are and are not timestamps. */
const SHAPES = [
  ['ts', 't', 'i8', 'num', 'vc'],
  ['ts2', 'bp', 'nm', 'f8', 'ci'],
  ['tstz2', 'en', 'dom', 'iv', 'ts'],
  ['t', 'ts2', 'bool', 'dt', 'js'],
  ['ci', 'arr', 'uu', 'tstz2', 'en'],
];
const CONTRACT = ['data_extracao', 'nome_usuario', 'id_transacao', 'valor_transacao', 'status_transacao'];

function generateRows(next: () => number) {
  const pick = <T,>(list: readonly T[]) => list[Math.floor(next() * list.length)]!;
  const chance = (p: number) => next() < p;
  const text = (max = 16): string | null => {
    if (chance(0.08)) return null;
    if (chance(0.05)) return '';
    if (chance(0.04)) return '\\.';
    if (chance(0.01)) return pick(ALPHABET).repeat(70_000 + Math.floor(next() * 70_000)); // past the encoder's chunk size
    let s = '';
    const length = Math.floor(next() * max);
    for (let i = 0; i < length; i++) s += pick(ALPHABET);
    return s;
  };
  const name = () => {
    const t = text(10);
    return t === null ? null : t.replaceAll('\u0000', '').slice(0, 20);
  };
  const instant = (): string | null => {
    if (chance(0.05)) return null;
    if (chance(0.03)) return pick(['infinity', '-infinity']);
    // Years 0001–9999 with extra weight on local mean time, daylight-saving edges and today.
    const year = chance(0.3) ? 1 + Math.floor(next() * 9998) : chance(0.5) ? 1890 + Math.floor(next() * 40) : 2010 + Math.floor(next() * 20);
    const ms = Date.UTC(2000, 0, 1) + Math.floor(next() * 366 * 86_400_000);
    const d = new Date(ms);
    d.setUTCFullYear(year === 1 ? 2 : year === 9999 ? 9998 : year);
    const iso = d.toISOString().replace(/^\+0*|\.\d{3}Z$/g, '').padStart(19, '0');
    const micros = chance(0.3) ? '' : `.${String(Math.floor(next() * 1e6)).padStart(6, '0').replace(/0+$/, '')}`;
    return `${iso}${micros === '.' ? '' : micros}+00`;
  };
  const numeric = () => (chance(0.1) ? null : pick(['-0.01', '12345678901234.56', '-12.50', '0', 'NaN', '1e-20', String((next() - 0.5) * 1e6)]));
  return Array.from({ length: ROWS }, (_, i) => ({
    ts: instant(), ts2: instant(), tstz2: instant(), t: text(), vc: text(12)?.slice(0, 40) ?? null, bp: name()?.slice(0, 6) ?? null, nm: name(),
    ci: text(), en: chance(0.1) ? null : pick(['=cmd', '+1', 'ok', '-neg', '@at', 'a,b', '"q"']), dom: text(),
    num: numeric(), i8: String(BigInt(Math.floor((next() - 0.5) * 2 ** 53)) * 1024n), f8: chance(0.1) ? null : pick(['-1.5', '1e300', '-0', 'Infinity', String(next())]),
    bool: chance(0.1) ? null : pick(['t', 'f']), dt: chance(0.1) ? null : pick(['2024-02-29', '0001-01-01', '9999-12-31', 'infinity', '0044-03-15 BC', '12345-01-01']),
    iv: chance(0.1) ? null : pick(['-1 days', '1 year 2 mons', '00:00:00.000001', '-1000 years']),
    js: chance(0.1) ? null : JSON.stringify(pick([{ a: '=x' }, -1, '=HYPERLINK("x")', [1, '\n'], null])),
    arr: chance(0.1) ? null : `{${JSON.stringify(text(5) ?? '')},NULL}`, uu: chance(0.1) ? null : '0e8d3f8c-5a34-4a8a-9c43-7c1f0f3b1e29',
  }));
}

describe('the COPY and the cursor engines', () => {
  let db: TestDatabase;
  let rows: ReturnType<typeof generateRows>;

  beforeAll(async () => {
    db = await createTestDatabase('engines');
    await sql(db, `CREATE EXTENSION IF NOT EXISTS citext; CREATE TYPE mood AS ENUM ('=cmd', '+1', 'ok', '-neg', '@at', 'a,b', '"q"'); CREATE DOMAIN dtext AS text`);
    await sql(db, `CREATE TABLE props (id bigint PRIMARY KEY, ${Object.entries(COLUMNS).map(([c, t]) => `${c} ${t}`).join(', ')}); GRANT SELECT ON props TO report_reader`);
    rows = generateRows(random(SEED));
    const names = Object.keys(COLUMNS);
    const client = await db.admin();
    try {
      for (const [i, row] of rows.entries()) {
        const values = names.map((c) => (row as Record<string, string | null>)[c] ?? null);
        await client.query(`INSERT INTO props VALUES ($1, ${names.map((c, j) => `$${j + 2}::${COLUMNS[c]}`).join(', ')})`, [i + 1, ...values]);
      }
    } finally {
      await client.end();
    }
  });

  it.each(SHAPES.flatMap((shape, i): { shape: string[]; settings: Record<string, string> }[] => [
    { shape, settings: { REPORT_TIMEZONE: ZONES[i % ZONES.length]! } },
    { shape, settings: { REPORT_TIMEZONE: ZONES[(i + 1) % ZONES.length]!, CSV_DELIMITER: i % 2 ? ';' : 'tab', CSV_ESCAPE_FORMULAS: i % 2 ? 'true' : 'false' } },
  ]))(`write the same bytes, which read back as the database's values, for generated rows (seed ${SEED}): %j`, async ({ shape, settings }) => {
    const select = shape.map((column, i) => `${column} AS ${CONTRACT[i]}`).join(', ');
    const sqlFile = await queryFile(db.outDir, 'props', `SELECT ${select} FROM props ORDER BY id`);
    const reports: Buffer[] = [];
    for (const engine of ['copy', 'cursor']) {
      const result = await runDailyReport(['run', '--dry-run', '--date', REPORT_DATE], { env: { ...db.env, ...settings, REPORT_SQL_FILE: sqlFile, REPORT_ENGINE: engine, REPORT_FETCH_ROWS: '37' } });
      expect(result.code, result.stderr.slice(-3000)).toBe(0);
      reports.push(Buffer.from(result.stdout, 'utf8'));
    }
    expect(reports[0]!.length).toBeGreaterThan(ROWS * 20);
    expect(reports[1]!.equals(reports[0]!), 'the cursor engine wrote other bytes than COPY').toBe(true);

    const delimiter = settings.CSV_DELIMITER === 'tab' ? '\t' : (settings.CSV_DELIMITER ?? ',');
    const zone = settings.REPORT_TIMEZONE!;
    const guard = settings.CSV_ESCAPE_FORMULAS !== 'false';
    const csv: (string | null)[][] = parse(reports[0]!, { delimiter, cast: (value, context) => (value === '' && !context.quoting ? null : value), relaxQuotes: false });
    expect(csv[0]).toEqual(CONTRACT);
    const records = csv.slice(1);
    expect(records).toHaveLength(ROWS);

    // The database's own text for every value, as the session of the run writes it.
    const expected = await rawText(db, zone, `SELECT id, ${shape.join(', ')} FROM props ORDER BY id`);
    for (const [slot, column] of shape.entries()) {
      const type = COLUMNS[column]!;
      const written = records.map((r) => r[slot]!);
      const stored = expected.map((r) => r[slot + 1]!);
      if (type === 'timestamptz' || type === 'timestamp') {
        for (const value of written) if (value !== null && !/infinity/.test(value)) expect(value).toMatch(type === 'timestamptz' ? /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d(:\d\d)?$/ : /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
        // PostgreSQL reads every written timestamp back as the stored one, to the microsecond.
        const differ = await rawText(db, zone,
          `SELECT c.id FROM unnest($1::bigint[], $2::text[]) AS c(id, v) JOIN props p USING (id) WHERE c.v::${type} IS DISTINCT FROM p.${column}`,
          [expected.map((r) => r[0]), written]);
        expect(differ, `${column}: written timestamps that are not the stored ones`).toEqual([]);
      } else {
        const guarded = guard && ['text', 'varchar(40)', 'char(6)', 'name', 'citext', 'mood', 'dtext'].includes(type);
        const escape = (v: string | null) => (v !== null && guarded && FORMULA_FIRST_CODES.includes(v.charCodeAt(0)) ? `'${v}` : v);
        expect(written, `${column} (${type})`).toEqual(stored.map(escape));
      }
    }
  });

  it('stop with exit 3 naming the column and the row for a BC or 5-digit-year timestamp, and publish nothing', async () => {
    const bad = await createTestDatabase('engines_range');
    await sql(bad, `CREATE TABLE t (id int, a timestamptz, b timestamp); GRANT SELECT ON t TO report_reader;
      INSERT INTO t VALUES (1, '2024-10-04 10:00-03', '2024-10-04 10:00'), (2, '2024-10-04 10:00-03', '2024-10-04 10:00'), (3, '0044-03-15 12:00 BC', '12345-06-01 09:00')`);
    const contract = (first: string, valor: string, status: string) => `SELECT ${first} AS data_extracao, 'x' AS nome_usuario, id AS id_transacao, ${valor} AS valor_transacao, ${status} AS status_transacao FROM t ORDER BY id`;
    const cases = [
      // The first column: the COPY engine's record scanner; the others: the SQL it generates.
      { query: contract('a', '1', "'ok'"), column: 'data_extracao' },
      { query: contract('now()', '1', 'b'), column: 'status_transacao' },
      { query: contract('now()', 'a', "'ok'"), column: 'valor_transacao' },
    ];
    for (const { query, column } of cases) {
      const sqlFile = await queryFile(bad.outDir, 'range', query);
      for (const engine of ['copy', 'cursor']) {
        const result = await runDailyReport(['run', '--date', REPORT_DATE], { env: { ...bad.env, REPORT_SQL_FILE: sqlFile, REPORT_ENGINE: engine, REPORT_FETCH_ROWS: '2' } });
        expect(result.code, `${engine}: ${result.stderr.slice(-2000)}`).toBe(3);
        expect(errorOf(result).err).toMatchObject({ class: 'ReportDataIsInvalid', exit_code: 3 });
        expect(errorOf(result).err.message, engine).toMatch(new RegExp(`^row 3, column ${column}: the timestamp .*(BC|12345).* is outside years 0001–9999`));
        expect(await filesIn(bad.outDir)).toEqual([]);
      }
    }
  });

  it('guard string-category columns (citext, enum, domains, char(n)) in both engines, and validate says which and why', async () => {
    const g = await createTestDatabase('engines_guard');
    await sql(g, `CREATE EXTENSION IF NOT EXISTS citext; CREATE TYPE st AS ENUM ('=cmd', 'ok'); CREATE DOMAIN dci AS citext; CREATE DOMAIN dtext AS text;
      CREATE TABLE g (id int, c citext, e st, d dci, t dtext, p char(8)); GRANT SELECT ON g TO report_reader;
      INSERT INTO g VALUES (1, '=HYPERLINK("http://x","y")', '=cmd', '+1', '@SUM(A1)', '-2'), (2, 'ok', 'ok', 'ok', 'ok', 'ok')`);
    const query = `SELECT t AS data_extracao, c AS nome_usuario, d AS id_transacao, p AS valor_transacao, e AS status_transacao FROM g ORDER BY id`;
    const sqlFile = await queryFile(g.outDir, 'guard', query);
    const outputs: string[] = [];
    for (const engine of ['copy', 'cursor']) {
      const result = await runDailyReport(['run', '--dry-run', '--date', REPORT_DATE], { env: { ...g.env, REPORT_SQL_FILE: sqlFile, REPORT_ENGINE: engine } });
      expect(result.code, result.stderr).toBe(0);
      outputs.push(result.stdout);
    }
    expect(outputs[1]).toBe(outputs[0]);
    const [, first, second] = parse(outputs[0]!) as string[][];
    // char(n) keeps its padding, as PostgreSQL writes it.
    expect(first).toEqual(["'@SUM(A1)", `'=HYPERLINK("http://x","y")`, "'+1", "'-2      ", "'=cmd"]);
    expect(second).toEqual(['ok', 'ok', 'ok', 'ok      ', 'ok']);

    const validate = await runDailyReport(['validate'], { env: { ...g.env, REPORT_SQL_FILE: sqlFile } });
    expect(validate.code, validate.stderr).toBe(0);
    expect(validate.stdout).toMatch(/data_extracao\s+text\s+guarded text \(category S, string\)/); // a domain over text
    expect(validate.stdout).toMatch(/nome_usuario\s+citext\s+guarded text \(category S, string\)/);
    expect(validate.stdout).toMatch(/valor_transacao\s+character\s+guarded text \(category S, string\)/);
    expect(validate.stdout).toMatch(/id_transacao\s+citext\s+guarded text \(category S, string\)/); // a domain over citext: RowDescription names its base type
    expect(validate.stdout).toMatch(/status_transacao\s+st\s+guarded text \(category E, enum\)/);
  });

  it('guard xml and refcursor columns (category U, free text) in both engines, and validate says so', async () => {
    const g = await createTestDatabase('engines_guard_xml');
    await sql(g, `CREATE DOMAIN dxml AS xml;
      CREATE TABLE gx (id int, x xml, r refcursor, d dxml); GRANT SELECT ON gx TO report_reader;
      INSERT INTO gx VALUES (1, xmlparse(content '=HYPERLINK("http://evil.invalid","x")'), '@SUM(1+1)*cmd', xmlparse(content '+1')),
                            (2, xmlparse(content '<a>=b</a>'), 'ok', xmlparse(content 'ok'))`);
    const query = `SELECT :extracted_at::timestamptz AS data_extracao, x AS nome_usuario, d AS id_transacao, id AS valor_transacao, r AS status_transacao FROM gx ORDER BY id`;
    const sqlFile = await queryFile(g.outDir, 'guard-xml', query);
    const outputs: string[] = [];
    for (const engine of ['copy', 'cursor']) {
      const result = await runDailyReport(['run', '--dry-run', '--date', REPORT_DATE], { env: { ...g.env, REPORT_SQL_FILE: sqlFile, REPORT_ENGINE: engine } });
      expect(result.code, result.stderr).toBe(0);
      outputs.push(result.stdout.replace(/^[^,\r\n]*,/gm, 'T,'));
    }
    expect(outputs[1]).toBe(outputs[0]);
    const [, first, second] = parse(outputs[0]!) as string[][];
    expect(first!.slice(1)).toEqual([`'=HYPERLINK("http://evil.invalid","x")`, "'+1", '1', "'@SUM(1+1)*cmd"]);
    expect(second!.slice(1)).toEqual(['<a>=b</a>', 'ok', '2', 'ok']);

    const validate = await runDailyReport(['validate'], { env: { ...g.env, REPORT_SQL_FILE: sqlFile } });
    expect(validate.code, validate.stderr).toBe(0);
    expect(validate.stdout).toMatch(/nome_usuario\s+xml\s+guarded text \(xml, free text\)/);
    expect(validate.stdout).toMatch(/id_transacao\s+xml\s+guarded text \(xml, free text\)/); // a domain over xml
    expect(validate.stdout).toMatch(/status_transacao\s+refcursor\s+guarded text \(refcursor, free text\)/);
  });
});

/** Rows of PostgreSQL's own text output for every column (no parsing), in the report's zone. */
async function rawText(db: TestDatabase, zone: string, text: string, values: unknown[] = []): Promise<(string | null)[][]> {
  const client = new pg.Client({ host: db.endpoint.host, port: db.endpoint.port, user: db.endpoint.user, password: db.endpoint.password, database: db.name });
  await client.connect();
  try {
    await client.query(`SET TimeZone = '${zone}'; SET DateStyle = 'ISO, YMD'`);
    const result = await client.query({ text, values, rowMode: 'array', types: { getTypeParser: () => (value: string) => value } });
    return result.rows as (string | null)[][];
  } finally {
    await client.end();
  }
}
