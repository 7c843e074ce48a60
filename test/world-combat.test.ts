import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  World,
  Kind,
  Flag,
  AttackResult,
  InteractAction,
  InteractResult,
  INVENTORY_SLOTS,
  DEFAULT_COMBAT,
  type CombatParams,
  type NpcGroupDef,
  type ZoneDef,
} from '../src/world/index.js';
import { Recorder, testZone, playerAt } from './helpers/world.js';

const COMBAT: CombatParams = { ...DEFAULT_COMBAT, damageVariance: 0, regenPercentPerSec: 0 };

function wolf(over: Partial<NpcGroupDef> = {}): NpcGroupDef {
  return {
    name: 'Wolf',
    count: 1,
    levelMin: 3,
    levelMax: 3,
    aggroRadius: 0,
    leashRadius: 100,
    wanderRadius: 0,
    speed: 5,
    respawnDelayMs: 10_000,
    area: { x: 100, y: 100, w: 0.5, h: 0.5 },
    loot: [],
    ...over,
  };
}

function setup(over: Partial<ZoneDef> = {}) {
  const rec = new Recorder();
  const w = new World(testZone({ combat: COMBAT, spawnPoints: [{ x: 20, y: 20 }, { x: 200, y: 200 }], ...over }), rec, 0);
  rec.attach(w);
  return { w, rec };
}

function npcId(w: World): number {
  for (let s = 0; s < w.store.highWater; s++) if (w.store.kind[s] === Kind.npc) return w.store.id[s]!;
  throw new Error('no NPC');
}

describe('combat', () => {
  test('range, cooldown and level-scaled damage', () => {
    const { w, rec } = setup();
    const a = w.addPlayer(1, playerAt('a', 100, 100, { level: 5 }), 0);
    const b = w.addPlayer(2, playerAt('b', 103.5, 100), 0);
    const c = w.addPlayer(3, playerAt('c', 102, 100), 0);
    const hp = (id: number) => w.store.hp[w.store.slotOf(id)]!;
    assert.equal(w.applyAttack(a, b, 1000), AttackResult.outOfRange, '3.5 > range 3');
    assert.equal(hp(b), 100);
    assert.equal(w.applyAttack(a, c, 1000), AttackResult.ok);
    assert.equal(hp(c), 100 - (12 + 3 * 4), 'level 5: base 12 + 3 per level above 1');
    assert.equal(w.applyAttack(a, c, 1999), AttackResult.cooldown);
    assert.equal(w.applyAttack(a, c, 2000), AttackResult.ok);
    assert.equal(hp(c), 100 - 2 * 24);
    assert.equal(w.applyAttack(c, a, 2000), AttackResult.ok);
    assert.equal(hp(a), 180 - 12, 'a level-5 player has 100 + 20 * 4 HP; a level-1 hit does 12');
    assert.equal(w.applyAttack(a, a, 5000), AttackResult.self);
    assert.equal(w.applyAttack(a, 0x7777, 5000), AttackResult.noTarget);
    // Both are flagged in combat, and the target's SelfState goes out at the tick.
    assert.equal(w.store.flags[w.store.slotOf(c)]! & Flag.inCombat, Flag.inCombat);
    w.tick(2050, rec);
    assert.deepEqual(
      rec.eventsOf('selfState').map((e) => [e.session, e.hp]),
      [
        [3, 52],
        [1, 168],
      ],
    );
  });

  test('death, then respawn after the delay at the nearest spawn point with full HP', () => {
    const { w, rec } = setup({ combat: { ...COMBAT, playerDamageBase: 60, attackCooldownMs: 0, playerRespawnMs: 5000 } });
    const a = w.addPlayer(1, playerAt('a', 100, 60), 0);
    const b = w.addPlayer(2, playerAt('b', 101, 60), 0);
    const watcher = w.addPlayer(3, playerAt('w', 110, 60), 0);
    w.tick(50, rec);
    rec.clear();
    assert.equal(w.applyAttack(a, b, 100), AttackResult.ok);
    assert.equal(w.applyAttack(a, b, 100), AttackResult.ok);
    const bs = w.store.slotOf(b);
    assert.equal(w.store.hp[bs], 0);
    assert.equal(w.store.flags[bs]! & Flag.dead, Flag.dead);
    assert.equal(w.applyAttack(a, b, 100), AttackResult.targetDead);
    assert.equal(w.applyAttack(b, a, 100), AttackResult.dead);
    w.tick(100, rec);
    const seen = rec.deltas.find((d) => d.session === 3)!;
    assert.deepEqual(seen.damages, [
      { attacker: a, target: b, amount: 60, hpLeft: 40 },
      { attacker: a, target: b, amount: 40, hpLeft: 0 },
    ]);
    assert.deepEqual(seen.deaths, [{ entity: b, killer: a }]);
    assert.equal(seen.updates.find((u) => u.id === b)!.flags & Flag.dead, Flag.dead);
    assert.equal(w.stats[3], 1, 'playerDeaths');
    rec.clear();
    w.tick(5099, rec);
    assert.equal(rec.eventsOf('respawn').length, 0, 'not before the delay');
    w.tick(5100, rec);
    // (20, 20) is nearer to where b fell than (200, 200).
    assert.deepEqual(rec.eventsOf('respawn'), [{ type: 'respawn', session: 2, x: 20, y: 20, hp: 100 }]);
    assert.equal(w.store.flags[bs]! & Flag.dead, 0);
    assert.equal(w.store.x[bs], 20);
    // It left the watcher's view (teleported far away) in the same tick.
    assert.deepEqual(rec.deltas.find((d) => d.session === 3)!.leaves, [b]);
    void watcher;
  });

  test('killing NPCs gives XP on the level curve; level-ups are reported one by one with the new numbers', () => {
    const { w, rec } = setup({
      combat: { ...COMBAT, playerDamageBase: 5000, xpPerKillBase: 0, xpPerKillPerLevel: 100 },
      npcs: [wolf({ levelMin: 3, levelMax: 3 })],
    });
    const a = w.addPlayer(1, playerAt('a', 101, 101), 0);
    const npc = npcId(w);
    assert.equal(w.applyAttack(a, npc, 100), AttackResult.ok);
    // 300 XP: level 2 needs 100, level 3 needs round(100 * 2^1.5) = 283, level 4 needs 520.
    assert.deepEqual(w.combat.xpForLevel.slice(1, 5), Uint32Array.of(0, 100, 283, 520));
    assert.deepEqual(
      rec.eventsOf('levelUp').map((e) => [e.session, e.level, e.xp]),
      [
        [1, 2, 300],
        [1, 3, 300],
      ],
    );
    const s = w.store.slotOf(a);
    assert.equal(w.store.level[s], 3);
    assert.equal(w.store.maxHp[s], 140);
    assert.equal(w.store.hp[s], 140);
    assert.equal(w.stats[2], 1, 'npcKills');
    w.tick(150, rec);
    assert.deepEqual(rec.eventsOf('selfState').at(-1), { type: 'selfState', session: 1, hp: 140, maxHp: 140, level: 3, xp: 300 });
  });

  test('PvP off and link-dead invulnerability protect players', () => {
    const off = setup({ combat: { ...COMBAT, pvp: false } }).w;
    const a = off.addPlayer(1, playerAt('a', 100, 100), 0);
    const b = off.addPlayer(2, playerAt('b', 101, 100), 0);
    assert.equal(off.applyAttack(a, b, 100), AttackResult.protected);

    const on = setup().w;
    const c = on.addPlayer(1, playerAt('c', 100, 100), 0);
    const d = on.addPlayer(2, playerAt('d', 101, 100), 0);
    assert.equal(on.setLinkDead(d, true), true);
    assert.equal(on.applyAttack(c, d, 100), AttackResult.protected);
    on.setLinkDead(d, false);
    assert.equal(on.applyAttack(c, d, 100), AttackResult.ok);

    const exposed = setup({ linkDeadInvulnerable: false }).w;
    const e = exposed.addPlayer(1, playerAt('e', 100, 100), 0);
    const f = exposed.addPlayer(2, playerAt('f', 101, 100), 0);
    exposed.setLinkDead(f, true);
    assert.equal(exposed.applyAttack(e, f, 100), AttackResult.ok);
    assert.equal(exposed.store.flags[exposed.store.slotOf(f)]! & Flag.linkDead, Flag.linkDead);
  });

  test('out of combat, players regenerate once a second', () => {
    const { w, rec } = setup({ combat: { ...COMBAT, regenPercentPerSec: 10, combatFlagMs: 2000 } });
    const a = w.addPlayer(1, playerAt('a', 100, 100), 0);
    const b = w.addPlayer(2, playerAt('b', 101, 100), 0);
    assert.equal(w.applyAttack(a, b, 0), AttackResult.ok);
    const s = w.store.slotOf(b);
    const hpAt = (t: number) => {
      w.tick(t, rec);
      return w.store.hp[s]!;
    };
    assert.equal(hpAt(1500), 88, 'in combat: no regeneration');
    assert.equal(hpAt(2000), 88);
    assert.equal(w.store.flags[s]! & Flag.inCombat, 0, 'combat flag expired');
    assert.equal(hpAt(2600), 98);
    assert.equal(hpAt(3700), 100, 'capped at max');
  });
});

describe('loot', () => {
  const lootWolf = wolf({ loot: [{ item: 7, chance: 1, min: 3, max: 3, name: 'Pelt' }], aggroRadius: 0 });

  test('an NPC kill drops loot that a player in range picks up; the item event carries the new total', () => {
    const { w, rec } = setup({ combat: { ...COMBAT, playerDamageBase: 5000 }, npcs: [lootWolf] });
    const a = w.addPlayer(1, playerAt('a', 101, 101), 0);
    const far = w.addPlayer(2, playerAt('far', 110, 101), 0);
    w.tick(50, rec);
    rec.clear();
    assert.equal(w.applyAttack(a, npcId(w), 100), AttackResult.ok);
    w.tick(100, rec);
    const enter = rec.deltas.find((d) => d.session === 1)!.enters.find((e) => e.kind === Kind.loot)!;
    assert.ok(enter, 'the loot entity becomes visible');
    assert.equal(enter.name, 'Pelt');
    assert.equal(w.applyInteract(far, enter.id, InteractAction.loot, 150), InteractResult.outOfRange);
    assert.equal(w.applyInteract(a, enter.id, InteractAction.use, 150), InteractResult.unsupported);
    assert.equal(w.applyInteract(a, enter.id, InteractAction.loot, 150), InteractResult.ok);
    assert.deepEqual(rec.eventsOf('itemGained'), [{ type: 'itemGained', session: 1, item: 7, count: 3, total: 3 }]);
    assert.equal(w.applyInteract(a, enter.id, InteractAction.loot, 150), InteractResult.noTarget, 'gone');
    const state = w.playerState(a)!;
    assert.deepEqual(Array.from(state.inventory.slice(0, 2)), [7, 3]);
    rec.clear();
    w.tick(150, rec);
    assert.deepEqual(rec.deltas.find((d) => d.session === 1)!.leaves, [enter.id]);
    assert.equal(rec.eventsOf('selfState').length, 1);
    // Respawned wolf, second kill: the pelts stack.
    w.tick(10_200, rec);
    assert.equal(w.applyAttack(a, npcId(w), 10_200), AttackResult.ok);
    const loot = [...Array(w.store.highWater).keys()].find((s) => w.store.kind[s] === Kind.loot)!;
    assert.equal(w.applyInteract(a, w.store.id[loot]!, InteractAction.loot, 10_300), InteractResult.ok);
    assert.deepEqual(rec.eventsOf('itemGained').at(-1), { type: 'itemGained', session: 1, item: 7, count: 3, total: 6 });
  });

  test('a full bag refuses loot and leaves it on the ground; loot expires', () => {
    const { w } = setup({ combat: { ...COMBAT, playerDamageBase: 5000, lootLifetimeMs: 30_000 }, npcs: [lootWolf] });
    const inv = new Uint16Array(INVENTORY_SLOTS * 2);
    for (let i = 0; i < INVENTORY_SLOTS; i++) {
      inv[2 * i] = 100 + i;
      inv[2 * i + 1] = 1;
    }
    const a = w.addPlayer(1, playerAt('a', 101, 101, { inventory: inv }), 0);
    assert.equal(w.applyAttack(a, npcId(w), 100), AttackResult.ok);
    const loot = [...Array(w.store.highWater).keys()].find((s) => w.store.kind[s] === Kind.loot)!;
    const lootId = w.store.id[loot]!;
    assert.equal(w.applyInteract(a, lootId, InteractAction.loot, 200), InteractResult.inventoryFull);
    assert.ok(w.store.isLive(lootId));
    const rec = new Recorder().attach(w);
    w.tick(30_099, rec);
    assert.ok(w.store.isLive(lootId));
    w.tick(30_100, rec);
    assert.ok(!w.store.isLive(lootId), 'expired');
  });

  test('dead players cannot loot', () => {
    const { w } = setup({ combat: { ...COMBAT, playerDamageBase: 5000, attackCooldownMs: 0 }, npcs: [lootWolf] });
    const a = w.addPlayer(1, playerAt('a', 101, 101), 0);
    const b = w.addPlayer(2, playerAt('b', 101, 102), 0);
    assert.equal(w.applyAttack(a, npcId(w), 100), AttackResult.ok);
    assert.equal(w.applyAttack(a, b, 100), AttackResult.ok);
    const loot = [...Array(w.store.highWater).keys()].find((s) => w.store.kind[s] === Kind.loot)!;
    assert.equal(w.applyInteract(b, w.store.id[loot]!, InteractAction.loot, 200), InteractResult.dead);
  });
});
