import { createRequire } from 'node:module';

// dist/src/version.js -> ../../package.json
const pkg = createRequire(import.meta.url)('../../package.json') as { name: string; version: string };

export const VERSION: string = pkg.version;
export const PACKAGE_NAME: string = pkg.name;
