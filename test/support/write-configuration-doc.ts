// `npm run docs:config`: rewrites docs/configuration.md and the chart's copy of the worker's variable names from the settings spec.
import { writeFileSync } from 'node:fs';
import { CHART_SETTINGS_FILE, chartSettingsFile } from '../../src/loader/chart-settings-file.ts';
import { configurationReference } from '../../src/loader/configuration-reference.ts';

for (const [file, text] of [['docs/configuration.md', configurationReference()], [CHART_SETTINGS_FILE, chartSettingsFile()]] as const) {
  const path = new URL(`../../${file}`, import.meta.url);
  writeFileSync(path, text);
  console.log(`wrote ${path.pathname}`);
}
