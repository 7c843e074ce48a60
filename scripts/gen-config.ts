// Writes config/default.yaml from the schema. Run with `npm run gen:config`.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderConfigYaml } from '../src/config/document.js';
import { defaultConfig } from '../src/config/loader.js';

const target = fileURLToPath(new URL('../../config/default.yaml', import.meta.url));
writeFileSync(target, renderConfigYaml(defaultConfig(), { comments: true }));
console.log(`wrote ${target}`);
