import { ConfigurationIsInvalid } from '../errors.ts';

/** A source as its server identified itself (extract/report-source.ts, SharedSnapshot.identity). */
export interface IdentifiedSource {
  readonly name: string;
  /** The server's start time and the database: the same for every host name that reaches them. */
  readonly identity: string;
  readonly server: string;
}

/**
 * The configuration refuses two services with one host:port/dbname; two host names for one server
 * (localhost and 127.0.0.1, a Service and its IP) only the servers can tell apart. Checked by the
 * run before any byte and by `validate`: the report would hold those rows twice.
 */
export function refuseSameDatabaseTwice(sources: readonly IdentifiedSource[]): void {
  const first = new Map<string, IdentifiedSource>();
  const problems: string[] = [];
  for (const source of sources) {
    const earlier = first.get(source.identity);
    if (earlier === undefined) first.set(source.identity, source);
    else {
      problems.push(`REPORT_SOURCES: services ${earlier.name} and ${source.name} are the same database (${earlier.server} and ${source.server} reach one server and database): `
        + 'the report would hold its rows twice; list it once');
    }
  }
  if (problems.length > 0) throw new ConfigurationIsInvalid(problems, { phase: 'connect' });
}
