// Persistence as a player sees it: register, log in, play until a level-up
// and an item (each told to the client only once durable), stop the server
// with SIGTERM, start it again on the same data, log in: the character is
// where it was, with its level and items. Logging out saves too.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, tempDir, type TestServer } from './helpers/server.js';
import { connect, InteractAction, EntityKind, type MmoClient } from '../src/client/index.js';

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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

/** Where the player really is: the client moves it, the server may snap it back. */
interface Me {
  c: MmoClient;
  x: number;
  y: number;
}

async function enter(s: TestServer, token: string): Promise<Me> {
  const c = connect(s.wsUrl, { token });
  await c.once('snapshot');
  const me: Me = { c, x: c.self!.x, y: c.self!.y };
  c.on('moveRejected', (m) => {
    me.x = m.x;
    me.y = m.y;
  });
  c.on('respawn', (r) => {
    me.x = r.x;
    me.y = r.y;
  });
  return me;
}

/** One step (at most SPEED/10 units) toward (tx, ty); true when there. */
function stepToward(me: Me, tx: number, ty: number, stopAt: number): boolean {
  const dx = tx - me.x;
  const dy = ty - me.y;
  const d = Math.hypot(dx, dy);
  if (d <= stopAt) return true;
  const step = Math.min(SPEED / 10, d - stopAt);
  me.x += (dx / d) * step;
  me.y += (dy / d) * step;
  me.c.move(me.x, me.y);
  return false;
}

/** Ten steps toward the zone's middle (a wall may stop some), then still until the server has it. */
async function walkAndStop(me: Me): Promise<void> {
  for (let i = 0; i < 10; i++) {
    stepToward(me, 128, 128, 0.01);
    await sleep(100);
  }
  await sleep(600);
}

/** Hunts NPCs and loots what they drop until `done()`; every step is 100 ms of play. */
async function play(me: Me, done: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error(`play did not reach its goal in ${ms} ms`);
    let target: { id: number; x: number; y: number; kind: number } | null = null;
    let best = Infinity;
    for (const e of me.c.entities.values()) {
      if ((e.kind !== EntityKind.Npc && e.kind !== EntityKind.Loot) || (e.flags & 1) !== 0) continue;
      const d = Math.hypot(e.x - me.x, e.y - me.y) - (e.kind === EntityKind.Loot ? 30 : 0); // loot first
      if (d < best) {
        best = d;
        target = e;
      }
    }
    if (!target) stepToward(me, 128, 128, 1);
    else if (stepToward(me, target.x, target.y, 2)) {
      if (target.kind === EntityKind.Loot) me.c.interact(target.id, InteractAction.Loot);
      else me.c.attack(target.id);
    }
    await sleep(100);
  }
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
  await play(me, () => levels.length > 0 && items.length > 0, 120_000);
  // A few steps, then stand still: wherever that is (a wall may stop us) is where we must come back.
  await walkAndStop(me);
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
  await walkAndStop(me);
  const closed = me.c.once('close');
  me.c.close();
  await closed;
  await sleep(500);
  const again = await enter(s, await login(s, 'walker'));
  assert.ok(Math.abs(again.x - me.x) < 0.1 && Math.abs(again.y - me.y) < 0.1, `back at (${again.x}, ${again.y}), not (${me.x}, ${me.y})`);
  again.c.close();
});
