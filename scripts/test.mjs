#!/usr/bin/env node
// Runs the compiled test files (dist/test/**/*.test.js) with node:test.
// `npm test -- ring pool` runs only files whose path contains "ring" or "pool".
// Long runs (soak, 10k clients) are not here: see `npm run loadtest`.
import { existsSync, readdirSync, statSync } from 'node:fs';
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
// Tools some tests need from the OS. Say so up front, once, rather than let
// the suite run for minutes and fail at the end: those tests fail by design
// when the tool is missing (a skipped test proves nothing).
function hasExe(name, dirs) {
  const path = [...dirs, ...(process.env.PATH ?? '').split(':')];
  return path.some((d) => d && existsSync(join(d, name)));
}
const pgDirs = (() => {
  try {
    return readdirSync('/usr/lib/postgresql').map((v) => `/usr/lib/postgresql/${v}/bin`);
  } catch {
    return [];
  }
})();
const missing = [];
if (!process.env.FLATC && !hasExe('flatc', []) && files.some((f) => f.includes('protocol'))) missing.push('flatbuffers-compiler (flatc 2.0.8)');
if (!process.env.MMO_TEST_PG_URL && !hasExe('initdb', pgDirs) && files.some((f) => f.includes('-pg'))) missing.push('postgresql (initdb, pg_ctl)');
if (missing.length > 0) {
  console.error(
    `npm test: missing ${missing.join(' and ')}; the tests that need them will fail.\n` +
      `  Debian/Ubuntu: sudo apt-get install -y flatbuffers-compiler postgresql   (.ci/run does this)`,
  );
}

// Two cores: two test files at a time keeps the wall clock down without
// starving the real-thread and socket tests of CPU.
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...passthrough, ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
