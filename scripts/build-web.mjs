// Builds the browser pages into dist/web/<page>/ with esbuild: the operations
// dashboard (web/admin, with uPlot from npm) and the playable client
// (web/play, the SDK in src/client). Run by `npm run build` after tsc; the
// server serves dist/web from memory (src/admin/static.ts). No CDN: every
// byte a page loads is in these files. Prints one JSON line per file with its
// size (the page weights quoted in the README).

import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'web');
const quiet = process.argv.includes('--quiet');

const pages = [
  { name: 'admin', entry: 'web/admin/app.ts', css: ['web/admin/app.css', 'node_modules/uplot/dist/uPlot.min.css'] },
  { name: 'play', entry: 'web/play/play.ts', css: ['web/play/play.css'] },
];

for (const p of pages) {
  const dir = join(out, p.name);
  mkdirSync(dir, { recursive: true });
  await build({
    entryPoints: [join(root, p.entry)],
    outfile: join(dir, 'app.js'),
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome110', 'firefox110', 'safari16'],
    // The SDK loads `ws` only under Node (a guarded dynamic import): never in a browser.
    external: ['ws'],
    legalComments: 'none',
    logLevel: 'warning',
  });
  copyFileSync(join(root, 'web', p.name, 'index.html'), join(dir, 'index.html'));
  for (const c of p.css) copyFileSync(join(root, c), join(dir, c.endsWith('uPlot.min.css') ? 'uplot.css' : 'app.css'));
}

if (!quiet) {
  for (const p of pages) {
    const dir = join(out, p.name);
    let total = 0;
    for (const f of readdirSync(dir)) {
      const bytes = statSync(join(dir, f)).size;
      total += bytes;
      console.log(JSON.stringify({ page: p.name, file: f, bytes }));
    }
    console.log(JSON.stringify({ page: p.name, file: '*', bytes: total }));
  }
}
