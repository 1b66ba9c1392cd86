import { alertSettings } from '../alerts/alert-settings.ts';
import type { Command, Setting, SettingsDomain, SettingsSpec } from '../config/setting.ts';
import { databaseSettings } from '../extract/database-settings.ts';
import { logSettings } from '../log/log-settings.ts';
import { reportSettings } from '../report/report-settings.ts';
import { storageSettings } from '../storage/storage-settings.ts';
import { telemetrySettings } from '../telemetry/telemetry-settings.ts';

/**
 * The whole settings spec, composed from the domains that own it (in the order the docs list
 * them). Adding a setting is one entry in its domain's spec plus its use in that domain's build.
 */
export const DOMAINS = {
  database: databaseSettings,
  report: reportSettings,
  storage: storageSettings,
  log: logSettings,
  alerts: alertSettings,
  telemetry: telemetrySettings,
} as const satisfies Record<string, SettingsDomain<SettingsSpec, unknown>>;

export const ALL_SETTINGS: readonly Setting[] = Object.values(DOMAINS).flatMap((domain) => Object.values(domain.spec) as Setting[]);

/** The settings a command reads (the others keep their defaults and are not looked at). */
export function settingsFor(command: Command): Setting[] {
  return ALL_SETTINGS.filter((setting) => setting.commands.includes(command));
}

/** Every variable the job knows, `X_FILE` forms included: an unknown one near these is a typo. */
export const KNOWN_VARIABLES: readonly string[] = ALL_SETTINGS.flatMap((s) => (s.fromFile ? [s.name, `${s.name}_FILE`] : [s.name]));

/** Prefixes of our variables (and libpq's): an unknown variable with one of these is looked at. */
export const OWN_PREFIXES = ['PG', 'REPORT_', 'CSV_', 'STORAGE_', 'LOCAL_STORAGE_', 'S3_', 'AZURE_STORAGE_', 'AZURE_ENCRYPTION', 'AZURE_BLOCK', 'AZURE_MAX', 'AWS_REGION', 'AWS_DEFAULT_REGION', 'LOG_', 'ALERT_', 'TELEMETRY_'];

/**
 * libpq variables the job does not read. Not typos: a warning says they are ignored. (node-postgres
 * itself reads PGOPTIONS and PGCLIENTENCODING, hence their own note.)
 */
export const LIBPQ_VARIABLES: Readonly<Record<string, string>> = Object.fromEntries(
  [
    'PGHOSTADDR', 'PGREQUIREAUTH', 'PGCHANNELBINDING', 'PGSSLNEGOTIATION', 'PGSSLCERT', 'PGSSLKEY',
    'PGSSLCERTMODE', 'PGSSLCRL', 'PGSSLCRLDIR', 'PGSSLSNI', 'PGREQUIREPEER', 'PGSSLMINPROTOCOLVERSION', 'PGSSLMAXPROTOCOLVERSION', 'PGGSSENCMODE',
    'PGKRBSRVNAME', 'PGGSSLIB', 'PGGSSDELEGATION', 'PGAPPNAME', 'PGTARGETSESSIONATTRS', 'PGLOADBALANCEHOSTS', 'PGDATESTYLE', 'PGTZ',
    'PGGEQO', 'PGSYSCONFDIR', 'PGLOCALEDIR', 'PGREQUIRESSL', 'PGSSLCOMPRESSION', 'PGDATA',
  ].map((name): [string, string] => [name, 'a libpq variable daily-report does not use']).concat([
    ['PGOPTIONS', 'read by node-postgres as is (server options for the session); daily-report does not check it'],
    ['PGCLIENTENCODING', 'read by node-postgres as is; daily-report does not check it'],
    ['PGSERVICE', 'not read by daily-report: name the service in REPORT_SOURCES (REPORT_SOURCES=eu reads that one service from PGSERVICEFILE)'],
  ]),
);
