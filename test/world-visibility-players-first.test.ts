// Players first in the view cap (world.aoi.playerShare): a crowd of nearer
// NPCs fills the nearest-64 cap, and used to hide a player 22 units away.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { World, Kind, type NpcGroupDef } from '../src/world/index.js';
import { Recorder, testZone, playerAt, worldView, expectedView } from './helpers/world.js';
import { loadConfig } from '../src/config/loader.js';

function crowd(count: number): NpcGroupDef {
  // A tight block around (128, 128): every member is nearer the observer than 22 units.
  return { name: 'Rat', count, levelMin: 1, levelMax: 1, aggroRadius: 0, leashRadius: 100, wanderRadius: 0, speed: 1, respawnDelayMs: 10_000, area: { x: 120, y: 120, w: 16, h: 16 }, loot: [] };
}

function setup(playerShare: number | undefined) {
  const def = testZone({ npcs: [crowd(200)] });
  if (playerShare === undefined) delete def.aoi.playerShare;
  else def.aoi.playerShare = playerShare;
  const rec = new Recorder();
  const w = new World(def, rec, 0);
  rec.attach(w);
  const me = w.addPlayer(1, playerAt('me', 128, 128), 0);
  const other = w.addPlayer(2, playerAt('other', 150, 128), 0); // 22 units away
  w.tick(50, rec);
  w.tick(100, rec);
  const slot = w.store.slotOf(me);
  return { w, slot, other, view: worldView(w, slot) };
}

test('a player 22 units away behind 200 nearer NPCs is in the view (default playerShare 0.75)', () => {
  const { w, slot, other, view } = setup(undefined);
  assert.equal(w.store.countByKind[Kind.npc], 200);
  assert.equal(view.size, 64, 'the cap holds');
  assert.ok(view.has(other), 'the other player is visible');
  // The rest of the cap is the nearest NPCs, as the model says.
  assert.deepEqual([...view].sort(), [...expectedView(w, slot, new Set())].sort());
});

test('playerShare 0 is nearest-first whatever the kind: the crowd hides the player (the old behaviour)', () => {
  const { other, view } = setup(0);
  assert.equal(view.size, 64);
  assert.equal(view.has(other), false);
});

test('the reservation is a share: with more players than round(cap * share) nearer NPCs still get the rest of the cap', () => {
  const def = testZone({ npcs: [crowd(200)] });
  def.aoi.playerShare = 0.25; // 16 of 64 for players first
  const rec = new Recorder();
  const w = new World(def, rec, 0);
  rec.attach(w);
  const me = w.addPlayer(1, playerAt('me', 128, 128), 0);
  const far: number[] = [];
  for (let i = 0; i < 30; i++) far.push(w.addPlayer(10 + i, playerAt(`p${i}`, 150 + (i % 5), 110 + i), 0));
  w.tick(50, rec);
  w.tick(100, rec);
  const slot = w.store.slotOf(me);
  const view = worldView(w, slot);
  const players = far.filter((id) => view.has(id)).length;
  assert.equal(players, 16, 'exactly the reserved players: the others are farther than the crowd');
  assert.equal(view.size, 64);
  assert.deepEqual([...view].sort(), [...expectedView(w, slot, new Set())].sort());
});

test('world.aoi.playerShare is a config key with range 0..1, default 0.75', () => {
  assert.equal(loadConfig({ argv: [], env: {} }).config.world.aoi.playerShare, 0.75);
  assert.throws(() => loadConfig({ argv: ['--world.aoi.playerShare=1.5'], env: {} }), /world\.aoi\.playerShare/);
});

test('players first matches the model for any mix of players and NPCs, cap and share', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 1, max: 30 }),
      fc.integer({ min: 0, max: 120 }),
      fc.integer({ min: 1, max: 24 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      (seed, nPlayers, nNpcs, cap, share) => {
        const def = testZone({ npcs: nNpcs > 0 ? [{ ...crowd(nNpcs), area: { x: 96, y: 96, w: 64, h: 64 } }] : [] });
        def.aoi.visibleCap = cap;
        def.aoi.playerShare = share;
        def.aoi.hysteresis = 4;
        const rec = new Recorder();
        const w = new World(def, rec, 0);
        rec.attach(w);
        let r = seed;
        const rnd = () => ((r = (Math.imul(r, 1664525) + 1013904223) >>> 0) / 2 ** 32);
        const ids: number[] = [];
        for (let i = 0; i < nPlayers; i++) ids.push(w.addPlayer(i + 1, playerAt(`p${i}`, 80 + rnd() * 96, 80 + rnd() * 96), 0));
        for (let t = 1; t <= 3; t++) {
          const prev = new Map(ids.map((id) => [id, worldView(w, w.store.slotOf(id))]));
          w.tick(t * 50, rec);
          for (const id of ids) {
            const o = w.store.slotOf(id);
            assert.deepEqual([...worldView(w, o)].sort(), [...expectedView(w, o, prev.get(id)!)].sort(), `player ${id}, tick ${t}`);
          }
        }
      },
    ),
    { numRuns: 150 },
  );
});
