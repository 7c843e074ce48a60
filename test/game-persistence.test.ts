// Persistence as a player sees it: register, log in, play until a level-up
// and an item (each told to the client only once durable), stop the server
// with SIGTERM, start it again on the same data, log in: the character is
// where it was, with its level and items. Logging out saves too.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, tempDir, type TestServer } from './helpers/server.js';
import { enter as enterAs, hunt, walkAndStop, sleep, type Me } from './helpers/player.js';

const SPEED = 32;
const ARGS = (dataDir: string) => [
  `--server.dataDir=${dataDir}`,
  '--zones.count=1',
  '--zones.size=256',
  '--zones.npcsPerZone=20',
  `--world.movement.maxSpeed=${SPEED}`,
  '--world.movement.teleportDistance=64',
  // A quick XP curve: the first kill levels up.
  '--world.combat.levelXpBase=10',
  '--persist.writeIntervalMs=200',
  '--sessions.inputsPerSec=1000',
  '--sessions.inputBurst=1000',
];
const servers: TestServer[] = [];
after(async () => {
  for (const s of servers) await s.stop();
});


function enter(s: TestServer, token: string): Promise<Me> {
  return enterAs(s.wsUrl, { token }, SPEED);
}

async function register(s: TestServer, name: string): Promise<string> {
  const r = await fetch(`${s.url}/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, password: 'a long passphrase' }) });
  const body = await r.text();
  assert.equal(r.status, 201, body);
  return (JSON.parse(body) as { token: string }).token;
}

async function login(s: TestServer, name: string): Promise<string> {
  const r = await fetch(`${s.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, password: 'a long passphrase' }) });
  const body = await r.text();
  assert.equal(r.status, 200, body);
  return (JSON.parse(body) as { token: string }).token;
}

test('register, play to a level-up and an item, SIGTERM, restart: the character is where it was, with its level and items', { timeout: 180_000 }, async () => {
  const dataDir = tempDir();
  const s1 = await startServer({ args: ARGS(dataDir) });
  servers.push(s1);
  const token = await register(s1, 'hero');
  const me = await enter(s1, token);
  const levels: number[] = [];
  const items: number[] = [];
  me.c.on('levelUp', (l) => levels.push(l.level));
  me.c.on('item', (i) => items.push(i.item));
  await hunt(me, { x: 128, y: 128 }, () => levels.length > 0 && items.length > 0, 120_000);
  // A few steps, then stand still: wherever that is (a wall may stop us) is where we must come back.
  await walkAndStop(me, 128, 128);
  const level = Math.max(...levels);
  const inventory = new Map<number, number>();
  const self = me.c.self!;
  for (const e of self.inventory) inventory.set(e.item, e.count);
  assert.ok(level >= 2);
  assert.ok(inventory.size >= 1);

  assert.equal(await s1.stop('SIGTERM'), 0);
  assert.ok(s1.logs.some((l) => l.msg === 'everything saved'), 'SIGTERM flushed everything');

  const s2 = await startServer({ args: ARGS(dataDir) });
  servers.push(s2);
  const again = await enter(s2, await login(s2, 'hero'));
  const back = again.c.self!;
  assert.equal(back.level, level, 'the level was kept');
  for (const [item, count] of inventory) assert.equal(back.inventory.find((e) => e.item === item)?.count, count, `item ${item} was kept`);
  assert.ok(Math.abs(again.x - me.x) < 0.1 && Math.abs(again.y - me.y) < 0.1, `back at (${again.x}, ${again.y}), not (${me.x}, ${me.y})`);
  again.c.close();
});

test('logging out saves the player: the next login finds it where it left', { timeout: 60_000 }, async () => {
  const s = await startServer({ args: [...ARGS(tempDir()), '--zones.npcsPerZone=0'] });
  servers.push(s);
  const token = await register(s, 'walker');
  const me = await enter(s, token);
  await walkAndStop(me, 128, 128);
  const closed = me.c.once('close');
  me.c.close();
  await closed;
  await sleep(500);
  const again = await enter(s, await login(s, 'walker'));
  assert.ok(Math.abs(again.x - me.x) < 0.1 && Math.abs(again.y - me.y) < 0.1, `back at (${again.x}, ${again.y}), not (${me.x}, ${me.y})`);
  again.c.close();
});
