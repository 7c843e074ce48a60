#!/usr/bin/env node
// Builds the native addon (native-bindings/) from source with node-gyp. Runs
// as this package's `install` script, so `npm install` / `npm ci` build it;
// run it again by hand with `npm run build:native`.
//
// A failed build never fails the install: it prints one warning and exits 0,
// and the TypeScript wrapper (native-bindings/index.ts) falls back to no-op
// pinning and naming and estimated thread CPU. Plain JavaScript because it
// runs before `prepare` compiles the TypeScript.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = join(root, 'native-bindings');
const addon = join(dir, 'build', 'Release', 'mmo_native.node');
const logFile = join(dir, 'build', 'build.log');

function warn(why, detail = '') {
  const tail = detail ? `\n${detail.trimEnd().split('\n').slice(-12).map((l) => `    ${l}`).join('\n')}` : '';
  process.stderr.write(
    `\nmmo-server WARNING: native addon not built (${why}). The server still runs: threads are not ` +
      `pinned or named, and per-thread CPU is estimated from event-loop utilisation. ` +
      `To build it: install a C++ toolchain and python3 (Debian: build-essential python3), then \`npm run build:native\`.${tail}\n\n`,
  );
  process.exit(0);
}

if (process.platform !== 'linux') warn(`unsupported platform ${process.platform}; the addon uses Linux thread calls`);

// npm sets npm_config_node_gyp to its bundled node-gyp for lifecycle scripts;
// outside npm, fall back to the copy bundled with npm next to this node.
let gyp = process.env.npm_config_node_gyp;
if (!gyp || !existsSync(gyp)) {
  const candidates = [join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')];
  try {
    candidates.unshift(createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js'));
  } catch {}
  gyp = candidates.find((c) => existsSync(c));
}
if (!gyp) warn('node-gyp not found (it ships with npm)');

// Headers: use the installed ones (<prefix>/include/node) rather than a
// download, which cannot succeed offline. npm passes nodedir from .npmrc as
// npm_config_nodedir; otherwise derive the prefix from this node binary.
const args = [gyp, 'rebuild', `--directory=${dir}`];
if (!process.env.npm_config_nodedir) {
  const prefix = join(dirname(process.execPath), '..');
  if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
}

const started = Date.now();
const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 300_000 });
const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
try {
  mkdirSync(dirname(logFile), { recursive: true });
  writeFileSync(logFile, output);
} catch {}
if (r.error) warn(`node-gyp did not run: ${r.error.message}`, output);
if (r.status !== 0) warn(`node-gyp exited with ${r.status}; full log in ${logFile}`, output);

// Built is not enough: it must load in this node.
const check = spawnSync(process.execPath, ['-e', `const a = require(${JSON.stringify(addon)}); if (typeof a.gettid() !== 'number') process.exit(1);`], {
  encoding: 'utf8',
});
if (check.status !== 0) warn('the built addon does not load', check.stderr);
process.stdout.write(`mmo-server: built native addon ${addon} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
