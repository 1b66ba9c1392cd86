/**
 * The import direction of src/, checked in `npm test` (test/architecture.test.ts):
 * cli → loader → domains (extract, report, storage, csv, alerts, telemetry, log, ops) → config (types, the spec's vocabulary).
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'config-is-the-ground-floor',
      comment: 'src/config holds the configuration types and the settings vocabulary: it imports nothing else of ours, so every domain can use it.',
      severity: 'error',
      from: { path: '^src/config/' },
      to: { path: '^src/', pathNot: '^src/config/' },
    },
    {
      name: 'no-domain-imports-the-loader',
      comment: 'The loader composes the domains\' settings; a domain importing it would run the dependency back up. Only cli/ (and main) may.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/(loader|cli)/|^src/main\\.ts$' },
      to: { path: '^src/loader/' },
    },
    {
      name: 'loader-sits-under-cli',
      comment: 'The loader is below the commands.',
      severity: 'error',
      from: { path: '^src/loader/' },
      to: { path: '^src/cli/|^src/main\\.ts$' },
    },
    {
      name: 'nothing-imports-the-cli',
      comment: 'Commands are the top floor: only main starts them.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/|^src/main\\.ts$' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'no-circular',
      comment: 'A cycle hides which module is the lower one.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: 'node_modules' },
  },
};
