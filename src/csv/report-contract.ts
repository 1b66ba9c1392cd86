import { ReportContractViolated } from '../errors.ts';
import { columnKind, type ColumnKind, type ColumnType } from './csv-rules.ts';

export { columnKind, type ColumnKind } from './csv-rules.ts';

/**
 * The report's columns, in the order the CSV header has them. Other teams parse by these names.
 * `data_extracao` comes first: the COPY engine's record scanner relies on it (csv-rules.ts).
 */
export const REPORT_COLUMNS = ['data_extracao', 'nome_usuario', 'id_transacao', 'valor_transacao', 'status_transacao'] as const;

/** What PostgreSQL tells about a result column (RowDescription, and pg_type for its category and name). */
export interface ResultColumn extends ColumnType {
  readonly name: string;
  /** format_type() of the column's type, when it was looked up. */
  readonly typeName?: string | undefined;
}

export interface PlannedColumn extends ColumnType {
  readonly name: string;
  /** Position of the column in the query's result. */
  readonly sourceIndex: number;
  readonly kind: ColumnKind;
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
    const { dataTypeID, typeCategory } = result[sourceIndex]!;
    return { name, sourceIndex, dataTypeID, typeCategory, kind: columnKind({ dataTypeID, typeCategory }) };
  });
}
