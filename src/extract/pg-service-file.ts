/**
 * libpq's connection service file (pg_service.conf, named by PGSERVICEFILE): `[name]` sections of
 * `key=value` lines, `#` comments. Read as libpq reads it, so a file that works with `psql
 * "service=eu"` works here and the other way round: no spaces around `=` (libpq would take them
 * as part of the key or the value), the first section of a name is the one used. Pure: the loader
 * has read the text.
 */

/** A service name: what REPORT_SOURCES lists and a `[section]` header names (also a log field and a manifest key). */
export const SERVICE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$/;
export const SERVICE_NAME_FORM = 'letters, digits, "_", "." and "-", at most 63, not starting with "." or "-"';

/** The keys a service may set: the connection's identity. Everything else stays with the PG* settings. */
export const SERVICE_KEYS = ['host', 'port', 'dbname', 'user', 'sslmode'] as const;
export type ServiceKey = (typeof SERVICE_KEYS)[number];

/** Why a libpq keyword that daily-report does not take from a service is refused, when there is more to say. */
const REFUSED_KEYS: Readonly<Record<string, string>> = {
  password: 'a password does not belong in pg_service.conf (a ConfigMap, readable by anyone who can read the namespace): put it in the PGPASSFILE file, one line host:port:dbname:user:password',
  passfile: 'every source reads the one PGPASSFILE: set PGPASSFILE instead',
  sslrootcert: 'PGSSLROOTCERT applies to every source (one bundle may hold several CAs): set it there',
  connect_timeout: 'PGCONNECT_TIMEOUT applies to every source: set it there',
  service: 'a service cannot name another service (libpq refuses nested services too)',
};

/** libpq's other connection keywords: known, but not read by daily-report (node-postgres has no equivalent, or it is job-wide). */
const LIBPQ_KEYWORDS = new Set([
  'hostaddr', 'require_auth', 'channel_binding', 'client_encoding', 'options', 'application_name', 'fallback_application_name',
  'keepalives', 'keepalives_idle', 'keepalives_interval', 'keepalives_count', 'tcp_user_timeout', 'replication', 'gssencmode',
  'sslnegotiation', 'sslcompression', 'sslcert', 'sslkey', 'sslpassword', 'sslcertmode', 'sslcrl', 'sslcrldir', 'sslsni', 'requirepeer',
  'ssl_min_protocol_version', 'ssl_max_protocol_version', 'krbsrvname', 'gsslib', 'gssdelegation', 'target_session_attrs', 'load_balance_hosts',
]);

export interface ServiceEntry {
  readonly key: string;
  readonly value: string;
  readonly line: number;
}

export interface ServiceSection {
  readonly name: string;
  /** Line of its `[name]` header (1-based). */
  readonly line: number;
  readonly entries: readonly ServiceEntry[];
  /** Lines of the section that are not `key=value` (libpq: "syntax error in service file"). */
  readonly malformed: readonly number[];
}

export interface ServiceFile {
  /** Sections in file order; a repeated name keeps its first (libpq stops at the first). */
  readonly sections: ReadonlyMap<string, ServiceSection>;
  /** Lines of a repeated `[name]`, by name: ignored by libpq, almost surely a mistake. */
  readonly repeated: ReadonlyMap<string, readonly number[]>;
}

export function parseServiceFile(text: string): ServiceFile {
  const sections = new Map<string, ServiceSection & { entries: ServiceEntry[]; malformed: number[] }>();
  const repeated = new Map<string, number[]>();
  let current: (ServiceSection & { entries: ServiceEntry[]; malformed: number[] }) | undefined;
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  lines.forEach((raw, index) => {
    const number = index + 1;
    // libpq trims whitespace at both ends of a line (the \r of a CRLF file included).
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    if (line.startsWith('[')) {
      const name = line.endsWith(']') ? line.slice(1, -1) : line.slice(1);
      if (sections.has(name)) {
        repeated.set(name, [...(repeated.get(name) ?? []), number]);
        current = undefined;
        return;
      }
      current = { name, line: number, entries: [], malformed: [] };
      sections.set(name, current);
      return;
    }
    // Lines before the first section, and in a repeated one, are never read by libpq.
    if (current === undefined) return;
    const equals = line.indexOf('=');
    if (equals <= 0) current.malformed.push(number);
    else current.entries.push({ key: line.slice(0, equals), value: line.slice(equals + 1), line: number });
  });
  return { sections, repeated };
}

/** What is wrong with one key of a used section, or undefined when daily-report reads it. */
export function serviceKeyProblem(key: string): string | undefined {
  if ((SERVICE_KEYS as readonly string[]).includes(key)) return undefined;
  const supported = `daily-report reads ${SERVICE_KEYS.join(', ')} from a service`;
  if (key in REFUSED_KEYS) return `key "${key}" is refused: ${REFUSED_KEYS[key]}`;
  if (/\s/.test(key) || /\s$/.test(key)) return `key "${key.trim()}" is followed by a space: libpq allows none around "=" (write ${key.trim()}=value)`;
  if (LIBPQ_KEYWORDS.has(key)) return `key "${key}" is not supported (${supported})`;
  return `key "${key}" is not a libpq connection parameter (${supported})`;
}
