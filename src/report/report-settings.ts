import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { IF_EXISTS, REPORT_COMPRESSIONS, REPORT_ENGINES, type CsvConfig, type ReportCompression, type ReportConfig } from '../config/config.ts';
import { defineSettings, duration, fileText, flag, keyPathProblems, oneOf, text, wholeNumber, type BuildContext, type SettingsDomain } from '../config/setting.ts';
import { PARAMETER_NAMES, positionalParameters, unknownParameterNames } from '../extract/named-parameters.ts';
import { keyCompressionProblem } from './report-compression.ts';
import { DEFAULT_KEY_TEMPLATE, keyTemplateProblems } from './report-key.ts';
import { isReportDate, isTimezone, processTimezone, processTimezoneProblem, REPORT_DATE_RULE, todayIn } from './report-window.ts';
import { scheduledReportDate } from './scheduled-date.ts';

/** The query shipped with the product (`sql/report.sql`), resolved from this module so it works from src/ and dist/. */
export const DEFAULT_SQL_FILE = fileURLToPath(new URL('../../sql/report.sql', import.meta.url));

/** Workers beyond this gain nothing a database server of common size can give, and cost a connection each. */
export const MAX_PARALLELISM = 16;

const DELIMITERS: Record<string, string> = { ',': ',', ';': ';', '|': '|', '\t': '\t', '\\t': '\t', tab: '\t' };
const DATE_PROBLEM = `must be ${REPORT_DATE_RULE} (example: 2024-10-05)`;

export const REPORT_SETTINGS = defineSettings({
  REPORT_DATE: text({
    form: 'date YYYY-MM-DD from 0001-01-02 to 9999-12-31', defaultDoc: 'the day the CronJob scheduled the run, else today, in `REPORT_TIMEZONE`', check: (s) => (isReportDate(s) ? undefined : DATE_PROBLEM),
    doc: "Report date `YYYY-MM-DD`; `--date` wins. A date after today in the report's zone is refused: its day has not ended. Unset, a Job the CronJob created (`JOB_NAME` = `CRONJOB_NAME`-<minutes>) reports the day it was scheduled, so a retry after midnight still publishes that day.",
  }),
  REPORT_TIMEZONE: text({
    form: 'IANA time zone', defaultDoc: 'the process\'s zone (`TZ`, "server time")',
    check: (s) => (isTimezone(s) ? undefined : 'must be an IANA time zone name, not an offset or a POSIX rule (example: America/Sao_Paulo)'),
    doc: "IANA zone name of the report's day, e.g. `America/Sao_Paulo`; offsets (`-03:00`) and POSIX rules (`GMT+3`) are refused, and without it the process's zone must be an IANA name too ([csv-contract.md](csv-contract.md#time-zones-iana-names-only)).",
  }),
  REPORT_SQL_FILE: fileText({ maxBytes: 1024 * 1024, default: DEFAULT_SQL_FILE, defaultDoc: '`sql/report.sql` (shipped)', doc: 'The report query (see The query and its parameters).' }),
  REPORT_STATEMENT_TIMEOUT: duration({
    min: '100ms', max: '24h', example: '2h', default: '2h',
    doc: 'Bound on the whole extraction (`statement_timeout`): `90s`, `5m`, `2h`, `1h30m` or milliseconds.',
  }),
  REPORT_ENGINE: oneOf({
    values: REPORT_ENGINES, default: 'copy', hint: ' (cursor is for servers without COPY TO STDOUT)',
    doc: '`copy`: PostgreSQL writes the CSV records (`COPY … TO STDOUT`), fastest. `cursor`: rows through `pg-cursor` and our encoder, for servers or proxies without `COPY TO STDOUT` (e.g. Amazon Redshift). Both write byte-identical reports.',
  }),
  // Measured on 1M rows: 500 to 10,000 rows per fetch run equally fast; above 2,000 peak RSS
  // jumps (167 → 254 MB at 5,000). 2,000 keeps round trips to a remote database few (README, Performance).
  REPORT_FETCH_ROWS: wholeNumber({ min: 1, max: 1_000_000, example: 2_000, default: '2000', doc: 'Cursor engine: rows per fetch (see Performance). At most twice this is in memory.' }),
  REPORT_KEY_TEMPLATE: text({
    default: DEFAULT_KEY_TEMPLATE, commands: ['run', 'validate', 'backfill'], form: 'object key with date placeholders',
    check: (s) => {
      const problems = [...keyTemplateProblems(s), ...keyPathProblems(s, 'key').filter((p) => /end with|empty segment|control|at most|longer than/.test(p))];
      return problems.length === 0 ? undefined : problems.join('; ');
    },
    doc: 'Object key; placeholders `{YYYYMMDD}`, `{YYYY-MM-DD}`, `{YYYY}`, `{MM}`, `{DD}`. Must contain the date; no leading or trailing `/`, no `..`.',
  }),
  REPORT_COMPRESSION: oneOf({
    values: REPORT_COMPRESSIONS, default: 'none', commands: ['run', 'validate', 'backfill'],
    doc: '`gzip` or `zstd` compresses the published report: the key gains `.gz` / `.zst`, the manifest gives the stored (compressed) `sha256`/`bytes` and the uncompressed ones ([compression.md](compression.md)). A dry run writes plain CSV.',
  }),
  REPORT_IF_EXISTS: oneOf({ values: IF_EXISTS, default: 'overwrite', doc: 'When the report already exists: `overwrite` (atomically), `skip` (exit 0, no database work), `fail` (exit 5).' }),
  REPORT_LOCK_LEASE: duration({
    min: '5s', max: '1h', example: '5m', default: '5m',
    doc: 'How long the report\'s lock outlives its last renewal. A run renews it every quarter of this while it works, however long the extraction; a run that meets the lock of a run that was killed waits for it to expire (at most this and a quarter more) and publishes, instead of failing every retry ([publishing.md](publishing.md#the-lock)). Longer rides out a longer storage outage before a waiting run may take over; shorter frees a killed run\'s date sooner.',
  }),
  REPORT_PARALLELISM: wholeNumber({
    min: 1, max: MAX_PARALLELISM, example: 4, default: '1',
    doc: 'Workers extracting the report at once, each on its own connection, all under one snapshot ([parallel-extraction.md](parallel-extraction.md)). `1`: one stream, as before. Above 1 the query must split by its window; each worker adds a connection and its buffers (the memory formula there).',
  }),
  REPORT_SPILL_DIR: text({
    form: 'path of a directory', defaultDoc: 'the OS temporary directory (`TMPDIR`, `/tmp`)',
    doc: 'With `REPORT_PARALLELISM` > 1 or several sources: where segments that finish ahead of the upload wait, in files only this process can read, removed when the run ends (the chart mounts an emptyDir). Needs room for the look-ahead ([parallel-extraction.md](parallel-extraction.md#disk)).',
  }),
  REPORT_PROGRESS_INTERVAL: duration({ min: '100ms', max: '1h', example: '10s', default: '10s', doc: 'How often a progress line is logged during a long extraction.' }),
  CSV_DELIMITER: text({
    default: ',', form: '`,` `;` `|` or tab',
    check: (s) => (s in DELIMITERS ? undefined : 'must be one of "," ";" "|" or tab (write \\t or tab)'),
    doc: '`,`, `;`, `\\|` or tab (`\\t` or `tab`). Brazilian Excel expects `;`.',
  }),
  CSV_BOM: flag({ default: 'false', doc: '`true` writes a UTF-8 BOM so Excel detects UTF-8.' }),
  CSV_ESCAPE_FORMULAS: flag({ default: 'true', doc: "Prefix formula-like text cells with `'` (see the contract)." }),
});

export const reportSettings: SettingsDomain<typeof REPORT_SETTINGS, { report: ReportConfig; csv: CsvConfig }> = {
  spec: REPORT_SETTINGS,
  build(v, context) {
    const timezone = context.failed('REPORT_TIMEZONE') ? undefined : (v.REPORT_TIMEZONE ?? processZone(context));
    const forced = context.date ?? v.REPORT_DATE;
    // JOB_NAME and CRONJOB_NAME belong to the alerts domain (the chart sets both from the pod); read here as facts.
    const date = forced ?? (timezone === undefined ? undefined : scheduledReportDate(context.env.CRONJOB_NAME, context.env.JOB_NAME, timezone, context.now));
    if (context.date !== undefined && !isReportDate(context.date)) {
      context.problem('--date', `must be ${REPORT_DATE_RULE} (example: --date 2024-10-05) (got ${JSON.stringify(context.date)})`);
    } else if (forced !== undefined && timezone !== undefined && forced > todayIn(timezone, context.now)) {
      // The window of date D ends at D 00:00: before then the report would be partial, under its final name.
      context.problem(context.date === undefined ? 'REPORT_DATE' : '--date', `${forced} is in the future in ${timezone} (the report's zone): a report covers a day that has ended`);
    }
    // Notepad and "UTF-8 with BOM" editors start the file with U+FEFF, which PostgreSQL reads as part of
    // the first word (`syntax error at or near "SELECT"` with an invisible character): it is not SQL.
    const sqlText = context.failed('REPORT_SQL_FILE') ? '' : v.REPORT_SQL_FILE.text.replace(/^\uFEFF/, '');
    if (!context.failed('REPORT_SQL_FILE')) checkQuery(v.REPORT_SQL_FILE.path, sqlText, context);
    checkKeyCompression(v.REPORT_KEY_TEMPLATE, v.REPORT_COMPRESSION, context);
    return {
      report: {
        date,
        timezone: timezone ?? 'UTC',
        query: { file: v.REPORT_SQL_FILE.path, text: sqlText },
        statementTimeoutMs: v.REPORT_STATEMENT_TIMEOUT,
        engine: v.REPORT_ENGINE,
        fetchRows: v.REPORT_FETCH_ROWS,
        keyTemplate: v.REPORT_KEY_TEMPLATE,
        compression: v.REPORT_COMPRESSION,
        ifExists: v.REPORT_IF_EXISTS,
        lockLeaseMs: v.REPORT_LOCK_LEASE,
        progressIntervalMs: v.REPORT_PROGRESS_INTERVAL,
        parallelism: v.REPORT_PARALLELISM,
        spillDir: spillDir(v.REPORT_SPILL_DIR, context),
      },
      csv: { delimiter: DELIMITERS[v.CSV_DELIMITER] ?? ',', bom: v.CSV_BOM, escapeFormulas: v.CSV_ESCAPE_FORMULAS },
    };
  },
};

/** A spill directory that is set is checked (exists or can be created, writable) before any I/O; the OS's own is taken as it is. */
function spillDir(dir: string | undefined, context: BuildContext): string {
  if (dir === undefined) return tmpdir();
  context.requireDirectory('REPORT_SPILL_DIR', dir);
  return dir;
}

/**
 * The process's zone when REPORT_TIMEZONE is unset. An empty or non-IANA TZ (a POSIX rule such as
 * `GMT+3`, which PostgreSQL and the job read with opposite signs) would silently shift the day's
 * edges or the written offsets, so it is refused (report-window.ts says why, once).
 */
function processZone(context: BuildContext): string | undefined {
  const problem = processTimezoneProblem(context.env);
  if (problem !== undefined) {
    context.problem('TZ', problem);
    return undefined;
  }
  return processTimezone(context.env);
}

/** A template ending in .gz or .zst names the compression: it must be the configured one (also for `backfill`, which builds no report domain). */
export function checkKeyCompression(template: string, compression: ReportCompression, context: Pick<BuildContext, 'failed' | 'problem'>): void {
  if (context.failed('REPORT_KEY_TEMPLATE') || context.failed('REPORT_COMPRESSION')) return;
  const problem = keyCompressionProblem(template, compression);
  if (problem !== undefined) context.problem('REPORT_COMPRESSION', problem);
}

function checkQuery(file: string, sql: string, context: BuildContext): void {
  if (sql.trim() === '') return context.problem('REPORT_SQL_FILE', `${file} is empty; it must hold the report's SELECT`);
  const unknown = unknownParameterNames(sql);
  if (unknown.length > 0) {
    context.problem(
      'REPORT_SQL_FILE',
      `${file} uses unknown parameter(s) ${unknown.map((n) => `:${n}`).join(', ')}; the job provides ${PARAMETER_NAMES.map((n) => `:${n}`).join(', ')} (write "::" for a cast)`,
    );
  }
  const positional = positionalParameters(sql);
  if (positional.length > 0) {
    context.problem('REPORT_SQL_FILE', `${file} uses positional parameter(s) ${positional.join(', ')}; the job binds none: use the named ones (${PARAMETER_NAMES.map((n) => `:${n}`).join(', ')})`);
  }
}
