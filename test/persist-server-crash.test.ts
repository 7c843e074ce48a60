// Crash consistency of the whole server: players hunt, level up and loot
// (each level-up and item is told to the client only once durable) while the
// server is killed with SIGKILL at a random moment, 20 times over. After each
// kill the database passes SQLite's integrity check, holds every level and
// item a client was told about, and every player's saved position is one the
// player held within the write-behind bound before the kill. A final SIGTERM
// loses nothing at all.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServer, tempDir, type TestServer } from './helpers/server.js';
import { enter, huntStep, sleep, type Me } from './helpers/player.js';
import { SqliteStore } from '../src/persist/sqlite-store.js';
import { mulberry32 as rng } from '../loadtest/netfault/index.js';

const KILLS = 20;
const PLAYERS = 5;
const SPEED = 32;
const WRITE_MS = 200;
const STATE_MS = 100;
/** A save may lag the truth by the write interval and the state interval; the rest is slack for a loaded machine. */
const BOUND_MS = WRITE_MS + STATE_MS + 700;
const ARGS = (dataDir: string) => [
  `--server.dataDir=${dataDir}`,
  '--zones.count=1',
  '--zones.size=128',
  '--zones.npcsPerZone=30',
  `--world.movement.maxSpeed=${SPEED}`,
  '--world.movement.teleportDistance=64',
  '--world.combat.levelXpBase=10',
  // One hit kills a wolf: write-through events (level-ups, loot) happen every second or so.
  '--world.combat.playerDamageBase=200',
  `--persist.writeIntervalMs=${WRITE_MS}`,
  `--zones.stateIntervalMs=${STATE_MS}`,
  '--auth.tokenTtlSeconds=3600',
];

interface Account {
  name: string;
  accountId: number;
  token: string;
  /** What the clients were told, over every run: highest level, and the highest total per item. */
  level: number;
  items: Map<number, number>;
}


async function join2(s: TestServer, accounts: Account[]): Promise<Me[]> {
  const players = await Promise.all(accounts.map((a, i) => enter(s.wsUrl, { token: a.token, reconnect: false, localAddress: `127.0.6.${i + 1}` }, SPEED)));
  players.forEach((me, i) => {
    const a = accounts[i]!;
    me.c.on('levelUp', (l) => (a.level = Math.max(a.level, l.level)));
    me.c.on('item', (it) => a.items.set(it.item, Math.max(a.items.get(it.item) ?? 0, it.total)));
  });
  return players;
}

async function verify(dataDir: string, accounts: Account[], players: Me[], killedAt: number, exact: boolean): Promise<void> {
  const store = new SqliteStore({ file: join(dataDir, 'mmo.sqlite'), synchronous: 'full' });
  try {
    await store.migrate(); // the server migrated it already: this only opens it
    assert.equal(await store.integrityCheck(), 'ok');
    for (let i = 0; i < accounts.length; i++) {
      const a = accounts[i]!;
      const p = (await store.loadPlayersOfAccount(a.accountId))[0]!;
      assert.ok(p.level >= a.level, `${a.name}: told level ${a.level}, stored ${p.level}`);
      for (const [item, total] of a.items) {
        const stored = p.inventory.find((e) => e.item === item)?.count ?? 0;
        assert.ok(stored >= total, `${a.name}: told ${total} of item ${item}, stored ${stored}`);
      }
      const me = players[i]!;
      if (exact) {
        assert.ok(Math.abs(p.x - me.x) < 0.01 && Math.abs(p.y - me.y) < 0.01, `${a.name}: stored (${p.x}, ${p.y}), last (${me.x}, ${me.y})`);
      } else {
        // Any position held from (killedAt - BOUND_MS) on: the last one before that instant, and every one after.
        const trail = me.trail;
        let from = trail.findIndex((e) => e.t >= killedAt - BOUND_MS);
        from = from < 0 ? trail.length - 1 : Math.max(0, from - 1);
        const ok = trail.slice(from).some((e) => Math.abs(e.x - p.x) < 0.01 && Math.abs(e.y - p.y) < 0.01);
        assert.ok(ok, `${a.name}: stored (${p.x}, ${p.y}) is older than ${BOUND_MS} ms before the kill`);
      }
    }
  } finally {
    await store.close();
  }
}

test(`SIGKILL at random moments (${KILLS} times) loses no acknowledged level or item, corrupts nothing, and loses at most the write-behind interval; SIGTERM loses nothing`, { timeout: 300_000 }, async () => {
  const dataDir = tempDir();
  const rand = rng(2026);
  let s = await startServer({ args: ARGS(dataDir) });
  const accounts: Account[] = [];
  for (let i = 0; i < PLAYERS; i++) {
    const r = await fetch(`${s.url}/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: `crash${i}`, password: 'a long passphrase' }) });
    const body = (await r.json()) as { accountId: number; token: string };
    assert.equal(r.status, 201);
    accounts.push({ name: `crash${i}`, accountId: body.accountId, token: body.token, level: 0, items: new Map() });
  }
  let told = 0;
  for (let k = 0; k <= KILLS; k++) {
    if (k > 0) s = await startServer({ args: ARGS(dataDir) });
    const players = await join2(s, accounts);
    const playMs = k === KILLS ? 2000 : 300 + Math.floor(rand() * 1500);
    const end = Date.now() + playMs;
    while (Date.now() < end) {
      for (const me of players) huntStep(me, { x: 64, y: 64 });
      await sleep(100);
    }
    if (k === KILLS) {
      // The last run ends gracefully: players stand still, then SIGTERM must save everything exactly.
      await sleep(300);
      assert.equal(await s.stop('SIGTERM'), 0);
      await verify(dataDir, accounts, players, Date.now(), true);
    } else {
      const killedAt = Date.now();
      await s.stop('SIGKILL');
      await verify(dataDir, accounts, players, killedAt, false);
    }
    for (const me of players) me.c.close();
    told = accounts.reduce((n, a) => n + a.level + a.items.size, 0);
  }
  assert.ok(told > PLAYERS, `the players were told of only ${told} levels and items: the test proved little`);
  console.log(`# ${KILLS} SIGKILLs and a SIGTERM: ${accounts.reduce((n, a) => n + a.level, 0)} levels and ${accounts.reduce((n, a) => n + a.items.size, 0)} item kinds acknowledged, all found`);
});
