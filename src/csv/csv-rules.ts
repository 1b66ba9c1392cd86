import { ReportDataIsInvalid } from '../errors.ts';

/**
 * Every rule of the report's CSV, each stated once. Both engines draw on this module: the COPY
 * engine through the SQL it generates (PostgreSQL writes the records), the cursor engine through
 * the functions (our encoder writes them). A property test holds the two renderings of each rule
 * to the same bytes (test/extract/engine-identity.test.ts); docs/csv-contract.md explains them.
 */

/** How a column's text is written to the CSV. */
export type ColumnKind = 'text' | 'timestamptz' | 'timestamp' | 'verbatim';

/** What PostgreSQL tells about a result column: RowDescription, and pg_type for the category. */
export interface ColumnType {
  readonly dataTypeID: number;
  /** pg_type.typcategory (one letter), when it was looked up. */
  readonly typeCategory?: string | undefined;
}

// Type OIDs are fixed in PostgreSQL's catalog (pg_type.dat), the same on every server.
export const OID = { char: 18, name: 19, text: 25, xml: 142, bpchar: 1042, varchar: 1043, timestamp: 1114, timestamptz: 1184, refcursor: 1790 } as const;

/**
 * Formula guard, which columns: the string category `S` (text, varchar, char(n), name, citext,
 * and any domain over them: RowDescription names a domain's base type, and a domain has its base
 * type's category), enums (`E`: their labels are free text), and the one-byte `"char"` (`Z`).
 * Every other type has a syntax of its own that never needs it, and guarding it would corrupt data:
 * `-12.50` (numeric), `-1 days` (interval), `-infinity`.
 */
export const GUARDED_CATEGORIES: Readonly<Record<string, string>> = { S: 'string', E: 'enum' };
const BUILT_IN_STRINGS = new Set<number>([OID.text, OID.varchar, OID.bpchar, OID.name]);

/**
 * Built-in types outside those categories (`U`) whose text is nevertheless free text: an `xml`
 * content fragment can be plain text (`xmlparse(content '=HYPERLINK(…)')`), and a `refcursor` is
 * any name. A domain over either is described by its base type, so it is covered too.
 */
export const FREE_TEXT_TYPES: Readonly<Record<number, string>> = { [OID.xml]: 'xml', [OID.refcursor]: 'refcursor' };

export function columnKind(type: ColumnType): ColumnKind {
  if (type.dataTypeID === OID.timestamptz) return 'timestamptz';
  if (type.dataTypeID === OID.timestamp) return 'timestamp';
  if (type.dataTypeID === OID.char || type.dataTypeID in FREE_TEXT_TYPES) return 'text';
  if (type.typeCategory !== undefined) return type.typeCategory in GUARDED_CATEGORIES ? 'text' : 'verbatim';
  return BUILT_IN_STRINGS.has(type.dataTypeID) ? 'text' : 'verbatim';
}

// ——— The formula guard ———————————————————————————————————————————————————————————————

/**
 * Cells starting with one of these make a spreadsheet evaluate them (OWASP "CSV injection"):
 * `= + - @`, tab, CR. A guarded cell gets a leading `'`.
 */
export const FORMULA_FIRST_CODES: readonly number[] = ['=', '+', '-', '@', '\t', '\r'].map((c) => c.charCodeAt(0));
const FORMULA_CODE_SET = new Set(FORMULA_FIRST_CODES);
export const FORMULA_PREFIX = "'";

export function startsLikeFormula(value: string): boolean {
  return FORMULA_CODE_SET.has(value.charCodeAt(0));
}

/**
 * The same guard in SQL. `ascii()` is the first character's code (0 for '', NULL for NULL);
 * measured at a quarter of the cost of `left(value, 1)`. The text is the type's own output:
 * `char(n)` keeps its padding, which a `::text` cast would strip (COPY writes it padded).
 */
export function guardedTextSql(value: string, type: ColumnType): string {
  const text = type.dataTypeID === OID.bpchar ? `pg_catalog.textin(pg_catalog.bpcharout(${value}))` : `${value}::text`;
  return `CASE WHEN ascii(${text}) IN (${FORMULA_FIRST_CODES.join(', ')}) THEN ${sqlLiteral(FORMULA_PREFIX)} || ${text} ELSE ${text} END`;
}

// ——— Timestamps —————————————————————————————————————————————————————————————————————————

/**
 * Every `timestamptz` and `timestamp` value, `data_extracao` and the manifest's instants
 * included, has one fixed form: `2024-10-05T01:00:03.120000-03:00` — microseconds always (what
 * PostgreSQL keeps, so a value round-trips exactly, and the width never changes from one night to
 * the next), the offset of REPORT_TIMEZONE as `±HH:MM`, with `:SS` only where the zone's offset
 * had seconds (local mean time, before ~1920: `-03:06:28`). `timestamp` has no offset.
 * `infinity` and `-infinity` are written as those words. Years outside 0001–9999 (and BC) have
 * no such form: the run stops with exit 3 naming the column and the row.
 */
export const TIMESTAMP_FORM = 'YYYY-MM-DDTHH:MM:SS.ffffff±HH:MM[:SS]';
export const FIRST_YEAR = 1;
export const LAST_YEAR = 9999;

/** A local date and time with its offset from UTC, as the contract writes it. */
export interface WallClock {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  readonly microsecond: number;
  /** Seconds east of UTC; undefined for a `timestamp` (no zone). */
  readonly offsetSeconds?: number | undefined;
}

/** The contract's form of a wall-clock time (used for the window, `extracted_at` and the cursor engine's cells). */
export function formatWallClock(t: WallClock): string {
  if (t.year < FIRST_YEAR || t.year > LAST_YEAR) throw new RangeError(`year ${t.year} is outside ${FIRST_YEAR}–${LAST_YEAR}`);
  const text = `${pad(t.year, 4)}-${pad(t.month, 2)}-${pad(t.day, 2)}T${pad(t.hour, 2)}:${pad(t.minute, 2)}:${pad(t.second, 2)}.${pad(t.microsecond, 6)}`;
  return t.offsetSeconds === undefined ? text : text + formatOffset(t.offsetSeconds);
}

/** `±HH:MM`, or `±HH:MM:SS` when the offset has seconds; never `Z`. */
export function formatOffset(offsetSeconds: number): string {
  const abs = Math.abs(offsetSeconds);
  const seconds = abs % 60;
  return `${offsetSeconds < 0 ? '-' : '+'}${pad(Math.floor(abs / 3600), 2)}:${pad(Math.floor(abs / 60) % 60, 2)}${seconds === 0 ? '' : `:${pad(seconds, 2)}`}`;
}

/** A timestamp the contract cannot write (year outside 0001–9999, or BC). */
export class TimestampOutOfRange extends Error {
  readonly value: string;
  constructor(value: string) {
    super(`${value} is outside years ${pad(FIRST_YEAR, 4)}–${LAST_YEAR}`);
    this.value = value;
  }
}

const SPACE = 32;
const DASH = 45;
const COLON = 58;
const DOT = 46;
const PLUS = 43;
const ZERO = 48;
const NINE = 57;
const MICROS = '000000';

/**
 * PostgreSQL's text for a timestamp (DateStyle ISO: `2024-10-05 01:00:03.12-03`, the fraction
 * trimmed, the offset `±HH[:MM[:SS]]`) in the contract's form. `withOffset` for `timestamptz`.
 * Throws `TimestampOutOfRange` for BC and 5-digit years (`12345-06-01 …`, `… BC`).
 */
export function contractTimestamp(text: string, withOffset: boolean): string {
  const n = text.length;
  if (n < 19 || text.charCodeAt(4) !== DASH || text.charCodeAt(10) !== SPACE || text.charCodeAt(16) !== COLON) return special(text);
  let i = 19;
  let fraction = MICROS;
  if (text.charCodeAt(i) === DOT) {
    let j = i + 1;
    while (j < n && isDigit(text.charCodeAt(j))) j++;
    fraction = (text.slice(i + 1, j) + MICROS).slice(0, 6);
    i = j;
  }
  const clock = `${text.slice(0, 10)}T${text.slice(11, 19)}.${fraction}`;
  if (!withOffset) return i === n ? clock : special(text);
  const sign = text.charCodeAt(i);
  if ((sign !== PLUS && sign !== DASH) || n < i + 3) return special(text);
  const rest = n - i;
  // ±HH, ±HH:MM, ±HH:MM:SS
  if (rest === 3) return `${clock}${text.slice(i)}:00`;
  // PostgreSQL writes minutes and seconds only when they are not zero, as the contract does.
  if ((rest === 6 || rest === 9) && isOffsetTail(text, i + 3, n)) return `${clock}${text.slice(i)}`;
  return special(text);
}

/** `:MM` or `:MM:SS` from `at` to the end (a ` BC` suffix is not one). */
function isOffsetTail(text: string, at: number, end: number): boolean {
  for (let j = at; j < end; j += 3) {
    if (text.charCodeAt(j) !== COLON || !isDigit(text.charCodeAt(j + 1)) || !isDigit(text.charCodeAt(j + 2))) return false;
  }
  return true;
}

function special(text: string): string {
  if (text === 'infinity' || text === '-infinity') return text;
  throw new TimestampOutOfRange(text);
}

/**
 * The same rule in SQL, for the COPY engine: a fixed-width `to_char` (`US` is always six digits),
 * the offset's seconds appended where it has them (to_char's TZM drops them), the infinities as
 * PostgreSQL writes them (to_char gives NULL for them), and a value outside 0001–9999 raises an
 * error that names the column (`outOfRangeMarker`), so the engine can report the row.
 */
export function timestampSql(value: string, kind: 'timestamptz' | 'timestamp', column: string): string {
  const clock = `to_char(${value}, 'YYYY-MM-DD"T"HH24:MI:SS.US${kind === 'timestamptz' ? 'TZH:TZM' : ''}')`;
  const seconds = `mod(extract(timezone FROM ${value})::int, 60)`;
  const written = kind === 'timestamptz' ? `${clock} || CASE WHEN ${seconds} = 0 THEN '' ELSE ':' || to_char(abs(${seconds}), 'FM00') END` : clock;
  const marker = sqlLiteral(`${OUT_OF_RANGE_MARKER}${column}${OUT_OF_RANGE_MARKER}`);
  return (
    `CASE WHEN NOT isfinite(${value}) THEN ${value}::text ` +
    `WHEN ${outOfRangeSql(value, kind)} ` +
    `THEN (${marker} || ${value}::text)::int4::text ` +
    `ELSE ${written} END`
  );
}

/** True (in SQL) for a finite timestamp whose local year is outside 0001–9999. */
export function outOfRangeSql(value: string, kind: 'timestamptz' | 'timestamp'): string {
  return `(${value} < '${pad(FIRST_YEAR, 4)}-01-01 00:00:00'::${kind} OR ${value} >= '${LAST_YEAR + 1}-01-01 00:00:00'::${kind})`;
}

const OUT_OF_RANGE_MARKER = '~daily-report:timestamp-out-of-range~';

/** The column and value named by `timestampSql`'s error, if `message` is that error. */
export function outOfRangeMarker(message: string): { column: string; value: string } | undefined {
  const start = message.indexOf(OUT_OF_RANGE_MARKER);
  if (start === -1) return undefined;
  const columnStart = start + OUT_OF_RANGE_MARKER.length;
  const columnEnd = message.indexOf(OUT_OF_RANGE_MARKER, columnStart);
  if (columnEnd === -1) return undefined;
  const value = message.slice(columnEnd + OUT_OF_RANGE_MARKER.length).replace(/"$/, '');
  return { column: message.slice(columnStart, columnEnd), value };
}

/** The run's error for a timestamp the contract cannot write: exit 3, naming the column and the row. */
export function timestampOutOfRange(column: string, row: number | string, value: string, cause?: unknown): ReportDataIsInvalid {
  return new ReportDataIsInvalid(
    `row ${row}, column ${column}: the timestamp ${value} is outside years ${pad(FIRST_YEAR, 4)}–${LAST_YEAR} (or BC), which the report ` +
      `cannot write (its form is ${TIMESTAMP_FORM}); fix the data, or filter or convert it in REPORT_SQL_FILE`,
    { phase: 'extract', cause, context: { column, row, value } },
  );
}

// ——— Records ————————————————————————————————————————————————————————————————————————————

/**
 * RFC 4180 as PostgreSQL's `COPY … (FORMAT csv)` writes it, which the cursor engine copies: a field
 * is quoted when it contains the delimiter, a quote, CR or LF (inner quotes doubled); NULL is an
 * empty field and an empty string is `""`; records end in CRLF (COPY's LF is turned into CRLF).
 * COPY quotes a lone `\.` only in a one-column result; the report has five, so it is not quoted.
 */
export const CRLF = '\r\n';
export const QUOTE = '"';

/** The characters that make a field quoted, as a RegExp for the delimiter. */
export function quotingPattern(delimiter: string): RegExp {
  return new RegExp(`["\\r\\n${delimiter === '\t' ? '\\t' : `\\${delimiter}`}]`);
}

/**
 * `data_extracao` is the first column of the contract and, as a timestamp, the one the COPY
 * engine's record scanner rewrites into the contract's form (cheaper than `to_char` on the server);
 * `copy-select.ts` leaves that column in PostgreSQL's text form for it. Any other timestamp column
 * is converted by the SQL.
 */
export const SCANNED_COLUMN_INDEX = 0;

export function scannerRewritesFirstColumn(kinds: readonly ColumnKind[]): 'timestamptz' | 'timestamp' | undefined {
  const kind = kinds[SCANNED_COLUMN_INDEX];
  return kind === 'timestamptz' || kind === 'timestamp' ? kind : undefined;
}

export function sqlLiteral(text: string): string {
  return `E'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'").replaceAll('\t', '\\t').replaceAll('\r', '\\r').replaceAll('\n', '\\n')}'`;
}

function isDigit(code: number): boolean {
  return code >= ZERO && code <= NINE;
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}
