import { REPORT_COLUMNS } from './report-contract.ts';

/** How the report's CSV is written (CSV_DELIMITER, CSV_BOM, CSV_ESCAPE_FORMULAS). */
export interface CsvFormat {
  readonly delimiter: string;
  readonly bom: boolean;
  readonly escapeFormulas: boolean;
}

import { CRLF } from './csv-rules.ts';

export { CRLF } from './csv-rules.ts';

/** The header line: the five contract names (plain identifiers, never quoted), with the BOM when configured. */
export function csvHeader(format: CsvFormat): string {
  return `${format.bom ? '\uFEFF' : ''}${REPORT_COLUMNS.join(format.delimiter)}${CRLF}`;
}
