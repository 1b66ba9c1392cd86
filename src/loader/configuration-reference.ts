import type { Setting } from '../config/setting.ts';
import { SECRET_FILE_MAX_BYTES } from './load-config.ts';
import { DOMAINS } from './settings-spec.ts';

/**
 * docs/configuration.md, generated from the spec (a test keeps the file equal to this; rewrite it
 * with `npm run docs:config`). Nothing in it is written by hand but the introduction below.
 */

const TITLES: Record<keyof typeof DOMAINS, { title: string; file: string }> = {
  database: { title: 'Database', file: 'src/extract/database-settings.ts' },
  report: { title: 'Report and CSV', file: 'src/report/report-settings.ts' },
  storage: { title: 'Storage', file: 'src/storage/storage-settings.ts' },
  log: { title: 'Logs', file: 'src/log/log-settings.ts' },
  alerts: { title: 'Alerts', file: 'src/alerts/alert-settings.ts' },
  telemetry: { title: 'Telemetry', file: 'src/telemetry/telemetry-settings.ts' },
};

const INTRODUCTION = `# Configuration reference

<!-- Generated from the settings spec by \`npm run docs:config\`; test/config/spec-mirrors.test.ts fails when it is stale. -->

All configuration comes from environment variables and is validated **before any I/O**: an
invalid configuration lists every problem at once (variable, what is wrong, an example) and exits 2
without contacting the database or storage. Each domain owns its settings (the file named under
each heading); the loader (\`src/loader/\`) composes them per command: \`run\` and \`validate\` read
them all, \`backfill --missing-only\` only the storage settings and \`REPORT_KEY_TEMPLATE\`.

- **Empty means unset**: that is how Helm renders an empty value.
- **Secrets from files**: a setting marked *file* can be given as \`X_FILE\`, the path of a file
  holding the value (a mounted Kubernetes Secret; one trailing newline is ignored). Setting both
  \`X\` and \`X_FILE\` is an error. The file must be a regular file of at most ${SECRET_FILE_MAX_BYTES / 1024} KiB: a FIFO, a device
  (\`/dev/zero\`) or a directory is refused at once, and a value read from a file is never quoted
  in an error. \`X_FILE\` for a setting not marked *file* is an error, not ignored (PGSSLMODE would keep its default: plaintext).
- **Secrets are redacted everywhere**: the value of every setting marked *secret* is replaced by
  \`[redacted]\` in every log line, webhook payload and span, whatever wrote it. A secret under
  four characters cannot be told from ordinary text: it is not redacted, and the job warns so at start.
- **No connection URI in \`PGHOST\`**: \`postgres://user:password@host/db\` is refused (exit 2)
  without being echoed; give its parts in \`PGHOST\`, \`PGPORT\`, \`PGDATABASE\`, \`PGUSER\`, \`PGPASSWORD\`.
  The same holds for a URI or \`key=value\` string in \`PGDATABASE\` (libpq would expand it), and
  \`PGHOST\` is one host (no \`h1,h2\` list).
- **Typos are refused**: an unknown variable with one of our prefixes (\`PG\`, \`REPORT_\`,
  \`CSV_\`, \`STORAGE_\`, \`S3_\`, \`AZURE_STORAGE_\`, \`AWS_\`, \`LOG_\`, \`ALERT_\`, \`TELEMETRY_\` …) one or two
  letters from a known setting is an error naming it (\`PGSSLMOD: … did you mean PGSSLMODE?\`);
  any other is logged as a warning and ignored (the AWS SDK's own \`AWS_*\` are not warned about). Kubernetes service-link variables are ignored.
- **Bounds**: durations are written \`90s\`, \`5m\`, \`2h\`, \`1h30m\`, \`500ms\` or bare milliseconds,
  within the range each setting gives. Keys and prefixes cannot climb out of their bucket,
  container or directory (no leading \`/\`, no \`.\` or \`..\` segment, no \`//\`; a key has no trailing \`/\`),
  and stay short enough to publish (a name at most 180 bytes, a key template 880, a prefix 120).
  Part or block buffers (size × (in flight + 1)) stay within 2048 MiB. \`LOCAL_STORAGE_DIR\` must be
  a writable directory or creatable under one (checked with \`stat\`, nothing is created).
- **The report's zone**: \`REPORT_TIMEZONE\`, else the process's \`TZ\`; an empty \`TZ\` or one that is
  not an IANA zone (a POSIX rule such as \`BRT3\`) is refused rather than read as \`Etc/Unknown\`,
  and so is a UTC offset (\`+03:00\`, which PostgreSQL reads as 3 hours *west*: write \`Etc/GMT-3\`).
  A report date (\`--date\` or \`REPORT_DATE\`) after today in that zone is refused: its day has not ended.
- **\`daily-report validate\`** checks all of this, then every source database (connects, describes the query,
  checks the contract) and the storage (its preflight), prints them all, and exits with a
  source's failure code if one failed, else the storage's, else 3 for a broken contract, else 0
  (the storage preflight takes the report's lock and releases it: a lock another run holds is
  printed as a note, not a failure).

**Adding a setting** is one entry in its domain's spec (\`defineSettings\` in the file named under its
heading: name, form and bounds, default, documentation, secret and file flags, the commands that
read it) plus its use in that domain's \`build\`; then \`npm run docs:config\`. The loader, this
reference, the typo check and the chart test pick it up from the spec.
`;

export function configurationReference(): string {
  const sections = Object.entries(DOMAINS).map(([name, domain]) => {
    const { title, file } = TITLES[name as keyof typeof DOMAINS];
    const rows = (Object.values(domain.spec) as Setting[]).map(
      (s) => `| \`${s.name}\`${s.fromFile ? ` / \`${s.name}_FILE\`` : ''} | ${cell(defaultOf(s))} | ${cell(s.form)} | ${cell([s.doc, marks(s, name !== 'storage')].filter(Boolean).join(' '))} |`,
    );
    const scope = name === 'storage' ? ' All of these are also read by `backfill --missing-only`.' : '';
    return `## ${title}\n\nOwned by \`${file}\`.${scope}\n\n| Variable | Default | Form | Meaning |\n|---|---|---|---|\n${rows.join('\n')}\n`;
  });
  return `${INTRODUCTION}\n${sections.join('\n')}`;
}

function defaultOf(s: Setting): string {
  if (s.defaultDoc !== undefined) return s.defaultDoc;
  if (s.required !== undefined) return '*(required)*';
  return s.defaultText === undefined ? '*(none)*' : `\`${s.defaultText}\``;
}

/** A table cell: a "|" not already escaped would end it. */
function cell(text: string): string {
  return text.replace(/(?<!\\)\|/g, '\\|');
}

function marks(s: Setting, noteBackfill: boolean): string {
  const notes = [s.secret ? '*secret*' : '', s.fromFile ? '*file*' : ''].filter(Boolean).join(', ');
  const backfill = noteBackfill && s.commands.includes('backfill') && s.commands.length < 4 ? 'Also read by `backfill --missing-only`.' : '';
  return [notes, backfill].filter(Boolean).join('. ');
}
