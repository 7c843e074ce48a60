// One server per data directory. Two processes writing one SQLite file (and
// one auth-token.key) corrupt each other's view of the world, so the server
// holds <dataDir>/mmo-server.lock while it runs.
//
// The lock file is created with O_CREAT|O_EXCL (atomic on local file systems)
// and holds the owner's PID and host. A lock whose PID is not alive on this
// host is stale (a crash, SIGKILL) and is taken over. It is removed on
// release(), and on process exit as a last resort (process.exit after a
// signal, a fatal start-up error). npm's lock libraries (proper-lockfile and
// kin) lock with mkdir and mtime, not flock, and a flock binding needs a
// native build: this is the same O_EXCL lock with a PID check. Cold path.

import { closeSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, linkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';

export const LOCK_FILE = 'mmo-server.lock';
export const DATA_DIR_LOCKED = 'MMO_ERR_DATA_DIR_LOCKED';

export class DataDirLockedError extends Error {
  readonly code = DATA_DIR_LOCKED;
  constructor(
    readonly dir: string,
    readonly ownerPid: number,
    readonly file: string,
  ) {
    super(
      `data directory ${dir} is in use by another mmo-server (pid ${ownerPid}, lock ${file}); ` +
        'stop that server or set another server.dataDir (if no server runs, delete the lock file)',
    );
    this.name = 'DataDirLockedError';
  }
}

export interface DataDirLock {
  readonly file: string;
  /** Removes the lock file if it is still ours. Idempotent. */
  release(): void;
}

interface Owner {
  pid: number;
  host: string;
}

/** Lock files this process holds (its own PID in a lock is held only if listed here). */
const held = new Set<string>();
let exitHook = false;

/** Takes the lock on `dataDir` (created if missing), or throws DataDirLockedError. */
export function lockDataDir(dataDir: string): DataDirLock {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, LOCK_FILE);
  const me: Owner = { pid: process.pid, host: hostname() };
  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryCreate(file, me)) return hold(file);
    const owner = readOwner(file);
    if (owner === undefined) continue; // vanished meanwhile: try again
    if (owner !== null && isHeld(owner, file)) throw new DataDirLockedError(dir, owner.pid, file);
    // Stale (dead PID, or unreadable): move it aside atomically, then check we moved the stale one.
    const aside = `${file}.stale-${process.pid}`;
    try {
      renameSync(file, aside);
    } catch {
      continue; // someone else moved it first
    }
    const moved = readOwner(aside);
    if (moved && moved.pid !== owner?.pid && isHeld(moved, file)) {
      // A live server took it over between our read and our rename: give it back.
      try {
        linkSync(aside, file);
      } catch {}
      unlinkQuiet(aside);
      throw new DataDirLockedError(dir, moved.pid, file);
    }
    unlinkQuiet(aside);
  }
  const owner = readOwner(file);
  throw new DataDirLockedError(dir, owner?.pid ?? 0, file);
}

function tryCreate(file: string, me: Owner): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, `${JSON.stringify({ ...me, startedAt: new Date().toISOString() })}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** The owner in a lock file; null when unreadable (stale); undefined when the file is gone. */
function readOwner(file: string): Owner | null | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? undefined : null;
  }
  try {
    const o = JSON.parse(text) as Partial<Owner>;
    return Number.isInteger(o.pid) && (o.pid as number) > 0 ? { pid: o.pid as number, host: String(o.host ?? '') } : null;
  } catch {
    return null;
  }
}

function isHeld(owner: Owner, file: string): boolean {
  if (owner.host !== hostname()) return true; // a shared directory: we cannot see that host's processes
  if (owner.pid === process.pid) return held.has(file);
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
}

function unlinkQuiet(file: string): void {
  try {
    unlinkSync(file);
  } catch {}
}

function releaseFile(file: string): void {
  if (!held.delete(file)) return;
  const owner = readOwner(file);
  if (owner && owner.pid === process.pid && owner.host === hostname()) unlinkQuiet(file);
}

function hold(file: string): DataDirLock {
  held.add(file);
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const f of [...held]) releaseFile(f);
    });
  }
  return { file, release: () => releaseFile(file) };
}
