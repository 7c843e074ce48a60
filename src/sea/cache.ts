// The standalone binary's file cache: the parts a single executable cannot
// run from memory (native addons, worker bundles, the web pages) are embedded
// as SEA assets and written once to a versioned directory, checked by hash on
// every start.
//
//   <base>/<version>-<hash>/            the root the bundled code resolves against
//     package.json                      name, version, "type": "module"
//     dist/src/zone/worker.js           zone worker (ESM bundle)
//     dist/src/net/gateway-thread.js    gateway thread (ESM bundle)
//     dist/src/jobs/{db,hash}-worker.js piscina tasks (ESM bundles)
//     dist/web/{admin,play}/...         dashboard and game pages
//     native-bindings/build/Release/mmo_native.node
//     node_modules/better-sqlite3/build/Release/better_sqlite3.node
//     node_modules/@trufflesuite/uws-js-unofficial/binaries/uws_linux_x64_115.node
//     node_modules/piscina/dist/worker.js   piscina's own thread entry (CJS bundle)
//
// The tree mirrors the package layout, so the server's own path resolution
// (new URL('./worker.js', import.meta.url) and the like) works unchanged.
//
// Extraction is race-safe: each process writes into its own temporary
// directory beside the target, checks it, and renames it into place. rename(2)
// of a directory onto an existing non-empty one fails, so of two processes
// starting together one wins and the other verifies the winner's tree and
// drops its own. A tree that fails the check (truncated, edited) is moved
// aside and replaced; a process already running from it keeps its open files.
//
// Cold path: runs once, before the server is loaded.

import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** What the build embeds as the `sea-manifest.json` asset. */
export interface SeaManifest {
  name: string;
  version: string;
  /** sha256 over every file's path and hash: the cache directory's suffix. */
  hash: string;
  files: readonly SeaFile[];
}

export interface SeaFile {
  /** Path under the root, '/'-separated; also the asset key. */
  path: string;
  size: number;
  sha256: string;
}

export const MANIFEST_KEY = 'sea-manifest.json';
export const SEA_CACHE_ERROR = 'MMO_ERR_SEA_CACHE';

export class SeaCacheError extends Error {
  readonly code = SEA_CACHE_ERROR;
  constructor(message: string) {
    super(message);
    this.name = 'SeaCacheError';
  }
}

/** Hash of a manifest's file list, as the build computes it (one line per file, sorted by path). */
export function manifestHash(files: readonly SeaFile[]): string {
  const h = createHash('sha256');
  for (const f of [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))) h.update(`${f.path}\0${f.size}\0${f.sha256}\n`);
  return h.digest('hex');
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Candidate base directories, in order: MMO_CACHE_DIR (explicit), CACHE_DIRECTORY
 * (systemd's CacheDirectory=), $XDG_CACHE_HOME/mmo-server, ~/.cache/mmo-server,
 * /var/cache/mmo-server. The first one that exists and is writable, or can be
 * created, is used.
 */
export function cacheBases(env: NodeJS.ProcessEnv = process.env): string[] {
  const out: string[] = [];
  if (env.MMO_CACHE_DIR) out.push(env.MMO_CACHE_DIR);
  // systemd may list several directories separated by ':'; the first is ours.
  if (env.CACHE_DIRECTORY) out.push(env.CACHE_DIRECTORY.split(':')[0]!);
  if (env.XDG_CACHE_HOME) out.push(join(env.XDG_CACHE_HOME, 'mmo-server'));
  const home = env.HOME ?? safeHomedir();
  if (home && home !== '/' && !env.XDG_CACHE_HOME) out.push(join(home, '.cache', 'mmo-server'));
  out.push('/var/cache/mmo-server');
  return out;
}

function safeHomedir(): string | undefined {
  try {
    return homedir();
  } catch {
    return undefined;
  }
}

function usableBase(dir: string): boolean {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    accessSync(dir, constants.W_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Whether every file of the manifest is under `root` with its size and hash. */
export function verifyTree(root: string, manifest: SeaManifest): boolean {
  for (const f of manifest.files) {
    const p = join(root, ...f.path.split('/'));
    try {
      if (statSync(p).size !== f.size) return false;
      if (sha256(readFileSync(p)) !== f.sha256) return false;
    } catch {
      return false;
    }
  }
  return true;
}

export interface EnsureResult {
  root: string;
  /** 'verified': an existing tree passed the check; 'extracted': this process wrote it; 'raced': another process wrote it first. */
  outcome: 'verified' | 'extracted' | 'raced';
}

/**
 * Returns the root of a verified tree for `manifest`, writing it from `read`
 * (asset key -> bytes) when it is missing or fails the check. Throws
 * SeaCacheError (MMO_ERR_SEA_CACHE) when no base directory is writable or the
 * embedded assets themselves do not match the manifest.
 */
export function ensureTree(manifest: SeaManifest, read: (key: string) => Uint8Array, bases: readonly string[] = cacheBases()): EnsureResult {
  if (manifestHash(manifest.files) !== manifest.hash) throw new SeaCacheError('the embedded asset manifest is inconsistent: the binary is damaged');
  const leaf = `${manifest.version}-${manifest.hash.slice(0, 16)}`;
  // A tree that already verifies wherever it is wins (read-only bases included).
  for (const base of bases) {
    const root = join(base, leaf);
    if (verifyTree(root, manifest)) return { root, outcome: 'verified' };
  }
  const base = bases.find(usableBase);
  if (!base) throw new SeaCacheError(`no writable cache directory for the embedded files (tried ${bases.join(', ')}); set MMO_CACHE_DIR or XDG_CACHE_HOME`);
  const root = join(base, leaf);
  const tmp = mkdtempSync(join(base, `.${leaf}.tmp-`));
  try {
    for (const f of manifest.files) {
      const data = read(f.path);
      if (data.byteLength !== f.size || sha256(data) !== f.sha256) throw new SeaCacheError(`embedded asset ${f.path} does not match the manifest: the binary is damaged`);
      const p = join(tmp, ...f.path.split('/'));
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, data, { mode: 0o644 });
    }
    try {
      renameSync(tmp, root);
      return { root, outcome: 'extracted' };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    }
    // Someone's tree is in place: theirs if it verifies, else move it aside and put ours there.
    if (verifyTree(root, manifest)) return { root, outcome: 'raced' };
    const stale = `${root}.stale-${process.pid}-${Date.now()}`;
    try {
      renameSync(root, stale);
    } catch {
      // Another process moved it first.
    }
    try {
      renameSync(tmp, root);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
      if (!verifyTree(root, manifest)) throw new SeaCacheError(`cache directory ${root} keeps failing its check; remove it and start again`);
      return { root, outcome: 'raced' };
    }
    rmSync(stale, { recursive: true, force: true });
    return { root, outcome: 'extracted' };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

