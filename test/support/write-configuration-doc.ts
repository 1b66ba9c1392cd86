// `npm run docs:config`: rewrites docs/configuration.md from the settings spec.
import { writeFileSync } from 'node:fs';
import { configurationReference } from '../../src/loader/configuration-reference.ts';

const path = new URL('../../docs/configuration.md', import.meta.url);
writeFileSync(path, configurationReference());
console.log(`wrote ${path.pathname}`);
