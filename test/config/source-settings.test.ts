import { chmodSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { redactSecrets } from '../../src/config/redaction.ts';
import { ConfigurationIsInvalid } from '../../src/errors.ts';
import { loadConfig } from '../../src/loader/load-config.ts';

const dir = mkdtempSync(join(tmpdir(), 'daily-report-sources-'));
let files = 0;
function file(content: string, mode = 0o600): string {
  const path = join(dir, `file-${++files}`);
  writeFileSync(path, content);
  chmodSync(path, mode);
  return path;
}
const now = new Date('2024-10-05T15:00:00Z');
const SERVICES = ['# two regions', '[eu]', 'host=db-eu.internal', 'dbname=app_eu', 'user=report_reader', 'sslmode=verify-full', '', '[us]', 'host=db-us.internal', 'port=6432', 'dbname=app_us'].join('\n');
const PGPASS = ['db-eu.internal:5432:app_eu:report_reader:eu-Secret-1', '*:6432:*:report_reader:us-Secret-2'].join('\n');
const base = { REPORT_TIMEZONE: 'America/Sao_Paulo', PGUSER: 'report_reader' };

async function problemsOf(env: Record<string, string>): Promise<string[]> {
  const error = await loadConfig(env, { now }).then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(ConfigurationIsInvalid);
  return [...(error as ConfigurationIsInvalid).problems];
}

describe('REPORT_SOURCES, PGSERVICEFILE and PGPASSFILE', () => {
  it('give one source per service, in REPORT_SOURCES order, a PG* variable filling what a section leaves out, passwords from pgpass', async () => {
    const config = await loadConfig({ ...base, PGSSLMODE: 'require', REPORT_SOURCES: 'us, eu', PGSERVICEFILE: file(SERVICES), PGPASSFILE: file(PGPASS) }, { now });
    expect(config.sources.map((s) => s.name)).toEqual(['us', 'eu']);
    expect(config.sources[0]!.database).toMatchObject({ host: 'db-us.internal', port: 6432, database: 'app_us', user: 'report_reader', sslMode: 'require', password: 'us-Secret-2', service: 'us' });
    expect(config.sources[1]!.database).toMatchObject({ host: 'db-eu.internal', port: 5432, database: 'app_eu', sslMode: 'verify-full', password: 'eu-Secret-1', service: 'eu' });
    // The passwords read from the file are secrets like PGPASSWORD: redacted wherever they would be written.
    expect(redactSecrets('eu-Secret-1 and us-Secret-2')).toBe('[redacted] and [redacted]');
    expect(config.database).toBe(config.sources[0]!.database);
  });

  it('without REPORT_SOURCES: the one PG* database, named "default", exactly as before', async () => {
    const config = await loadConfig({ ...base, PGDATABASE: 'app', PGPASSWORD: 'pw-1234' }, { now });
    expect(config.sources).toEqual([{ name: 'default', database: config.database }]);
    expect(config.database).toEqual({ host: 'localhost', port: 5432, database: 'app', user: 'report_reader', password: 'pw-1234', sslMode: 'disable', sslRootCert: undefined, connectTimeoutMs: 30_000 });
  });

  it('PGPASSFILE gives the PG* database its password when PGPASSWORD does not, as libpq does; PGPASSWORD wins', async () => {
    const pgpass = file('localhost:5432:app:report_reader:from-pgpass');
    expect((await loadConfig({ ...base, PGDATABASE: 'app', PGPASSFILE: pgpass }, { now })).database).toMatchObject({ password: 'from-pgpass', passFile: pgpass });
    expect((await loadConfig({ ...base, PGDATABASE: 'app', PGPASSFILE: pgpass, PGPASSWORD: 'from-env' }, { now })).database.password).toBe('from-env');
  });

  it('a service with no line in pgpass has no password (node-postgres is not left to look in ~/.pgpass)', async () => {
    const config = await loadConfig({ ...base, REPORT_SOURCES: 'eu', PGSERVICEFILE: file(SERVICES), PGPASSFILE: file('other:5432:x:y:z') }, { now });
    expect(config.sources[0]!.database).toMatchObject({ password: undefined, service: 'eu' });
  });

  it('follow the symlinks of a Secret volume and accept the 0440 that fsGroup gives its file', async () => {
    const target = file(PGPASS, 0o440);
    const link = join(dir, 'pgpass-link');
    symlinkSync(target, link);
    const config = await loadConfig({ ...base, REPORT_SOURCES: 'eu', PGSERVICEFILE: file(SERVICES), PGPASSFILE: link }, { now });
    expect(config.sources[0]!.database.password).toBe('eu-Secret-1');
  });
});

describe('bad sources are exit 2 before any I/O, each problem named', () => {
  it('a service the file does not define names the file and the services it has', async () => {
    const services = file(SERVICES);
    expect(await problemsOf({ ...base, REPORT_SOURCES: 'eu,uss', PGSERVICEFILE: services })).toEqual([
      `PGSERVICEFILE: ${services} has no service [uss], which REPORT_SOURCES names (it has: eu, us)`,
    ]);
  });

  it('a password in pg_service.conf is refused, naming file, section and key, and never quoted', async () => {
    const services = file('[eu]\nhost=db\ndbname=app\npassword=Hunter2-secret\n');
    const problems = await problemsOf({ ...base, REPORT_SOURCES: 'eu', PGSERVICEFILE: services });
    expect(problems).toEqual([expect.stringMatching(new RegExp(`^PGSERVICEFILE: ${services}, service \\[eu\\]: line 4: key "password" is refused: .*PGPASSFILE`))]);
    expect(problems.join('\n')).not.toContain('Hunter2');
  });

  it('an unsupported key, a bad value, a stray line and a missing dbname are all listed at once', async () => {
    const services = file('[eu]\nhostaddr=10.0.0.1\nport=five\nsslmode=prefer\nhost = db\njunk\n');
    const problems = await problemsOf({ ...base, REPORT_SOURCES: 'eu', PGSERVICEFILE: services });
    const where = `PGSERVICEFILE: ${services}, service [eu]: `;
    expect(problems).toEqual([
      `${where}line 6 is not key=value (libpq: "syntax error in service file")`,
      expect.stringContaining(`${where}line 2: key "hostaddr" is not supported`),
      expect.stringContaining(`${where}line 3: port must be a whole number from 1 to 65535`),
      expect.stringMatching(new RegExp(`^${where.replace(/[[\]]/g, '\\$&')}line 4: sslmode must be one of .*cannot fall back`)),
      expect.stringContaining(`${where}line 5: key "host" is followed by a space`),
      `${where}sets no dbname and PGDATABASE is not set: add dbname=<database> to the section`,
    ]);
  });

  it('a connection URI as a service host is refused without being echoed (it may hold a password)', async () => {
    const problems = await problemsOf({ ...base, REPORT_SOURCES: 'eu', PGSERVICEFILE: file('[eu]\nhost=postgres://u:Pw-9999@db/app\ndbname=app\n') });
    expect(problems).toEqual([expect.stringContaining('line 2: host must be a host name, not a connection URI')]);
    expect(problems.join('\n')).not.toContain('Pw-9999');
  });

  it('REPORT_SOURCES without PGSERVICEFILE, or with PGPASSWORD, says what to set instead', async () => {
    expect(await problemsOf({ ...base, REPORT_SOURCES: 'eu,us' })).toEqual(['PGSERVICEFILE: is required with REPORT_SOURCES: the path of the pg_service.conf file that defines eu,us']);
    expect(await problemsOf({ ...base, REPORT_SOURCES: 'eu', PGSERVICEFILE: file(SERVICES), PGPASSWORD: 'pw-1234' })).toEqual([expect.stringMatching(/^PGPASSWORD: cannot be used with REPORT_SOURCES .*PGPASSFILE/)]);
  });

  it('REPORT_SOURCES with an empty, invalid or repeated name, or two services for one database', async () => {
    expect(await problemsOf({ ...base, REPORT_SOURCES: 'eu,,us' })).toEqual([expect.stringMatching(/^REPORT_SOURCES: must list service names separated by commas, none empty/)]);
    expect(await problemsOf({ ...base, REPORT_SOURCES: 'eu,[us]' })).toEqual([expect.stringMatching(/^REPORT_SOURCES: must list service names .*not one: "\[us\]"/)]);
    expect(await problemsOf({ ...base, REPORT_SOURCES: 'eu,us,eu' })).toEqual([expect.stringMatching(/^REPORT_SOURCES: names eu more than once/)]);
    const twice = file('[a]\nhost=db\ndbname=app\n[b]\nhost=db\ndbname=app\n');
    expect(await problemsOf({ ...base, REPORT_SOURCES: 'a,b', PGSERVICEFILE: twice })).toEqual(['REPORT_SOURCES: services a and b are the same database (db:5432/app): the report would hold its rows twice; list it once']);
  });

  it('a section defined twice is refused (libpq would silently read the first)', async () => {
    const services = file('[eu]\nhost=a\ndbname=app\n[eu]\nhost=b\n');
    expect(await problemsOf({ ...base, REPORT_SOURCES: 'eu', PGSERVICEFILE: services })).toEqual([
      `PGSERVICEFILE: ${services}, service [eu]: defined again at line 4, which libpq ignores (it reads the first, at line 1): merge the two sections`,
    ]);
  });

  it("a pgpass file others may read (a Secret's default mode 0644) is refused, saying how to mount it", async () => {
    const pgpass = file(PGPASS, 0o644);
    expect(await problemsOf({ ...base, REPORT_SOURCES: 'eu', PGSERVICEFILE: file(SERVICES), PGPASSFILE: pgpass })).toEqual([
      expect.stringMatching(new RegExp(`^PGPASSFILE: ${pgpass} is readable or writable by every user of the machine \\(mode 0644\\).*defaultMode: 0400`)),
    ]);
  });

  it('a malformed pgpass line is named by its number, never shown (it may hold a password)', async () => {
    const pgpass = file('db-eu.internal:5432:app_eu:Leaky-Password\n');
    const problems = await problemsOf({ ...base, REPORT_SOURCES: 'eu', PGSERVICEFILE: file(SERVICES), PGPASSFILE: pgpass });
    expect(problems).toEqual([expect.stringMatching(new RegExp(`^PGPASSFILE: ${pgpass}, line 1: is not host:port:database:user:password`))]);
    expect(problems.join('\n')).not.toContain('Leaky');
  });

  it('a missing PGSERVICEFILE or PGPASSFILE is a problem naming the path', async () => {
    expect(await problemsOf({ ...base, REPORT_SOURCES: 'eu', PGSERVICEFILE: join(dir, 'nope'), PGPASSFILE: join(dir, 'nope2') })).toEqual([
      `PGSERVICEFILE: cannot read ${join(dir, 'nope')} (ENOENT)`,
      `PGPASSFILE: cannot read ${join(dir, 'nope2')} (ENOENT)`,
    ]);
  });
});
