import { REPORT_COLUMNS } from '../csv/report-contract.ts';

/** One source's report columns with their types as displayed (validate-report.ts, typeNameOf). */
export interface TypedColumns {
  /** The source's label (host:port/database (service …)). */
  readonly database: string;
  readonly columns: readonly { readonly name: string; readonly type: string }[];
}

/**
 * Several sources make one CSV: a contract column typed differently in two of them (numeric in
 * one, double precision in another; timestamptz and timestamp) would be written in two forms in
 * one file. `validate` and the run refuse it alike (exit 3). Returns the problem, or undefined.
 */
export function typeDisagreement(sources: readonly TypedColumns[]): string | undefined {
  const [first, ...others] = sources;
  if (first === undefined) return undefined;
  const typeIn = (source: TypedColumns, name: string) => source.columns.find((column) => column.name === name)?.type;
  const differences = others.flatMap((other) =>
    first.columns
      .filter((column) => (REPORT_COLUMNS as readonly string[]).includes(column.name) && typeIn(other, column.name) !== undefined && typeIn(other, column.name) !== column.type)
      .map((column) => `${column.name} is ${column.type} in ${first.database} but ${typeIn(other, column.name)!} in ${other.database}`),
  );
  return differences.length === 0 ? undefined : `the sources' columns must have the same types, the report is one CSV: ${differences.join('; ')}`;
}
