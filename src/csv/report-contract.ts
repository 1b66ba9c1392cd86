import { ReportContractViolated } from '../errors.ts';

/** The report's columns, in the order the CSV header has them. Other teams parse by these names. */
export const REPORT_COLUMNS = ['data_extracao', 'nome_usuario', 'id_transacao', 'valor_transacao', 'status_transacao'] as const;

/** What PostgreSQL tells about a result column (RowDescription). */
export interface ResultColumn {
  readonly name: string;
  readonly dataTypeID: number;
}

/** How a column's text is written to the CSV. */
export type ColumnKind = 'text' | 'timestamptz' | 'timestamp' | 'verbatim';

export interface PlannedColumn {
  readonly name: string;
  /** Position of the column in the query's result. */
  readonly sourceIndex: number;
  readonly kind: ColumnKind;
}

// Type OIDs are fixed in PostgreSQL's catalog (pg_type.dat), the same on every server.
const TEXT_TYPES = new Set([25 /* text */, 1043 /* varchar */, 1042 /* bpchar */, 19 /* name */, 18 /* "char" */]);
const TIMESTAMPTZ = 1184;
const TIMESTAMP = 1114;

export function columnKind(dataTypeID: number): ColumnKind {
  if (TEXT_TYPES.has(dataTypeID)) return 'text';
  if (dataTypeID === TIMESTAMPTZ) return 'timestamptz';
  if (dataTypeID === TIMESTAMP) return 'timestamp';
  return 'verbatim';
}

/**
 * Checks that the result has exactly the report's columns and says where each one is.
 * Any order is accepted (the CSV is always written in contract order); a missing, extra or
 * repeated column throws `ReportContractViolated` naming expected and actual columns.
 */
export function planColumns(result: readonly ResultColumn[]): PlannedColumn[] {
  const actual = result.map((column) => column.name);
  const missing = REPORT_COLUMNS.filter((name) => !actual.includes(name));
  const extra = actual.filter((name) => !(REPORT_COLUMNS as readonly string[]).includes(name));
  const repeated = actual.filter((name, index) => actual.indexOf(name) !== index);
  if (missing.length + extra.length + repeated.length > 0) {
    const details = [
      missing.length ? `missing ${missing.join(', ')}` : '',
      extra.length ? `unexpected ${extra.join(', ')}` : '',
      repeated.length ? `repeated ${[...new Set(repeated)].join(', ')}` : '',
    ].filter(Boolean);
    throw new ReportContractViolated(
      `the query's columns do not match the report contract (${details.join('; ')}): ` +
        `expected ${REPORT_COLUMNS.join(', ')}; got ${actual.join(', ') || 'no columns'}`,
      { phase: 'extract', context: { expected: [...REPORT_COLUMNS], actual, missing, extra } },
    );
  }
  return REPORT_COLUMNS.map((name) => {
    const sourceIndex = actual.indexOf(name);
    return { name, sourceIndex, kind: columnKind(result[sourceIndex]!.dataTypeID) };
  });
}
