import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** One `[name]` section of pg_service.conf. */
export interface ServiceSection {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly dbname: string;
}

/**
 * The environment of a deployment that reads its sources through libpq's own files: a
 * pg_service.conf with `services` (in report order) and a 0600 pgpass giving `password` to `user`
 * on every server, written in `dir`; `base` without any PG* connection variable (they would be a
 * source of their own), plus REPORT_SOURCES, PGSERVICEFILE and PGPASSFILE.
 */
export async function sourcesEnvironment(
  base: Readonly<Record<string, string>>,
  dir: string,
  services: readonly ServiceSection[],
  credentials: { readonly user: string; readonly password: string },
): Promise<Record<string, string>> {
  const suffix = randomBytes(4).toString('hex');
  const serviceFile = join(dir, `pg_service-${suffix}.conf`);
  const sections = services.flatMap(({ name, host, port, dbname }) => [`[${name}]`, `host=${host}`, `port=${port}`, `dbname=${dbname}`, `user=${credentials.user}`, '']);
  await writeFile(serviceFile, sections.join('\n'));
  const pgpass = join(dir, `pgpass-${suffix}`);
  await writeFile(pgpass, `*:*:*:${credentials.user}:${credentials.password}\n`, { mode: 0o600 });
  const { PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, ...rest } = base;
  return { ...rest, REPORT_SOURCES: services.map((s) => s.name).join(','), PGSERVICEFILE: serviceFile, PGPASSFILE: pgpass };
}

/** Two services, a and b, that reach one database under two host names (127.0.0.1 and localhost). */
export function oneDatabaseTwice(port: number, dbname: string): ServiceSection[] {
  return [
    { name: 'a', host: '127.0.0.1', port, dbname },
    { name: 'b', host: 'localhost', port, dbname },
  ];
}
