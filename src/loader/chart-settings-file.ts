import { KNOWN_VARIABLES, LIBPQ_VARIABLES, OWN_PREFIXES } from './settings-spec.ts';

/** Where the chart reads it (`.Files.Get`); written by `npm run docs:config`. */
export const CHART_SETTINGS_FILE = 'charts/daily-report/files/worker-settings.json';

/**
 * The worker's variable names, for the chart: its templates refuse an `extraEnv` name with one of
 * our prefixes that the worker does not know (REPORT_LOCK_LEAS), at `helm install` rather than at
 * 01:00, when the worker refuses a near-miss with exit 2 or ignores the setting meant. Generated
 * from the settings spec; test/config/spec-mirrors.test.ts fails when it is stale.
 */
export function chartSettingsFile(): string {
  const document = {
    $comment: 'Generated from the worker\'s settings spec by `npm run docs:config`; do not edit.',
    prefixes: OWN_PREFIXES,
    variables: [...KNOWN_VARIABLES, ...Object.keys(LIBPQ_VARIABLES)].sort(),
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}
