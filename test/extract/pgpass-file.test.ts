import { describe, expect, it } from 'vitest';
import { findPgpassEntry, parsePgpass, pgpassModeProblem } from '../../src/extract/pgpass-file.ts';

const target = { host: 'db-eu.internal', port: 5432, database: 'app', user: 'report_reader' };

describe('a pgpass file, read as libpq reads it', () => {
  it('gives the password of the first line that matches, "*" matching any field', () => {
    const pgpass = parsePgpass(['# comment', '', 'db-us.internal:5432:app:report_reader:us-pass', '*:5432:app:report_reader:first', 'db-eu.internal:5432:app:report_reader:second'].join('\n'));
    expect(pgpass.malformed).toEqual([]);
    expect(findPgpassEntry(pgpass, target)).toMatchObject({ password: 'first', line: 4 });
    expect(findPgpassEntry(pgpass, { ...target, host: 'db-us.internal' })).toMatchObject({ password: 'us-pass', line: 3 });
  });

  it('matches nothing when no line fits: another port, database or user', () => {
    const pgpass = parsePgpass('db-eu.internal:6432:app:report_reader:x\ndb-eu.internal:5432:other:report_reader:y\ndb-eu.internal:5432:app:admin:z\n');
    expect(findPgpassEntry(pgpass, target)).toBeUndefined();
  });

  it('reads "\\:" and "\\\\" as a colon and a backslash, in a field and in the password; a password ends at the next unescaped ":"', () => {
    const pgpass = parsePgpass('db-eu.internal:5432:app:report_reader:pa\\:ss\\\\word:ignored');
    expect(findPgpassEntry(pgpass, target)?.password).toBe('pa:ss\\word');
    const escapedUser = parsePgpass('db-eu.internal:5432:app:we\\:ird:pw');
    expect(findPgpassEntry(escapedUser, { ...target, user: 'we:ird' })?.password).toBe('pw');
  });

  it('takes an escaped "\\*" as a literal star, not a wildcard', () => {
    const pgpass = parsePgpass('\\*:5432:app:report_reader:pw');
    expect(findPgpassEntry(pgpass, target)).toBeUndefined();
    expect(findPgpassEntry(pgpass, { ...target, host: '*' })?.password).toBe('pw');
  });

  it('reads a CRLF file (written on Windows) without a \\r in the password', () => {
    expect(findPgpassEntry(parsePgpass('*:*:*:*:secret\r\n'), target)?.password).toBe('secret');
  });

  it('reports lines that are not five fields with a password, by number only', () => {
    const pgpass = parsePgpass('db:5432:app:report_reader\n*:*:*:*:\nok:5432:app:u:pw\n:5432:app:u:pw');
    expect(pgpass.malformed).toEqual([1, 2, 4]);
    expect(pgpass.entries).toHaveLength(1);
  });
});

describe('the pgpass mode rule', () => {
  it('accepts 0600 and 0400, and the group-read 0640 and 0440 a Secret mounted with fsGroup gets', () => {
    for (const mode of [0o100600, 0o100400, 0o100640, 0o100440]) expect(pgpassModeProblem(mode), mode.toString(8)).toBeUndefined();
  });

  it("refuses a file others may read (a Secret's default 0644) and one its group may write, saying how to fix it", () => {
    expect(pgpassModeProblem(0o100644)).toMatch(/every user of the machine \(mode 0644\).*chmod 0600.*defaultMode: 0400/);
    expect(pgpassModeProblem(0o100604)).toMatch(/mode 0604/);
    expect(pgpassModeProblem(0o100660)).toMatch(/writable or executable by its group \(mode 0660\)/);
  });
});
