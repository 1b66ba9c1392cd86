import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../../src/errors.ts';
import { expectRefusedBeforeAnyIo } from '../support/refused-run.ts';
import { errorOf, expectNoSecrets, filesIn, queryFile } from '../support/report-files.ts';
import { runDailyReport } from '../support/run-cli.ts';
import { createTestDatabase, READER_PASSWORD, sql, type TestDatabase } from '../support/test-database.ts';

/**
 * Several source databases through libpq's own files: two databases on the test server with
 * different rows, a pg_service.conf naming them and a pgpass holding the reader's password
 * (the server authenticates every role by password).
 */
const REPORT_DATE = '2024-10-05';
// The rows of 2024-10-04 in São Paulo; the query writes the row's own instant as data_extracao, so
// two runs of one database give the same bytes (the shipped query writes the extraction instant).
const DATA = { users: 40, days: 1, until: "'2024-10-05 00:00:00-03'::timestamptz" };
const DETERMINISTIC_QUERY = `SELECT t.criado_em AS data_extracao, u.nome AS nome_usuario, t.id AS id_transacao, t.valor AS valor_transacao, t.status AS status_transacao
FROM transacoes t JOIN usuarios u ON u.id = t.usuario_id
WHERE t.criado_em >= :window_start AND t.criado_em < :window_end ORDER BY t.criado_em, t.id`;

let eu: TestDatabase;
let us: TestDatabase;

beforeAll(async () => {
  // One after the other: each sets the reader's password, and two concurrent ALTER ROLE can collide.
  eu = await createTestDatabase('src_eu', { ...DATA, transactions: 120 });
  us = await createTestDatabase('src_us', { ...DATA, transactions: 70 });
  // Different rows, so the order of the sources shows in the report.
  await sql(us, "UPDATE usuarios SET nome = 'US ' || nome");
});

interface Files {
  readonly services: string;
  readonly pgpass: string;
}

/** pg_service.conf with [eu] and [us] on the test server, and a 0600 pgpass with the reader's password (or the one given). */
async function sourceFiles(db: TestDatabase, passwords: { eu?: string; us?: string } = {}): Promise<Files> {
  const { host, port } = db.endpoint;
  const services = join(db.outDir, '..', `pg_service-${Math.random().toString(36).slice(2)}.conf`);
  await writeFile(services, ['# the two regions', '[eu]', `host=${host}`, `port=${port}`, `dbname=${eu.name}`, 'user=report_reader', '', '[us]', `host=${host}`, `port=${port}`, `dbname=${us.name}`, 'user=report_reader', ''].join('\n'));
  const pgpass = join(db.outDir, '..', `pgpass-${Math.random().toString(36).slice(2)}`);
  await writeFile(pgpass, [`${host}:${port}:${us.name}:report_reader:${passwords.us ?? READER_PASSWORD}`, `${host}:${port}:${eu.name}:report_reader:${passwords.eu ?? READER_PASSWORD}`, ''].join('\n'), { mode: 0o600 });
  return { services, pgpass };
}

/** The environment of a deployment reading REPORT_SOURCES: no PG* connection variable at all. */
function sourcesEnv(db: TestDatabase, files: Files, sources: string): Record<string, string> {
  const { PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, ...rest } = db.env;
  return { ...rest, REPORT_SOURCES: sources, PGSERVICEFILE: files.services, PGPASSFILE: files.pgpass };
}

describe('daily-report validate with several sources', () => {
  it('connects to every source through pg_service.conf and pgpass, and prints each one with its columns and verdict', async () => {
    const files = await sourceFiles(eu);
    const result = await runDailyReport(['validate'], { env: sourcesEnv(eu, files, 'eu,us') });
    expect(result.code, result.stderr).toBe(0);
    const { port } = eu.endpoint;
    expect(result.stdout).toContain(`database: 127.0.0.1:${port}/${eu.name} (service eu)\nquery: `);
    expect(result.stdout).toContain(`database: 127.0.0.1:${port}/${us.name} (service us)\nquery: `);
    expect(result.stdout.match(/^contract: ok$/gm)).toHaveLength(2);
    expect(result.stdout.indexOf('(service eu)')).toBeLessThan(result.stdout.indexOf('(service us)'));
    expectNoSecrets(result);
  });

  it('exits 4 when the pgpass password of one source is wrong, naming that source, and still prints the other as checked', async () => {
    const files = await sourceFiles(eu, { us: 'wrong-Password-77' });
    const result = await runDailyReport(['validate'], { env: sourcesEnv(eu, files, 'eu,us') });
    expect(result.code, result.stderr).toBe(ExitCode.accessDenied);
    expect(errorOf(result).err.message).toMatch(new RegExp(`^database 127\\.0\\.0\\.1:\\d+/${us.name} \\(service us\\) refused user "report_reader": password authentication failed.*PGPASSFILE`));
    expect(result.stdout).toMatch(/\(service eu\)\nquery: [^\n]+\n[\s\S]*contract: ok/);
    expect(result.stdout).toMatch(/database: [^\n]+ \(service us\): FAILED \(exit 4\)/);
    expect(result.stdout + result.stderr).not.toContain('wrong-Password-77');
    expectNoSecrets(result);
  });

  it('exits 4 when pgpass has no line for a source, saying which line to add', async () => {
    const files = await sourceFiles(eu);
    await writeFile(files.pgpass, `${eu.endpoint.host}:${eu.endpoint.port}:${eu.name}:report_reader:${READER_PASSWORD}\n`);
    const result = await runDailyReport(['validate'], { env: sourcesEnv(eu, files, 'eu,us') });
    expect(result.code, result.stderr).toBe(ExitCode.accessDenied);
    expect(errorOf(result).err.message).toMatch(/^database [^ ]+ \(service us\) refused user "report_reader": /);
    expect(errorOf(result).err.message).toContain(`(PGPASSFILE has no line for it: add a line 127.0.0.1:${eu.endpoint.port}:${us.name}:report_reader:<password> to PGPASSFILE (${files.pgpass}))`);
  });
});

describe('the PG* database without REPORT_SOURCES', () => {
  it('takes its password from PGPASSFILE when PGPASSWORD is not set, as libpq does', async () => {
    const files = await sourceFiles(eu);
    const { PGPASSWORD, ...env } = eu.env;
    const result = await runDailyReport(['validate'], { env: { ...env, PGPASSFILE: files.pgpass } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain(`database: 127.0.0.1:${eu.endpoint.port}/${eu.name}\nquery: `);
    // Read with the configuration, not by node-postgres's own (deprecated) pgpass lookup at connect time.
    expect(result.stderr).not.toContain('pgpass support is deprecated');
    expectNoSecrets(result);
  });

  it('refuses, before connecting, a PGPASSFILE other users may read, where node-postgres would silently skip it', async () => {
    const files = await sourceFiles(eu);
    await chmod(files.pgpass, 0o644);
    const { PGPASSWORD, ...env } = eu.env;
    const result = await runDailyReport(['validate'], { env: { ...env, PGPASSFILE: files.pgpass } });
    expect(result.code, result.stderr).toBe(ExitCode.invalidInput);
    expect(errorOf(result).err.message).toContain(`PGPASSFILE: ${files.pgpass} is readable or writable by every user of the machine (mode 0644)`);
  });
});

describe('daily-report validate with sources whose schemas drifted', () => {
  it('exits 3 when a contract column has another type in one source, naming the column, both types and both sources', async () => {
    await sql(eu, 'CREATE TABLE drift (valor numeric); GRANT SELECT ON drift TO report_reader');
    await sql(us, 'CREATE TABLE drift (valor double precision); GRANT SELECT ON drift TO report_reader');
    const sqlFile = await queryFile(eu.outDir, 'drift', "SELECT now() AS data_extracao, 'x' AS nome_usuario, 1::bigint AS id_transacao, valor AS valor_transacao, 'ok' AS status_transacao FROM drift");
    const files = await sourceFiles(eu);
    const result = await runDailyReport(['validate'], { env: { ...sourcesEnv(eu, files, 'eu,us'), REPORT_SQL_FILE: sqlFile } });
    expect(result.code, result.stderr).toBe(ExitCode.badData);
    const expected = `valor_transacao is numeric in 127.0.0.1:${eu.endpoint.port}/${eu.name} (service eu) but double precision in 127.0.0.1:${us.endpoint.port}/${us.name} (service us)`;
    expect(errorOf(result).err).toMatchObject({ class: 'ReportContractViolated', exit_code: 3 });
    expect(errorOf(result).err.message).toContain(expected);
    expect(result.stdout).toContain(`sources: VIOLATED — the sources' columns must have the same types, the report is one CSV: ${expected}`);
  });
});

describe('bad source files are exit 2 before any connection', () => {
  // The services leave host and port to PGHOST/PGPORT, which the helper points at a listener that counts connections.
  const write = async (name: string, text: string, mode = 0o600) => {
    const path = await queryFile(eu.outDir, name, text);
    await chmod(path, mode);
    return path;
  };
  const goodPgpass = () => write('pgpass', '*:*:*:report_reader:whatever\n');

  it('a service REPORT_SOURCES names that the file does not define', async () => {
    const services = await write('services', '[eu]\ndbname=app\n[us]\ndbname=app_us\n');
    await expectRefusedBeforeAnyIo({ REPORT_SOURCES: 'eu,br', PGSERVICEFILE: services, PGPASSFILE: await goodPgpass() }, new RegExp(`PGSERVICEFILE: ${services} has no service \\[br\\], which REPORT_SOURCES names \\(it has: eu, us\\)`));
  });

  it('a password in pg_service.conf', async () => {
    const services = await write('services', '[eu]\ndbname=app\npassword=in-the-configmap\n');
    await expectRefusedBeforeAnyIo({ REPORT_SOURCES: 'eu', PGSERVICEFILE: services, PGPASSFILE: await goodPgpass() }, /service \[eu\]: line 3: key "password" is refused/);
  });

  it('a pgpass file every user may read', async () => {
    const services = await write('services', '[eu]\ndbname=app\n');
    const pgpass = await write('pgpass', '*:*:*:report_reader:whatever\n', 0o644);
    await expectRefusedBeforeAnyIo({ REPORT_SOURCES: 'eu', PGSERVICEFILE: services, PGPASSFILE: pgpass }, /PGPASSFILE: .* \(mode 0644\)/);
  });
});

describe('a report from several sources', () => {
  it('equals the concatenation of the single-source reports, in REPORT_SOURCES order, with one header', async () => {
    const files = await sourceFiles(eu);
    const sqlFile = await queryFile(eu.outDir, 'deterministic', DETERMINISTIC_QUERY);
    const single = async (source: string) => {
      const out = join(eu.outDir, '..', `single-${source}-${Math.random().toString(36).slice(2)}.csv`);
      const result = await runDailyReport(['run', '--dry-run', '--out', out, '--date', REPORT_DATE], { env: { ...sourcesEnv(eu, files, source), REPORT_SQL_FILE: sqlFile } });
      expect(result.code, result.stderr).toBe(0);
      return readFile(out);
    };
    const [euReport, usReport] = [await single('eu'), await single('us')];
    const header = euReport.subarray(0, euReport.indexOf('\r\n') + 2);
    expect(usReport.subarray(0, header.length)).toEqual(header);
    expect(euReport.length).toBeGreaterThan(header.length);
    expect(usReport.length).toBeGreaterThan(header.length);

    const env = { ...sourcesEnv(us, files, 'us,eu'), REPORT_SQL_FILE: sqlFile };
    const result = await runDailyReport(['run', '--date', REPORT_DATE], { env });
    expect(result.code, result.stderr).toBe(0);
    const published = await readFile(join(us.outDir, 'relatorio_20241005.csv'));
    expect(published.equals(Buffer.concat([usReport, euReport.subarray(header.length)]))).toBe(true);
    expect(await filesIn(us.outDir)).toEqual(['relatorio_20241005.csv', 'relatorio_20241005.csv.manifest.json']);
    // Each source with its own snapshot, rows and server, in report order.
    const manifest = JSON.parse(await readFile(join(us.outDir, 'relatorio_20241005.csv.manifest.json'), 'utf8'));
    const lines = (report: Buffer) => report.toString('utf8').split('\r\n').length - 2; // header, and the empty string after the last CRLF
    expect(manifest.sources.map((source: any) => [source.name, source.rows])).toEqual([['us', lines(usReport)], ['eu', lines(euReport)]]);
    expect(manifest.sources[0].server).toContain(`${us.endpoint.host}:${us.endpoint.port}/${us.name}`);
    expect(manifest.rows).toBe(lines(usReport) + lines(euReport));
    expectNoSecrets(result);
  });

  it('is not published when one source refuses its pgpass password: exit 4 naming that source', async () => {
    const files = await sourceFiles(eu, { eu: 'wrong-Password-88' });
    const outDir = await mkdtemp(join(tmpdir(), 'daily-report-out-sources-'));
    const result = await runDailyReport(['run', '--date', REPORT_DATE], { env: { ...sourcesEnv(us, files, 'us,eu'), LOCAL_STORAGE_DIR: outDir } });
    expect(result.code, result.stderr).toBe(ExitCode.accessDenied);
    expect(errorOf(result).err.message).toContain(`${eu.name} (service eu) refused user "report_reader"`);
    expect(await filesIn(outDir)).toEqual([]);
    expect(result.stdout + result.stderr).not.toContain('wrong-Password-88');
    expectNoSecrets(result);
  });
});
