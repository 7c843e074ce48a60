// The data directory lock in-process: exclusive, released, stale by PID.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { DataDirLockedError, LOCK_FILE, lockDataDir } from '../src/persist/data-dir-lock.js';
import { assertPortFree, PortInUseError } from '../src/net/port-guard.js';
import { createServer } from 'node:net';
import { tempDir } from './helpers/server.js';

test('a held lock refuses a second taker, even in the same process, until released', () => {
  const dir = join(tempDir(), 'data');
  const lock = lockDataDir(dir);
  assert.equal(JSON.parse(readFileSync(lock.file, 'utf8')).pid, process.pid);
  assert.throws(() => lockDataDir(dir), (err: unknown) => err instanceof DataDirLockedError && err.code === 'MMO_ERR_DATA_DIR_LOCKED' && err.ownerPid === process.pid);
  lock.release();
  assert.equal(existsSync(lock.file), false);
  lock.release(); // idempotent
  const again = lockDataDir(dir);
  again.release();
});

test('a live other process holds it; a dead PID or an unreadable file is stale', () => {
  const dir = tempDir();
  const file = join(dir, LOCK_FILE);
  writeFileSync(file, JSON.stringify({ pid: process.ppid, host: hostname() }));
  assert.throws(() => lockDataDir(dir), (err: unknown) => err instanceof DataDirLockedError && err.ownerPid === process.ppid && err.message.includes(dir));
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  writeFileSync(file, JSON.stringify({ pid: dead, host: hostname() }));
  lockDataDir(dir).release();
  writeFileSync(file, 'garbage');
  lockDataDir(dir).release();
  // Our own PID in a file we do not hold: a previous life of this PID (a container's pid 1).
  writeFileSync(file, JSON.stringify({ pid: process.pid, host: hostname() }));
  lockDataDir(dir).release();
});

test('assertPortFree: rejects a port another socket listens on, passes a free one and port 0', async () => {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await assert.rejects(assertPortFree('127.0.0.1', port), (err: unknown) => err instanceof PortInUseError && err.code === 'MMO_ERR_PORT_IN_USE' && err.message.startsWith(`127.0.0.1:${port} `));
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  await assertPortFree('127.0.0.1', port);
  await assertPortFree('127.0.0.1', 0);
});
