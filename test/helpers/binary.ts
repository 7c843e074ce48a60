// The standalone binary (npm run build:binary) for the tests and the start-up
// bench: where it is, and whether it is older than what it is made of.

import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BINARY = join(ROOT, 'dist/bin/mmo-server');

/** What the binary embeds, relative to the package root. */
const INPUTS = [
  'dist/src',
  'dist/web',
  'package.json',
  'scripts/build-binary.mjs',
  'native-bindings/build/Release/mmo_native.node',
  'node_modules/better-sqlite3/build/Release/better_sqlite3.node',
];

/** Newest modification time (ms) of a file or of every file under a folder. */
function newest(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = 0;
  for (const name of readdirSync(path)) m = Math.max(m, newest(join(path, name)));
  return m;
}

/** Why dist/bin/mmo-server would not be today's build ('missing', or the newer input), or null when it is fresh. */
export function binaryStaleness(): string | null {
  let built: number;
  try {
    built = statSync(BINARY).mtimeMs;
  } catch {
    return 'missing';
  }
  const newer = INPUTS.find((p) => newest(join(ROOT, p)) > built);
  return newer ? `older than ${newer}` : null;
}

/** dist/bin/mmo-server, built first (about 6 s; dist/ must be built) when it is missing or stale. Throws when the build fails. */
export function freshBinary(): string {
  if (binaryStaleness() === null) return BINARY;
  const r = spawnSync(process.execPath, ['scripts/build-binary.mjs', '--no-build', '--json'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`build-binary failed (exit ${r.status}): ${r.stderr}`);
  return BINARY;
}
