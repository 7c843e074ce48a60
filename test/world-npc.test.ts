import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { World, Kind, Flag, NpcState, AttackResult, DEFAULT_COMBAT, defaultZoneDefs, type NpcGroupDef, type ZoneDef } from '../src/world/index.js';
import { Recorder, testZone, playerAt } from './helpers/world.js';

function wolves(over: Partial<NpcGroupDef> = {}): NpcGroupDef {
  return {
    name: 'Wolf',
    count: 1,
    levelMin: 2,
    levelMax: 2,
    aggroRadius: 10,
    leashRadius: 30,
    wanderRadius: 0,
    speed: 5,
    respawnDelayMs: 10_000,
    area: { x: 100, y: 100, w: 0.25, h: 0.25 },
    loot: [],
    ...over,
  };
}

function setup(group: Partial<NpcGroupDef> = {}, over: Partial<ZoneDef> = {}) {
  const rec = new Recorder();
  const w = new World(testZone({ combat: { ...DEFAULT_COMBAT, damageVariance: 0, regenPercentPerSec: 0 }, npcs: [wolves(group)], ...over }), rec, 0);
  rec.attach(w);
  let npc = -1;
  for (let s = 0; s < w.store.highWater; s++) if (w.store.kind[s] === Kind.npc) npc = s;
  return { w, rec, npc };
}

function dist(w: World, a: number, x: number, y: number): number {
  return Math.hypot(w.store.x[a]! - x, w.store.y[a]! - y);
}

describe('NPCs', () => {
  test('aggro on the nearest player within the radius, chase and attack; ignore players outside it', () => {
    const { w, rec, npc } = setup();
    const far = w.addPlayer(1, playerAt('far', 100, 125), 0);
    let now = 0;
    for (; now <= 1000; now += 50) w.tick(now, rec);
    assert.notEqual(w.store.npcState[npc], NpcState.chase, 'nobody within 10');
    const near = w.addPlayer(2, playerAt('near', 108, 100), now);
    const ns = w.store.slotOf(near);
    for (let end = now + 300; now <= end; now += 50) w.tick(now, rec);
    assert.equal(w.store.npcState[npc], NpcState.chase, 'aggro within one scan period');
    assert.equal(w.store.target[npc], near);
    for (let end = now + 2000; now <= end; now += 50) w.tick(now, rec);
    assert.ok(dist(w, npc, 108, 100) <= 3, 'closed to attack range');
    assert.ok(w.store.hp[ns]! < 100, 'and hit the player');
    assert.equal(w.store.hp[w.store.slotOf(far)], 100);
    const hits = rec.deltas.filter((d) => d.session === 2).flatMap((d) => d.damages);
    assert.ok(hits.length >= 1 && hits.every((h) => h.attacker === w.store.id[npc] && h.target === near && h.amount === 5 + 2));
  });

  test('a pulled NPC gives up beyond its leash, cannot be hit on the way home, and is back at its spawn with full HP', () => {
    const { w, rec, npc } = setup({ aggroRadius: 0 });
    const homeX = w.store.homeX[npc]!;
    const homeY = w.store.homeY[npc]!;
    const p = w.addPlayer(1, playerAt('puller', homeX + 2, homeY), 0);
    const state = (): number => w.store.npcState[npc]!;
    assert.equal(w.applyAttack(p, w.store.id[npc]!, 0), AttackResult.ok);
    assert.equal(state(), NpcState.chase);
    assert.ok(w.store.hp[npc]! < w.store.maxHp[npc]!);
    // The player runs east at 8 u/s; the wolf follows at 5 u/s.
    let now = 0;
    let x = homeX + 2;
    let sawLeash = false;
    let maxPulled = 0;
    while (now < 20_000) {
      now += 50;
      if (x < 230) {
        x += 0.4;
        assert.equal(w.applyMove(p, now, x, homeY, now), 0);
      }
      w.tick(now, rec);
      maxPulled = Math.max(maxPulled, dist(w, npc, homeX, homeY));
      if (state() === NpcState.leash && !sawLeash) {
        sawLeash = true;
        assert.equal(w.applyAttack(p, w.store.id[npc]!, now), AttackResult.evading);
      }
      if (sawLeash && state() === NpcState.idle) break;
    }
    assert.ok(sawLeash, 'it leashed');
    assert.ok(maxPulled > 30 && maxPulled < 31, `pulled just past the leash radius (${maxPulled})`);
    assert.equal(w.store.npcState[npc], NpcState.idle);
    assert.equal(w.store.x[npc], homeX);
    assert.equal(w.store.y[npc], homeY);
    assert.equal(w.store.hp[npc], w.store.maxHp[npc]);
    assert.equal(w.store.target[npc], 0);
  });

  test('wandering NPCs keep moving in an empty world and stay within their wander radius', () => {
    const def = defaultZoneDefs(1, { size: 512, npcsPerZone: 40 })[0]!;
    const w = new World(def, new Recorder(), 0);
    const rec = new Recorder().attach(w);
    const npcs = [...Array(w.store.highWater).keys()].filter((s) => w.store.kind[s] === Kind.npc);
    assert.equal(npcs.length, 40);
    const start = npcs.map((s) => [w.store.x[s], w.store.y[s]]);
    let movedEver = 0;
    for (let now = 50; now <= 20_000; now += 50) {
      w.tick(now, rec);
      for (const s of npcs) {
        assert.ok(dist(w, s, w.store.homeX[s]!, w.store.homeY[s]!) <= def.npcs[w.store.group[s]!]!.wanderRadius + 1e-3);
        assert.ok(!w.terrain.pointBlocked(w.store.x[s]!, w.store.y[s]!));
      }
    }
    npcs.forEach((s, i) => {
      if (w.store.x[s] !== start[i]![0] || w.store.y[s] !== start[i]![1]) movedEver++;
    });
    assert.ok(movedEver >= 30, `${movedEver} of 40 NPCs moved`);
    assert.equal(rec.deltas.length, 0, 'no observers, no deltas');
  });

  test('NPCs drop link-dead players when they are invulnerable', () => {
    const { w, rec, npc } = setup();
    const p = w.addPlayer(1, playerAt('p', 105, 100), 0);
    let now = 0;
    for (; now <= 300; now += 50) w.tick(now, rec);
    assert.equal(w.store.npcState[npc], NpcState.chase);
    w.setLinkDead(p, true);
    w.tick((now += 50), rec);
    assert.equal(w.store.npcState[npc], NpcState.leash);
    const hp = w.store.hp[w.store.slotOf(p)];
    for (let end = now + 3000; now <= end; now += 50) w.tick(now, rec);
    assert.notEqual(w.store.npcState[npc], NpcState.chase, 'no re-aggro on a link-dead player');
    assert.equal(w.store.hp[w.store.slotOf(p)], hp);
  });

  test('an NPC that kills its target goes home; a killed NPC respawns at home after its delay', () => {
    const { w, rec, npc } = setup({ levelMin: 60, levelMax: 60 });
    const p = w.addPlayer(1, playerAt('victim', 105, 100), 0);
    let now = 0;
    for (; now <= 3000; now += 50) w.tick(now, rec);
    assert.equal(w.store.flags[w.store.slotOf(p)]! & Flag.dead, Flag.dead, 'a level-60 wolf kills a level-1 player');
    assert.notEqual(w.store.npcState[npc], NpcState.chase);

    const k = setup({}, { combat: { ...DEFAULT_COMBAT, playerDamageBase: 5000 } });
    const killer = k.w.addPlayer(1, playerAt('k', 101, 101), 0);
    const id = k.w.store.id[k.npc]!;
    assert.equal(k.w.applyAttack(killer, id, 100), AttackResult.ok);
    assert.equal(k.w.store.npcState[k.npc], NpcState.dead);
    k.w.tick(200, k.rec);
    assert.equal(k.w.store.flags[k.npc]! & Flag.dead, Flag.dead, 'the corpse stays, flagged dead');
    k.w.tick(10_099, k.rec);
    assert.equal(k.w.store.npcState[k.npc], NpcState.dead);
    k.w.tick(10_100, k.rec);
    assert.equal(k.w.store.npcState[k.npc], NpcState.idle);
    assert.equal(k.w.store.hp[k.npc], k.w.store.maxHp[k.npc]);
    assert.equal(k.w.store.id[k.npc], id, 'same entity, same id');
    assert.equal(k.w.store.x[k.npc], k.w.store.homeX[k.npc]);
  });
});
