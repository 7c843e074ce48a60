// The game content API (src/world/content*.ts): a content module's
// definitions become the zone's NPCs, loot and abilities; its hooks run
// inside the World with their faults counted, and crash the zone when they
// keep throwing. The test game is test/fixtures/content-game.ts. The zone
// runtime half runs ZoneRuntime in this thread on a fake clock, playing the
// gateway's side of the rings.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ByteBuffer } from 'flatbuffers';
import {
  World,
  Kind,
  AttackResult,
  WorldError,
  WorldStat,
  contentIssues,
  defaultZoneDefs,
  type Content,
  type ContentHooks,
  type ZoneDef,
  type ZoneApi,
} from '../src/world/index.js';
import { loadContent } from '../src/content/load.js';
import { REFERENCE_CONTENT } from '../src/content/reference.js';
import game, { BOOM, ECHO, ECHOED, HELLO, KILLED, SLIME_ITEM, resolved } from './fixtures/content-game.js';
import { Recorder, playerAt, FREE_MOVE } from './helpers/world.js';
import { tempDir } from './helpers/server.js';
import { ZoneRuntime, type ZoneWorkerData } from '../src/zone/runtime.js';
import { createZoneMemory, ZoneStat } from '../src/zone/shared.js';
import { ToZone, FromZone, JoinKind, JoinRecord } from '../src/zone/records.js';
import { Doorbell, SpscRing } from '../src/ring/index.js';
import { encodePlayerState, newPlayerState } from '../src/world/index.js';
import { ClientMessageBuilder } from '../src/protocol/build.js';
import { ServerMessage } from '../src/protocol/generated/mmo/server-message.js';
import { ServerBody } from '../src/protocol/generated/mmo/server-body.js';
import { Custom } from '../src/protocol/generated/mmo/custom.js';
import { Error as ErrorMsg } from '../src/protocol/generated/mmo/error.js';
import { ErrorCode } from '../src/protocol/codes.js';
import { createWorkerLogger } from '../src/log/logger.js';

/** A Recorder that also takes the hooks' Custom messages. */
class CustomRecorder extends Recorder {
  readonly custom: Array<{ session: number; kind: number; data: number[] }> = [];
  customMessage(session: number, kind: number, bytes: Uint8Array, offset: number, length: number): boolean {
    this.custom.push({ session, kind, data: [...bytes.subarray(offset, offset + length)] });
    return true;
  }
}

function zoneOf(content: Content, over: Partial<ZoneDef> = {}): ZoneDef {
  const d = defaultZoneDefs(1, { size: 256, npcsPerZone: 0, content })[0]!;
  return { ...d, obstacles: [], maxPlayers: 16, movement: { ...FREE_MOVE }, ...over };
}

function run(w: World, rec: Recorder, fromMs: number, toMs: number): number {
  let t = fromMs;
  for (; t <= toMs; t += 50) w.tick(t, rec);
  return t;
}

describe('content definitions', () => {
  test('the reference game is content like any other: wolves and bears with their loot, three quarters wolves', () => {
    assert.deepEqual(contentIssues(REFERENCE_CONTENT), []);
    const d = defaultZoneDefs(1, { npcsPerZone: 200 })[0]!;
    assert.deepEqual(
      d.npcs.map((g) => [g.name, g.count, g.loot.map((l) => l.name)]),
      [
        ['Wolf', 150, ['Wolf Pelt', 'Copper Coins']],
        ['Bear', 50, ['Bear Claw', 'Copper Coins']],
      ],
    );
    assert.deepEqual(d.npcKinds, ['wolf', 'bear']);
  });

  test('every problem is named: unknown references, bad numbers, unknown keys and hooks', () => {
    const bad = {
      name: 'bad',
      items: { a: { id: 0, name: 'A' } },
      lootTables: { t: [{ item: 'nope', chance: 2, min: 1, max: 1 }] },
      abilities: { zap: { range: -1 } },
      npcs: { rat: { name: 'Rat', levelMin: 3, levelMax: 1, aggroRadius: 5, leashRadius: 10, wanderRadius: 5, speed: 1, respawnDelayMs: 0, ability: 'bite', loot: 'gone' } },
      spawns: [{ npc: 'cat', count: 1 }, { npc: 'rat' }],
      hooks: { onTick: 5, onLogin() {} },
      extra: true,
    };
    const issues = contentIssues(bad).join('\n');
    for (const want of [
      'unknown key extra',
      'items.a.id = 0',
      'lootTables.t[0].item "nope" is not in items',
      'lootTables.t[0].chance = 2',
      'abilities.zap.range = -1',
      'npcs.rat.levelMax is below levelMin',
      'npcs.rat.ability "bite" is not in abilities',
      'npcs.rat.loot "gone" is not in lootTables',
      'spawns[0].npc "cat" is not in npcs',
      'spawns[1] needs exactly one of count and share',
      'hooks.onTick must be a function',
      'hooks.onLogin is not a hook',
    ]) {
      assert.ok(issues.includes(want), `missing "${want}" in:\n${issues}`);
    }
    assert.deepEqual(contentIssues(game), []);
  });

  test('loadContent: a missing file, a module that throws on import and invalid definitions each fail with MMO_ERR_CONTENT naming the file', async () => {
    const dir = tempDir('mmo-content-');
    await assert.rejects(loadContent(join(dir, 'absent.js')), (e: WorldError) => e.code === 'MMO_ERR_CONTENT' && e.message.includes('absent.js'));
    writeFileSync(join(dir, 'throws.mjs'), "throw new Error('import-time failure');\n");
    await assert.rejects(loadContent('throws.mjs', dir), (e: WorldError) => e.code === 'MMO_ERR_CONTENT' && /throws\.mjs failed to load: import-time failure/.test(e.message));
    writeFileSync(join(dir, 'invalid.mjs'), "export default { name: 'x', spawns: [{ npc: 'ghost', count: 1 }] };\n");
    await assert.rejects(loadContent('invalid.mjs', dir), (e: WorldError) => e.code === 'MMO_ERR_CONTENT' && e.message.includes('invalid.mjs') && e.message.includes('spawns[0].npc "ghost"'));
    const ok = await loadContent('', dir);
    assert.equal(ok.content, REFERENCE_CONTENT);
    assert.equal(ok.module, '', 'the reference game has no hooks for workers to import');
  });
});

describe('a custom NPC kind in the World', () => {
  test('slimes: the kind\'s name, HP and loot, and its ability\'s range, cooldown and damage, not the zone\'s melee', () => {
    const rec = new CustomRecorder();
    const w = new World(zoneOf(game), rec, 0, { hooks: game.hooks });
    rec.world = w;
    const st = w.store;
    const slimes: number[] = [];
    for (let s = 0; s < st.highWater; s++) if (st.kind[s] === Kind.npc) slimes.push(s);
    assert.equal(slimes.length, 3);
    for (const s of slimes) {
      assert.equal(st.names[s], 'Slime');
      assert.equal(st.level[s], 2);
      assert.equal(st.maxHp[s], 35, 'hp 30 + 5 per level above 1');
      assert.ok(st.x[s]! >= 100 && st.x[s]! <= 108 && st.y[s]! >= 100 && st.y[s]! <= 108, 'inside the spawn area');
    }
    assert.deepEqual(resolved(), { slime: 0, spit: 0 }, 'onStart resolved the names');
    // A sturdy player just east of the area: every slime in aggro range (15), none within the zone's melee reach (3).
    const p = w.addPlayer(1, playerAt('target', 115, 104, { level: 30 }), 0);
    assert.ok(p > 0);
    const ps = w.playerSlot(p);
    run(w, rec, 50, 3000);
    const hits = rec.deltas.flatMap((d) => d.damages.map((h) => ({ ...h, tick: d.tick }))).filter((h) => h.target === p);
    assert.ok(hits.length >= 9, `the slimes spat (${hits.length} hits)`);
    assert.ok(hits.every((h) => h.amount === 7), `every hit is exactly 7: ${hits.map((h) => h.amount).join(',')}`);
    const attackers = new Set(hits.map((h) => h.attacker));
    assert.equal(attackers.size, 3, 'all three spat');
    for (const a of attackers) {
      const ticks = hits.filter((h) => h.attacker === a).map((h) => h.tick);
      for (let i = 1; i < ticks.length; i++) assert.ok(ticks[i]! - ticks[i - 1]! >= 10, `500 ms cooldown (10 ticks) between hits: ${ticks.join(',')}`);
    }
    for (const s of slimes) {
      const d = Math.hypot(st.x[s]! - st.x[ps]!, st.y[s]! - st.y[ps]!);
      assert.ok(d > 3 && d <= 12, `slime spits from ${d.toFixed(1)} units, beyond melee and within its range`);
    }
  });

  test('onDeath: a player who kills a slime gets its loot on the ground and the hook\'s Custom message', () => {
    const rec = new CustomRecorder();
    const w = new World(zoneOf(game), rec, 0, { hooks: game.hooks });
    rec.world = w;
    const st = w.store;
    let slime = -1;
    for (let s = 0; s < st.highWater; s++) if (st.kind[s] === Kind.npc) slime = s;
    const p = w.addPlayer(7, playerAt('hero', st.x[slime]! + 1, st.y[slime]!, { level: 30 }), 0);
    assert.equal(w.applyAttack(p, st.id[slime]!, 10), 0, 'a level-30 hit (99) kills a 35 HP slime');
    assert.ok((st.flags[slime]! & 1) !== 0, 'dead');
    const killed = rec.custom.filter((c) => c.kind === KILLED);
    assert.equal(killed.length, 1);
    assert.equal(killed[0]!.session, 7);
    assert.ok(killed[0]!.data[0]! >= 1);
    let jelly = 0;
    for (let s = 0; s < st.highWater; s++) if (st.kind[s] === Kind.loot && st.invItem[s * 16] === SLIME_ITEM) jelly += st.invCount[s * 16]!;
    assert.equal(jelly, 2, 'the loot table dropped 2 Slime Jelly (chance 1)');
  });
});

describe('the zone API a hook gets', () => {
  test('reads the store in place; heal, teleport, giveItem, dropLoot, near, useAbility and damage keep the world consistent', () => {
    let z!: ZoneApi;
    const c: Content = {
      ...game,
      hooks: {
        ...game.hooks,
        onStart: (api) => {
          z = api;
          game.hooks.onStart(api);
        },
      },
    };
    const rec = new CustomRecorder();
    const w = new World(zoneOf(c), rec, 0, { hooks: c.hooks });
    rec.world = w;
    assert.ok(z, 'onStart got the API');
    const st = w.store;
    const p = w.addPlayer(4, playerAt('api', 40, 40, { hp: 50 }), 0);
    const ps = w.playerSlot(p);
    assert.equal(z.x, st.x, 'the arrays themselves, not copies');
    assert.equal(z.hp[ps], 50);
    assert.equal(z.heal(ps, 30), 80);
    assert.equal(z.heal(ps, 1e6), st.maxHp[ps]);
    assert.equal(z.teleport(ps, 9999, 1), false, 'outside the zone');
    assert.equal(z.teleport(ps, 60, 70), true);
    assert.deepEqual([st.x[ps], st.y[ps]], [60, 70]);
    assert.equal(z.near(60, 70, 1), 1);
    assert.equal(z.nearSlots[0], ps, 'the grid moved with it');
    assert.equal(z.giveItem(ps, 500, 3), 3);
    assert.equal(z.giveItem(ps, 500, 2), 5);
    assert.equal(z.itemCount(ps, 500), 5);
    assert.deepEqual(rec.events.filter((e) => e.type === 'itemGained').map((e) => (e as { total: number }).total), [3, 5], 'written through like loot');
    z.dropLoot(ps, 501, 1, 'Token');
    let loot = -1;
    for (let s2 = 0; s2 < st.highWater; s2++) if (st.kind[s2] === Kind.loot) loot = s2;
    assert.equal(st.names[loot], 'Token');
    const slime = [...Array(st.highWater).keys()].find((s2) => st.kind[s2] === Kind.npc)!;
    assert.equal(z.npcKindOf(slime), z.npcKind('slime'));
    assert.equal(z.npcKindOf(ps), -1);
    // The slime spits at the player from 10 units: the ability's range (12), not melee's (3).
    z.teleport(ps, st.x[slime]! + 10, st.y[slime]!);
    assert.equal(z.useAbility(slime, p, z.ability('spit')), 0);
    assert.equal(z.useAbility(slime, p, z.ability('spit')), AttackResult.cooldown);
    assert.equal(st.hp[ps], st.maxHp[ps]! - 7);
    assert.equal(z.damage(ps, slime, 1000), true);
    assert.ok((st.flags[slime]! & 1) !== 0, 'dead, through the normal death path');
    assert.equal(z.damage(ps, slime, 1), false, 'the dead cannot be hit');
    assert.ok(rec.custom.some((m) => m.kind === KILLED && m.session === 4), 'onDeath ran for the hook-dealt kill');
  });
});

describe('hook faults', () => {
  const ticker = (onTick: ContentHooks['onTick']): Content => ({ name: 'ticker', hooks: { onTick } });

  test('a hook that throws is counted and reported, and the zone carries on while successes come in between', () => {
    const reports: string[] = [];
    let n = 0;
    const c = ticker(() => {
      if (++n % 2 === 1) throw new Error(`odd tick ${n}`);
    });
    const rec = new Recorder();
    // A budget no tick reaches: a loaded machine must not add an overrun report to the throws counted here.
    const w = new World(zoneOf(c), rec, 0, { hooks: c.hooks, hookOptions: { maxConsecutiveErrors: 2, budgetMs: 60_000, report: (h, r) => reports.push(`${h}:${r}`) } });
    rec.world = w;
    run(w, rec, 50, 1000);
    assert.equal(n, 20);
    assert.equal(w.stats[WorldStat.hookErrors], 10);
    assert.equal(w.tickCount, 20, 'every tick ran');
    assert.equal(reports.length, 10);
    assert.ok(reports.every((r) => r === 'onTick:threw'));
  });

  test('maxConsecutiveErrors throws in a row are rethrown as MMO_ERR_CONTENT_HOOK (the worker crashes, the supervisor restarts it)', () => {
    const c = ticker(() => {
      throw new Error('always');
    });
    const rec = new Recorder();
    const w = new World(zoneOf(c), rec, 0, { hooks: c.hooks, hookOptions: { maxConsecutiveErrors: 3 } });
    rec.world = w;
    w.tick(50, rec);
    w.tick(100, rec);
    assert.equal(w.stats[WorldStat.hookErrors], 2);
    assert.throws(
      () => w.tick(150, rec),
      (e: WorldError) => e.code === 'MMO_ERR_CONTENT_HOOK' && /3 times in a row.*onTick: always/.test(e.message) && (e.cause as Error).message === 'always',
    );
  });

  test('a hook over its budget is counted as an overrun, one within it is not', () => {
    let clock = 0;
    let slow = true;
    const c = ticker(() => {
      clock += slow ? 5 : 1;
    });
    const reports: Array<[string, number]> = [];
    const rec = new Recorder();
    const w = new World(zoneOf(c), rec, 0, { hooks: c.hooks, hookOptions: { budgetMs: 2, clock: () => clock, report: (_h, r, ms) => reports.push([r, ms]) } });
    rec.world = w;
    w.tick(50, rec);
    w.tick(100, rec);
    slow = false;
    w.tick(150, rec);
    assert.equal(w.stats[WorldStat.hookOverruns], 2);
    assert.deepEqual(reports, [
      ['overran', 5],
      ['overran', 5],
    ]);
  });
});

describe('the zone runtime with a content module', () => {
  function setup() {
    const def = zoneOf(game);
    const memory = createZoneMemory({ inboundBytes: 1 << 16, outboundBytes: 1 << 18, mailboxBytes: 1 << 14, mailboxProducers: 1, checkpointBytes: 1 << 18 }, Doorbell.create());
    const data: ZoneWorkerData = { index: 0, def, tickHz: 20, memory, mailboxes: [memory.mailbox], restore: false, checkpointIntervalMs: 1e9, stateIntervalMs: 1e9, faultInjection: false };
    const clock = { now: 1000 };
    const rt = new ZoneRuntime(data, createWorkerLogger('silent', {}), () => clock.now, () => {}, game.hooks);
    const inbound = new SpscRing(memory.inbound, 0);
    const outbound = new SpscRing(memory.outbound, 0);
    const got: Array<{ type: string; kind?: number; data?: number[]; code?: number; refSeq?: number }> = [];
    const msg = new ServerMessage();
    const drain = () => {
      rt.drain();
      outbound.drain((type, _session, bytes, offset, length) => {
        if (type === FromZone.joined) return void got.push({ type: 'joined' });
        if (type !== FromZone.out && type !== FromZone.outDelta) return;
        const m = ServerMessage.getRootAsServerMessage(new ByteBuffer(bytes.slice(offset, offset + length)), msg);
        if (m.bodyType() === ServerBody.Custom) {
          const c = m.body(new Custom()) as Custom;
          got.push({ type: 'custom', kind: c.kind(), data: [...(c.dataArray() ?? [])] });
        } else if (m.bodyType() === ServerBody.Error) {
          const e = m.body(new ErrorMsg()) as ErrorMsg;
          got.push({ type: 'error', code: e.code(), refSeq: e.refSeq() });
        } else got.push({ type: ServerBody[m.bodyType()]! });
      });
    };
    const join = (session: number) => {
      const buf = new Uint8Array(256);
      buf[0] = JoinKind.login;
      const state = { ...newPlayerState(`p${session}`), x: 128, y: 128 };
      const end = encodePlayerState(state, buf, JoinRecord.header);
      assert.ok(inbound.push(ToZone.join, session, buf, 0, end));
      inbound.commit();
      drain();
    };
    const cmb = new ClientMessageBuilder();
    const input = (session: number, bytes: Uint8Array) => {
      assert.ok(inbound.push(ToZone.input, session, bytes, 0, bytes.length));
      inbound.commit();
      drain();
    };
    return { rt, got, join, input, cmb, clock };
  }

  test('onJoin greets after the Snapshot; a Custom input is echoed as a Custom message; an unknown kind is refused with its seq; a throw is counted', () => {
    const { rt, got, join, input, cmb, clock } = setup();
    join(5);
    assert.deepEqual(
      got.map((g) => g.type),
      ['joined', 'Snapshot', 'custom'],
    );
    assert.deepEqual(got[2], { type: 'custom', kind: HELLO, data: [1] });
    got.length = 0;
    input(5, cmb.custom(1, ECHO, new Uint8Array([9, 8, 7, 255])).slice());
    assert.deepEqual(got, [{ type: 'custom', kind: ECHOED, data: [9, 8, 7, 255] }]);
    got.length = 0;
    input(5, cmb.custom(2, 999, null).slice());
    assert.deepEqual(got, [{ type: 'error', code: ErrorCode.invalidInput, refSeq: 2 }]);
    got.length = 0;
    input(5, cmb.custom(3, BOOM, new Uint8Array([1])).slice());
    assert.deepEqual(got, [{ type: 'error', code: ErrorCode.invalidInput, refSeq: 3 }], 'a throwing onInput answers as a refusal');
    clock.now += 50;
    rt.tick(clock.now);
    assert.equal(rt.stats[ZoneStat.worldStats + WorldStat.hookErrors], 1, 'the throw reached the stats block the metrics read');
  });
});
