// Builds the standalone binary dist/bin/mmo-server (linux-x64): Node's Single
// Executable Application support, with the server bundled by esbuild and the
// parts that must be files embedded as SEA assets (src/sea/cache.ts writes
// them once to a versioned cache directory and checks them by hash).
//
//   npm run build:binary                 tsc + web bundles, then the binary
//   node scripts/build-binary.mjs --no-build [--out FILE] [--json]
//
// What goes where, and why:
// - SEA main (dist/sea/main.cjs): src/sea/entry.ts and the whole server, one
//   CommonJS bundle (a Node 20 SEA main must be CommonJS), with V8's code cache.
// - Worker bundles (zone worker, gateway thread, piscina tasks): ESM, written
//   as files. `new Worker()` and piscina take a file, and the zone worker uses
//   top-level await, so `eval: true` (CommonJS source text) would not carry
//   it; as files they also keep their own import.meta.url and can load the
//   native addons next to them with an ordinary require.
// - piscina's own thread entry (node_modules/piscina/dist/worker.js): it
//   spawns it by path from its __dirname, so it is bundled to that path.
// - Native addons (.node): dlopen needs a file; embedded and extracted.
// - Web pages: extracted with the rest (the server reads them once at start).
//
// In every bundled file `import.meta.url` becomes __mmoUrl("<path in the
// package>"), and in dependencies __dirname/__filename become __mmoPath(...),
// both resolved against globalThis.__mmoSeaRoot: the extracted tree mirrors
// the package, so the server's path logic runs unchanged.

import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, cpSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const OUT = opt('--out') ?? join(ROOT, 'dist', 'bin', 'mmo-server');
const WORK = join(ROOT, 'dist', 'sea');
const STAGE = join(WORK, 'stage');
const json = args.includes('--json');
const require = createRequire(import.meta.url);

if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.error(`build-binary: builds for linux-x64 only (this is ${process.platform}-${process.arch})`);
  process.exit(2);
}

const t0 = performance.now();
const phases = {};
const phase = (name, since) => (phases[name] = Math.round(performance.now() - since));

function run(cmd, argv) {
  const r = spawnSync(cmd, argv, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) {
    console.error(`build-binary: ${[cmd, ...argv].join(' ')} failed (exit ${r.status})`);
    process.exit(1);
  }
}

if (!args.includes('--no-build')) {
  const t = performance.now();
  run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json']);
  run(process.execPath, ['scripts/build-web.mjs', '--quiet']);
  phase('tsc+web', t);
}
for (const need of ['dist/src/sea/entry.js', 'dist/src/main.js', 'dist/web/play/index.html', 'dist/web/admin/index.html']) {
  try {
    statSync(join(ROOT, need));
  } catch {
    console.error(`build-binary: ${need} is missing: run npm run build first (or drop --no-build)`);
    process.exit(1);
  }
}

const posix = (p) => p.split(sep).join('/');
const ABI = process.versions.modules;
const UWS_PKG = 'node_modules/@trufflesuite/uws-js-unofficial';
const NATIVES = [
  `${UWS_PKG}/binaries/uws_linux_x64_${ABI}.node`,
  'node_modules/better-sqlite3/build/Release/better_sqlite3.node',
  'native-bindings/build/Release/mmo_native.node',
];

/** Rewrites import.meta.url (our files) and __dirname/__filename (dependencies) to paths under the extracted root. */
const seaPaths = {
  name: 'mmo-sea-paths',
  setup(b) {
    b.onLoad({ filter: /\.[cm]?js$/ }, (a) => {
      const rel = posix(relative(ROOT, a.path));
      if (rel.startsWith('..')) return undefined;
      let text = readFileSync(a.path, 'utf8');
      const before = text;
      if (text.includes('import.meta.url')) text = text.replaceAll('import.meta.url', `__mmoUrl(${JSON.stringify(rel)})`);
      if (rel.startsWith('node_modules/')) {
        text = text.replace(/(?<![.\w$])__dirname\b/g, `__mmoPath(${JSON.stringify(posix(dirname(rel)))})`);
        text = text.replace(/(?<![.\w$])__filename\b/g, `__mmoPath(${JSON.stringify(rel)})`);
      }
      return text === before ? undefined : { contents: text, loader: 'js' };
    });
    // better-sqlite3 finds its addon with `bindings`, which searches from the caller's file name in a stack trace.
    b.onResolve({ filter: /^bindings$/ }, () => ({ path: 'bindings', namespace: 'mmo-sea' }));
    b.onLoad({ filter: /^bindings$/, namespace: 'mmo-sea' }, () => ({
      loader: 'js',
      contents: `const { createRequire } = require('node:module');
module.exports = function bindings(opt) {
  const name = typeof opt === 'string' ? opt : opt.bindings;
  const p = __mmoPath('node_modules/better-sqlite3/build/Release/' + name);
  return createRequire(p)(p);
};`,
    }));
  },
};

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  absWorkingDir: ROOT,
  legalComments: 'none',
  logLevel: 'warning',
  // pg's optional native driver is never installed. (No pino transport is used: log.pretty is a stream in the bundle, src/log/pretty.ts.)
  // piscina's @napi-rs/nice (thread niceness) is optional and loaded under a catch: left out.
  external: ['pg-native', '@napi-rs/nice'],
  plugins: [seaPaths],
};

rmSync(WORK, { recursive: true, force: true });
mkdirSync(STAGE, { recursive: true });

let t = performance.now();
const CJS_PATHS = `var __mmoPath = (p) => require("node:path").join(globalThis.__mmoSeaRoot, p);
var __mmoUrl = (p) => require("node:url").pathToFileURL(__mmoPath(p)).href;`;
await build({
  ...common,
  entryPoints: [join(ROOT, 'dist/src/sea/entry.js')],
  outfile: join(WORK, 'main.cjs'),
  format: 'cjs',
  banner: { js: CJS_PATHS },
});

// Every output file sits three levels under the root (dist/src/<dir>/<file>.js), chunks included.
await build({
  ...common,
  entryPoints: ['dist/src/zone/worker.js', 'dist/src/net/gateway-thread.js', 'dist/src/jobs/db-worker.js', 'dist/src/jobs/hash-worker.js'].map((p) => join(ROOT, p)),
  outbase: ROOT,
  outdir: STAGE,
  format: 'esm',
  splitting: true,
  chunkNames: 'dist/src/chunks/[name]-[hash]',
  banner: {
    js: `import { createRequire as __mmoCreateRequire } from "node:module";
import { fileURLToPath as __mmoFileURLToPath, pathToFileURL as __mmoPathToFileURL } from "node:url";
import { join as __mmoJoin } from "node:path";
const require = __mmoCreateRequire(import.meta.url);
globalThis.__mmoSeaRoot ??= __mmoFileURLToPath(new URL("../../../", import.meta.url));
const __mmoPath = (p) => __mmoJoin(globalThis.__mmoSeaRoot, p);
const __mmoUrl = (p) => __mmoPathToFileURL(__mmoPath(p)).href;`,
  },
});

await build({
  ...common,
  entryPoints: [join(ROOT, 'node_modules/piscina/dist/worker.js')],
  outfile: join(STAGE, 'node_modules/piscina/dist/worker.js'),
  format: 'cjs',
  banner: { js: `globalThis.__mmoSeaRoot ??= require("node:path").resolve(__dirname, "../../.."); ${CJS_PATHS}` },
});
phase('esbuild', t);

t = performance.now();
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
writeFileSync(join(STAGE, 'package.json'), JSON.stringify({ name: pkg.name, version: pkg.version, type: 'module', private: true }) + '\n');
mkdirSync(join(STAGE, 'node_modules/piscina'), { recursive: true });
writeFileSync(join(STAGE, 'node_modules/piscina/package.json'), '{"type":"commonjs"}\n');
mkdirSync(join(STAGE, UWS_PKG), { recursive: true });
copyFileSync(join(ROOT, UWS_PKG, 'package.json'), join(STAGE, UWS_PKG, 'package.json'));
for (const n of NATIVES) {
  mkdirSync(dirname(join(STAGE, n)), { recursive: true });
  copyFileSync(join(ROOT, n), join(STAGE, n));
}
cpSync(join(ROOT, 'dist/web'), join(STAGE, 'dist/web'), { recursive: true, filter: (src) => !src.endsWith('.map') });

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? walk(join(dir, d.name)) : [join(dir, d.name)]));
}
const files = walk(STAGE)
  .map((abs) => {
    const data = readFileSync(abs);
    return { path: posix(relative(STAGE, abs)), size: data.byteLength, sha256: createHash('sha256').update(data).digest('hex'), abs };
  })
  .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
// The same line format as src/sea/cache.ts manifestHash().
const h = createHash('sha256');
for (const f of files) h.update(`${f.path}\0${f.size}\0${f.sha256}\n`);
const manifest = { name: pkg.name, version: pkg.version, hash: h.digest('hex'), files: files.map(({ path, size, sha256 }) => ({ path, size, sha256 })) };
writeFileSync(join(WORK, 'sea-manifest.json'), JSON.stringify(manifest));

const assets = { 'sea-manifest.json': join(WORK, 'sea-manifest.json') };
for (const f of files) assets[f.path] = f.abs;
writeFileSync(
  join(WORK, 'sea-config.json'),
  // main relative to ROOT (the cwd of the step below): its name is embedded in the binary, and the build machine's path has no business there.
  JSON.stringify({ main: posix(relative(ROOT, join(WORK, 'main.cjs'))), output: join(WORK, 'sea-prep.blob'), disableExperimentalSEAWarning: true, useCodeCache: true, assets }, null, 2),
);
run(process.execPath, ['--experimental-sea-config', join(WORK, 'sea-config.json')]);
phase('blob', t);

t = performance.now();
const { inject } = require('postject');
mkdirSync(dirname(OUT), { recursive: true });
const tmp = `${OUT}.tmp-${process.pid}`;
copyFileSync(process.execPath, tmp);
chmodSync(tmp, 0o755);
await inject(tmp, 'NODE_SEA_BLOB', readFileSync(join(WORK, 'sea-prep.blob')), { sentinelFuse: 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2' });
renameSync(tmp, OUT);
phase('postject', t);

const result = {
  bench: 'build-binary',
  out: posix(relative(ROOT, OUT)),
  bytes: statSync(OUT).size,
  nodeBytes: statSync(process.execPath).size,
  mainBytes: statSync(join(WORK, 'main.cjs')).size,
  assets: files.length,
  assetBytes: files.reduce((s, f) => s + f.size, 0),
  version: pkg.version,
  hash: manifest.hash.slice(0, 16),
  ms: Math.round(performance.now() - t0),
  phases,
};
if (json) process.stdout.write(JSON.stringify(result) + '\n');
else console.log(`build-binary: ${result.out} ${(result.bytes / 1e6).toFixed(1)} MB (${result.assets} embedded files, ${(result.assetBytes / 1e6).toFixed(1)} MB) in ${(result.ms / 1000).toFixed(1)} s`);
