// Builds the client SDK (src/client) as its own package, packages/client:
// one ESM bundle for browsers and Node (dist/mmo-client.js, and a minified
// copy for pages), the TypeScript declarations tsc wrote for src/client and
// src/protocol (run after `tsc -p tsconfig.json`), and dist/meta.json (the
// esbuild metafile: every input file, which the package test checks holds
// nothing of the server). The bundle includes flatbuffers; `ws` stays an
// import, made only under Node (a guarded dynamic import), so the package
// declares it as an optional peer dependency. Prints one JSON line per file.
//
//   node scripts/build-client.mjs [--out DIR] [--quiet]

import { build } from 'esbuild';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
const out = outAt >= 0 ? resolve(args[outAt + 1]) : join(root, 'packages', 'client', 'dist');
const quiet = args.includes('--quiet');

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const common = {
  entryPoints: [join(root, 'src/client/index.ts')],
  bundle: true,
  format: 'esm',
  // 'browser' resolves packages as a page would; nothing in the SDK needs Node's builtins.
  platform: 'browser',
  target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
  external: ['ws'],
  legalComments: 'none',
  logLevel: 'warning',
};
const r = await build({ ...common, outfile: join(out, 'mmo-client.js'), sourcemap: true, metafile: true });
await build({ ...common, outfile: join(out, 'mmo-client.min.js'), minify: true });
writeFileSync(join(out, 'meta.json'), JSON.stringify(r.metafile, null, 1));

// Declarations: tsc's output for the two folders the SDK is made of, same layout, so relative imports hold.
const types = join(out, 'types');
for (const d of ['client', 'protocol']) {
  const from = join(root, 'dist', 'src', d);
  if (!existsSync(from)) {
    console.error(`build-client: ${from} is missing: run \`npx tsc -p tsconfig.json\` first for the declarations`);
    process.exit(1);
  }
  cpSync(from, join(types, d), { recursive: true, filter: (f) => statSync(f).isDirectory() || f.endsWith('.d.ts') });
}

if (!quiet) {
  for (const f of readdirSync(out)) {
    const p = join(out, f);
    if (statSync(p).isFile()) console.log(JSON.stringify({ package: 'client', file: f, bytes: statSync(p).size }));
  }
}
