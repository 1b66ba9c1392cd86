/**
 * libpq's password file (pgpass, named by PGPASSFILE): one `host:port:database:user:password` per
 * line, `*` matching anything in the first four fields, `\:` and `\\` escaping, the first matching
 * line wins. Parsed here rather than left to node-postgres (which reads it through the `pgpass`
 * package when no password is given) because that happens at connect time, after the run began:
 * a missing or unreadable file is silently no password, a group-readable one is skipped with a
 * warning on stderr outside our logs, and the support is deprecated (removed in pg 9). Here the
 * file is read and checked with the rest of the configuration, before any connection.
 * Pure: the loader has read the text and the file's mode. No message ever quotes a line.
 */

export interface PgpassEntry {
  /** undefined: `*`, matches anything. */
  readonly host: string | undefined;
  readonly port: string | undefined;
  readonly database: string | undefined;
  readonly user: string | undefined;
  readonly password: string;
  readonly line: number;
}

export interface Pgpass {
  readonly entries: readonly PgpassEntry[];
  /** Lines that are not five fields with a non-empty password (libpq skips them; here they are refused). */
  readonly malformed: readonly number[];
}

export interface PgpassTarget {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
}

export function parsePgpass(text: string): Pgpass {
  const entries: PgpassEntry[] = [];
  const malformed: number[] = [];
  text.replace(/^\uFEFF/, '').split('\n').forEach((raw, index) => {
    // libpq drops the line end (\r\n too) and skips empty lines and lines starting with "#".
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '' || line.startsWith('#')) return;
    const fields = splitFields(line);
    const password = fields[4]?.text ?? '';
    if (fields.length < 5 || password === '' || fields.slice(0, 4).some((field) => field.text === '' && !field.wildcard)) {
      malformed.push(index + 1);
      return;
    }
    const [host, port, database, user] = fields.slice(0, 4).map((field) => (field.wildcard ? undefined : field.text));
    entries.push({ host, port, database, user, password, line: index + 1 });
  });
  return { entries, malformed };
}

/** The first entry for this connection, as libpq picks it (the port compared as text, as libpq does). */
export function findPgpassEntry(pgpass: Pgpass, target: PgpassTarget): PgpassEntry | undefined {
  const wanted = [target.host, String(target.port), target.database, target.user];
  return pgpass.entries.find((entry) => [entry.host, entry.port, entry.database, entry.user].every((field, i) => field === undefined || field === wanted[i]));
}

/**
 * Our rule for the file's mode, after following symlinks (a Kubernetes Secret volume is a symlink
 * to a file whose mode is the volume's defaultMode). libpq ignores a file with any group or other
 * access; a Secret mounted with fsGroup (the chart's podSecurityContext) is always group-readable
 * (kubelet adds g+r), by the pod's own group. So: refused when others have any access or the group
 * may write; group read is accepted. Returns the problem, or undefined.
 */
export function pgpassModeProblem(mode: number): string | undefined {
  const permissions = mode & 0o777;
  const octal = permissions.toString(8).padStart(4, '0');
  if ((permissions & 0o007) !== 0) {
    return `is readable or writable by every user of the machine (mode ${octal}): libpq would ignore it; chmod 0600 it, or mount its Secret with defaultMode: 0400 (the default 0644 is refused)`;
  }
  if ((permissions & 0o030) !== 0) return `is writable or executable by its group (mode ${octal}): chmod 0600 it (or 0640), or mount its Secret with defaultMode: 0400`;
  return undefined;
}

interface Field {
  readonly text: string;
  /** The field was exactly an unescaped "*". */
  readonly wildcard: boolean;
}

/** Fields split at unescaped ":", "\x" read as "x" (libpq's rule); the password ends at the next unescaped ":", as in libpq. */
function splitFields(line: string): Field[] {
  const fields: Field[] = [];
  let text = '';
  let escaped = false;
  let start = 0;
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!;
    if (char === '\\' && i + 1 < line.length) {
      text += line[++i];
      escaped = true;
    } else if (char === ':') {
      fields.push({ text, wildcard: !escaped && line.slice(start, i) === '*' });
      if (fields.length === 5) return fields;
      text = '';
      escaped = false;
      start = i + 1;
    } else text += char;
  }
  fields.push({ text, wildcard: !escaped && line.slice(start) === '*' });
  return fields;
}
