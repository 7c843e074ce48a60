// One server per port and per data directory: a second process on either is
// refused with a clear message and its own exit code, and the first keeps
// serving. uWS listens with SO_REUSEPORT, so without the probe a second
// process would join the port and take half the new connections.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostname } from 'node:os';
import { startServer, tempDir, type TestServer } from './helpers/server.js';

const servers: TestServer[] = [];
after(async () => {
  for (const s of servers) await s.stop();
});

async function start(args: string[], expectExit = false): Promise<TestServer> {
  const s = await startServer({ args: ['--zones.count=1', '--zones.npcsPerZone=0', ...args], expectExit, timeoutMs: 30_000 });
  servers.push(s);
  return s;
}

/** A port that was free a moment ago on 127.0.0.1. */
async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

test('a second server on a host:port in use exits 4 naming it; the first keeps serving', async () => {
  const port = await freePort();
  const first = await start([`--net.port=${port}`]);
  assert.equal(first.port, port);
  const second = await start([`--net.port=${port}`], true);
  assert.equal(await second.exited, 4, second.stderr());
  assert.match(second.stderr(), new RegExp(`127\\.0\\.0\\.1:${port} is already in use by another process`));
  assert.equal(second.logs.some((l) => typeof l.listen === 'string'), false, 'the second never said it listens');
  const r = await fetch(`${first.url}/healthz`);
  assert.equal(r.status, 200);
});

test('a second server on the same data directory exits 5 naming it and the owner; the lock goes with the first', async () => {
  const dir = tempDir();
  const first = await start([`--server.dataDir=${dir}`]);
  const lock = join(dir, 'mmo-server.lock');
  assert.equal(JSON.parse(readFileSync(lock, 'utf8')).pid, first.child.pid);
  const second = await start([`--server.dataDir=${dir}`], true);
  assert.equal(await second.exited, 5, second.stderr());
  assert.match(second.stderr(), new RegExp(`data directory ${dir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} is in use by another mmo-server \\(pid ${first.child.pid}`));
  assert.equal(existsSync(lock), true, 'the refused server left the first one\'s lock alone');
  assert.equal(await first.stop('SIGTERM'), 0);
  assert.equal(existsSync(lock), false, 'a clean stop removes the lock');
});

test('a stale lock (its PID is gone, after a crash) is taken over', async () => {
  const dir = tempDir();
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  writeFileSync(join(dir, 'mmo-server.lock'), JSON.stringify({ pid: dead, host: hostname() }));
  const s = await start([`--server.dataDir=${dir}`]);
  assert.equal(JSON.parse(readFileSync(join(dir, 'mmo-server.lock'), 'utf8')).pid, s.child.pid);
  assert.equal(await s.stop('SIGKILL'), null);
  // Killed: the lock stays behind with a dead PID, and the next start takes it.
  assert.equal(existsSync(join(dir, 'mmo-server.lock')), true);
  const again = await start([`--server.dataDir=${dir}`]);
  assert.equal(JSON.parse(readFileSync(join(dir, 'mmo-server.lock'), 'utf8')).pid, again.child.pid);
});
