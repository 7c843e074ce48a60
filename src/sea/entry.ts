// The standalone binary's main script (bundled to CommonJS by
// scripts/build-binary.mjs: a SEA main must be CommonJS on Node 20). It puts
// the embedded files in place (src/sea/cache.ts), tells the bundled code where
// they are, then runs the ordinary entry, src/main.ts.
//
// In the bundle, every `import.meta.url` of our code reads
// globalThis.__mmoSeaRoot (see the build script), so it must be set before
// main.js is evaluated: hence the dynamic import, which esbuild keeps lazy.

import { Script, constants as vmConstants } from 'node:vm';
import { ensureTree, MANIFEST_KEY, SeaCacheError, type SeaManifest } from './cache.js';

interface SeaApi {
  isSea(): boolean;
  getAsset(key: string): ArrayBuffer;
  getAsset(key: string, encoding: string): string;
}

declare global {
  // eslint-disable-next-line no-var
  var __mmoSeaRoot: string | undefined;
  /** import() for files on disk, set in the binary's main thread (see below); unset elsewhere. */
  // eslint-disable-next-line no-var
  var __mmoImport: ((specifier: string) => Promise<unknown>) | undefined;
}

// Not createRequire(import.meta.url): in the bundle that reads the root, which is not set yet.
const sea = process.getBuiltinModule('node:sea') as SeaApi;

function start(): void {
  if (!sea.isSea()) throw new SeaCacheError('dist/src/sea/entry.js is the standalone binary\'s entry; run dist/src/main.js instead');
  const manifest = JSON.parse(sea.getAsset(MANIFEST_KEY, 'utf8')) as SeaManifest;
  const t0 = performance.now();
  const { root, outcome } = ensureTree(manifest, (key) => new Uint8Array(sea.getAsset(key)));
  globalThis.__mmoSeaRoot = root;
  // Node 20's SEA main script has no ESM loader behind import(): it throws "A
  // dynamic import callback was not specified" for any file (a studio's
  // world.content module). A function compiled with the main context's
  // default loader gets the ordinary one. Worker threads run ESM files and
  // have it anyway.
  // Its ExperimentalWarning says nothing an operator can act on: that one alone is dropped.
  const emitWarning = process.emitWarning;
  process.emitWarning = function (this: unknown, warning: string | Error, ...rest: unknown[]) {
    if (String((warning as Error)?.message ?? warning).includes('USE_MAIN_CONTEXT_DEFAULT_LOADER')) return;
    return (emitWarning as (...a: unknown[]) => void).call(process, warning, ...rest);
  } as typeof process.emitWarning;
  globalThis.__mmoImport = new Script('(specifier) => import(specifier)', {
    filename: 'mmo-server-import.js',
    importModuleDynamically: vmConstants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  }).runInThisContext() as (specifier: string) => Promise<unknown>;
  if (process.env.MMO_SEA_DEBUG) process.stderr.write(`mmo-server: embedded files ${outcome} in ${root} (${(performance.now() - t0).toFixed(1)} ms)\n`);
}

try {
  start();
} catch (err) {
  process.stderr.write(`mmo-server: ${(err as Error).message}\n`);
  process.exit(1);
}
void import('../main.js');
