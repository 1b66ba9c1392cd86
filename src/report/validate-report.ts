import type { Config } from '../config/config.ts';
import { columnKind, FREE_TEXT_TYPES, GUARDED_CATEGORIES, OID } from '../csv/csv-rules.ts';
import { planColumns, REPORT_COLUMNS, type ResultColumn } from '../csv/report-contract.ts';
import type { ReportSource } from '../extract/report-source.ts';
import { reportQuery } from './report-query.ts';
import { formatInstant, reportWindow, todayIn } from './report-window.ts';

export interface FoundColumn {
  readonly name: string;
  readonly type: string;
  /** How it is written: `timestamptz`, `verbatim`, or a string type with whether the formula guard applies and why. */
  readonly kind: string;
  readonly inContract: boolean;
}

export interface Validation {
  readonly database: string;
  readonly queryFile: string;
  readonly columns: readonly FoundColumn[];
  /** The server's own identity of the database, where it was asked (several sources, or parallel). */
  readonly identity?: string | undefined;
  /** Why the columns break the contract, or undefined when they satisfy it. */
  readonly violation: string | undefined;
}

// Display names for the types a report query usually returns; OIDs are fixed in pg_type.dat.
const TYPE_NAMES: Record<number, string> = {
  16: 'boolean', 18: '"char"', 19: 'name', 20: 'bigint', 21: 'smallint', 23: 'integer', 25: 'text', 114: 'json',
  700: 'real', 701: 'double precision', 1042: 'character', 1043: 'character varying', 1082: 'date',
  1114: 'timestamp', 1184: 'timestamptz', 1700: 'numeric', 2950: 'uuid', 3802: 'jsonb',
};

/**
 * Connects, describes the report query for today's window (no row is produced) and checks the
 * contract; with REPORT_PARALLELISM > 1 through a shared snapshot, as the run opens it.
 */
export async function validateReport(config: Config, source: ReportSource, signal: AbortSignal, now: Date = new Date()): Promise<Validation> {
  const zone = config.report.timezone;
  const window = reportWindow(config.report.date ?? todayIn(zone, now), zone);
  const query = reportQuery(config, window, formatInstant(now, zone));
  let described: readonly ResultColumn[];
  let identity: string | undefined;
  if (config.report.parallelism > 1 || config.sources.length > 1) {
    // As the run will: a shared snapshot, so the query's splittability and a worker's import of the
    // snapshot (a pooler, a load balancer) are checked too (docs/parallel-extraction.md), and the
    // server says which database it is (one database under two host names, same-database-twice.ts).
    const shared = await source.openShared(query, { shards: config.report.parallelism > 1 ? 2 : 1 }, signal);
    described = shared.columns;
    identity = shared.identity;
    await shared.close();
  } else {
    const session = await source.open(query, signal);
    described = session.columns;
    await session.close(); // described only: no record was asked for
  }
  let violation: string | undefined;
  try {
    planColumns(described);
  } catch (error) {
    violation = (error as Error).message;
  }
  return {
    database: source.label,
    identity,
    queryFile: config.report.query.file,
    violation,
    columns: described.map((column) => ({
      name: column.name,
      type: typeNameOf(column),
      kind: writtenAs(column, config.csv.escapeFormulas),
      inContract: (REPORT_COLUMNS as readonly string[]).includes(column.name),
    })),
  };
}

/** A column's type as validate prints it (and as sources are compared: column-type-agreement.ts). */
export function typeNameOf(column: ResultColumn): string {
  return TYPE_NAMES[column.dataTypeID] ?? column.typeName ?? `oid ${column.dataTypeID}`;
}

/** "guarded text (category S)": the formula guard follows the type's category (csv-rules.ts). */
function writtenAs(column: ResultColumn, escapeFormulas: boolean): string {
  const kind = columnKind(column);
  if (kind !== 'text') return kind;
  if (!escapeFormulas) return 'text, not guarded (CSV_ESCAPE_FORMULAS=false)';
  const freeText = FREE_TEXT_TYPES[column.dataTypeID];
  const why = column.dataTypeID === OID.char ? '"char"' : freeText ? `${freeText}, free text` : column.typeCategory ? `category ${column.typeCategory}, ${GUARDED_CATEGORIES[column.typeCategory]}` : 'string type';
  return `guarded text (${why})`;
}
