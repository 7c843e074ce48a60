#!/usr/bin/env node
// Runs the compiled test files (dist/test/**/*.test.js) with node:test.
// `npm test -- ring pool` runs only files whose path contains "ring" or "pool".
// Long runs (soak, 10k clients) are not here: see `npm run loadtest`.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('../dist/test/', import.meta.url).pathname;
const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const passthrough = process.argv.slice(2).filter((a) => a.startsWith('-'));

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walk(p) : p.endsWith('.test.js') ? [p] : [];
  });
}

const files = walk(root)
  .filter((f) => filters.length === 0 || filters.some((x) => relative(root, f).includes(x)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
// Two cores: two test files at a time keeps the wall clock down without
// starving the real-thread and socket tests of CPU.
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...passthrough, ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
