// The peers of bench:compare, small: the bare uWebSockets.js server streams a
// frame of the asked size to every bot every tick and answers pings; the
// Colyseus room (ws transport) admits bots through matchmaking, streams the
// game loop's updates and answers pings. Each is spawned, measured from
// /proc like our server, and stopped.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { runLoadtest } from '../loadtest/runner.js';

const peer = (f: string) => fileURLToPath(new URL(`../loadtest/peers/${f}`, import.meta.url));
const quiet = { progressMs: 0, log: () => undefined, workers: 1, probeBots: 0, scenario: 'steady', spawnServer: true, durationSec: 3 };

test('uws-bare: one frame of --frame-bytes per tick per bot, pings answered, server CPU read from /proc', async () => {
  const r = await runLoadtest({ ...quiet, clients: 20, bots: 'raw', peerScript: peer('uws-bare.js'), peerArgs: ['--frame-bytes', '321'], addresses: 4 });
  assert.equal(r.pass, true, r.failures.join('; '));
  assert.equal(r.connected, 20);
  // 20 bots x 20 Hz, plus pongs and chat echoes; a loaded machine may run late, hence the margin.
  assert.ok(r.msgsInPerSec > 20 * 20 * 0.6, `in ${r.msgsInPerSec}/s`);
  assert.ok(Math.abs((r.meanFrameBytesIn as number) - 321) < 40, `mean frame ${String(r.meanFrameBytesIn)} bytes`);
  assert.ok(r.rttP50Ms !== null);
  assert.ok(typeof r.serverCpuSeconds === 'number' && r.serverCpuSeconds > 0);
});

test('uws-bare with lean bots: the lean engine speaks the peers\' wire format; same stream, pings answered, its cost measured', async () => {
  const r = await runLoadtest({ ...quiet, clients: 20, bots: 'lean-raw', peerScript: peer('uws-bare.js'), peerArgs: ['--frame-bytes', '321'], addresses: 4 });
  assert.equal(r.pass, true, r.failures.join('; '));
  assert.equal(r.botKind, 'lean-raw');
  assert.equal(r.connected, 20);
  assert.ok(r.msgsInPerSec > 20 * 20 * 0.6, `in ${r.msgsInPerSec}/s`);
  assert.ok(Math.abs((r.meanFrameBytesIn as number) - 321) < 40, `mean frame ${String(r.meanFrameBytesIn)} bytes`);
  const c = r.counters as Record<string, number>;
  assert.ok(c.moves! > 20 && c.pongs! > 0 && c.pongs! <= c.pings!, `moves ${c.moves}, pongs ${c.pongs} of ${c.pings}`);
  assert.ok(r.rttP50Ms !== null);
  assert.ok(typeof r.botUsPerMessage === 'number' && r.botUsPerMessage > 0);
});

test('colyseus-ws: bots join the room through matchmaking and get the game loop', async () => {
  const r = await runLoadtest({ ...quiet, clients: 20, bots: 'colyseus', peerScript: peer('colyseus-server.js'), peerArgs: ['--transport', 'ws'], addresses: 0 });
  assert.equal(r.pass, true, r.failures.join('; '));
  assert.equal(r.connected, 20);
  assert.ok(r.msgsInPerSec > 20, `in ${r.msgsInPerSec}/s`);
  assert.ok(r.msgsOutPerSec > 20 * 3, `out ${r.msgsOutPerSec}/s (moves, pings)`);
  assert.ok(r.rttP50Ms !== null);
});

test('colyseus-ws with lean bots: the lean engine speaks Colyseus (matchmaking, JOIN_ROOM, byte messages) and gets the game loop', async () => {
  const r = await runLoadtest({ ...quiet, clients: 20, bots: 'lean-colyseus', peerScript: peer('colyseus-server.js'), peerArgs: ['--transport', 'ws'], addresses: 0 });
  assert.equal(r.pass, true, r.failures.join('; '));
  assert.equal(r.botKind, 'lean-colyseus');
  assert.equal(r.connected, 20);
  assert.ok(r.msgsInPerSec > 20, `in ${r.msgsInPerSec}/s`);
  assert.ok(r.msgsOutPerSec > 20 * 3, `out ${r.msgsOutPerSec}/s (moves, pings)`);
  const c = r.counters as Record<string, number>;
  assert.ok(c.pongs! > 0, `pongs ${c.pongs} of ${c.pings}: the room read our pings`);
  assert.ok(r.rttP50Ms !== null);
});
