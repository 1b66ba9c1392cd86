import { describe, expect, it } from 'vitest';
import { parseServiceFile, serviceKeyProblem } from '../../src/extract/pg-service-file.ts';

describe('a pg_service.conf file, read as libpq reads it', () => {
  it('gives each [name] section its key=value lines, skipping comments, blank lines and what precedes the first section', () => {
    const file = parseServiceFile(['stray=1', '# services', '[eu]', 'host=db-eu.internal', '  port=6432  ', '', '[us]', '# one line', 'dbname=app_us'].join('\n'));
    expect([...file.sections.keys()]).toEqual(['eu', 'us']);
    expect(file.sections.get('eu')).toMatchObject({ line: 3, entries: [{ key: 'host', value: 'db-eu.internal', line: 4 }, { key: 'port', value: '6432', line: 5 }], malformed: [] });
    expect(file.sections.get('us')!.entries).toEqual([{ key: 'dbname', value: 'app_us', line: 9 }]);
  });

  it('keeps the first of two sections of one name, as libpq does, and records where the other is', () => {
    const file = parseServiceFile('[eu]\nhost=a\n[eu]\nhost=b\n');
    expect(file.sections.get('eu')!.entries).toEqual([{ key: 'host', value: 'a', line: 2 }]);
    expect(file.repeated.get('eu')).toEqual([3]);
  });

  it('records a line of a section that is not key=value', () => {
    expect(parseServiceFile('[eu]\nhost\n=x\n').sections.get('eu')!.malformed).toEqual([2, 3]);
  });

  it('reads a CRLF file and one with a UTF-8 BOM', () => {
    const file = parseServiceFile('\uFEFF[eu]\r\nhost=a\r\n');
    expect(file.sections.get('eu')!.entries).toEqual([{ key: 'host', value: 'a', line: 2 }]);
  });
});

describe('the keys a service may set', () => {
  it('are host, port, dbname, user and sslmode', () => {
    for (const key of ['host', 'port', 'dbname', 'user', 'sslmode']) expect(serviceKeyProblem(key)).toBeUndefined();
  });

  it('refuse a password, saying it belongs in PGPASSFILE', () => {
    expect(serviceKeyProblem('password')).toMatch(/refused: a password does not belong in pg_service.conf.*PGPASSFILE/);
  });

  it('name what to do for a libpq keyword that is job-wide, one daily-report does not support, and one libpq does not know', () => {
    expect(serviceKeyProblem('sslrootcert')).toMatch(/PGSSLROOTCERT applies to every source/);
    expect(serviceKeyProblem('hostaddr')).toMatch(/"hostaddr" is not supported \(daily-report reads host, port, dbname, user, sslmode/);
    expect(serviceKeyProblem('hots')).toMatch(/"hots" is not a libpq connection parameter/);
    expect(serviceKeyProblem('host ')).toMatch(/followed by a space: libpq allows none around "="/);
  });
});
