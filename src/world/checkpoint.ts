// Zone checkpoints: the whole simulation state of a World in one compact
// little-endian buffer, so a supervisor can restart a crashed zone worker
// where it was a moment ago. Written by the zone worker (typically into a
// SharedArrayBuffer the gateway keeps, so the bytes outlive the worker), read
// once by the replacement worker's World.restore().
//
// What a restore gives:
//   - every player, NPC and loot entity with its id, position, HP, level, XP,
//     inventory, flags, NPC state and target, cooldowns and movement budget;
//   - timers rebased: stored relative to the checkpoint's nowMs, re-anchored
//     at the restore's nowMs (the new worker may use another clock origin);
//   - the PRNG state, tick counter and counters (moveRejects, stats);
//   - slots' free list and generations. By default every slot not live in the
//     checkpoint has its generation advanced by GENERATION_BUMP, so an id the
//     crashed worker issued after the checkpoint (a loot drop, a player that
//     joined) is never issued again to something else.
//   - NOT visible sets: every player needs a snapshot before the first tick.
//   - NOT players that joined after the checkpoint: the supervisor re-adds
//     them from their sessions' saved state.
//
// Layout:
//
//   header   u32 magic 'MMOC' | u16 version | u16 zone | u32 seed | u32 tick
//            | f64 nowMs | f64 lastTick - nowMs | u32 x4 rng | u32 capacity
//            | u32 highWater | u32 freeTop | u32 entities
//            | f64 x MOVE_REJECT_COUNT moveRejects | f64 x WORLD_STAT_COUNT stats
//   u16 x highWater   generation per slot
//   u16 x freeTop     free stack, bottom first
//   entities, ascending slot:
//     u16 slot | u8 kind | u8 flags | f32 x, y, vx, vy | u8 facing | u16 hp, maxHp
//     | u8 level | u32 xp | u16 qx, qy, pubHp | u8 pubFlags, pubFacing | u32 changedTick
//     | f64 timer, action, combat, think, budgetAt, moved (relative to nowMs) | f64 budget
//     player: u32 session | u16 nameBytes | name | u8 n | n x (u8 slot, u16 item, u16 count)
//     npc:    u8 group | u8 state | u32 target | f32 homeX, homeY, goalX, goalY
//     loot:   u16 item | u16 count | u16 nameBytes | name

import type { World } from './world.js';
import type { ZoneDef } from './zone-def.js';
import { zoneCapacity } from './zone-def.js';
import { INVENTORY_SLOTS, Kind, MAX_GENERATION, type KindValue } from './entity-store.js';
import { MOVE_REJECT_COUNT, WORLD_STAT_COUNT } from './events.js';
import { MAX_NAME_BYTES, nameBytes } from './player-state.js';
import { WorldError, WorldErrorCode } from './errors.js';

const MAGIC = 0x434f4d4d; // "MMOC" little-endian
const VERSION = 1;
const STAT_COUNT = WORLD_STAT_COUNT;
const HEADER = 4 + 2 + 2 + 4 + 4 + 8 + 8 + 16 + 4 + 4 + 4 + 4 + 8 * MOVE_REJECT_COUNT + 8 * STAT_COUNT;
const COMMON = 2 + 1 + 1 + 16 + 1 + 4 + 1 + 4 + 6 + 2 + 4 + 7 * 8;
const PLAYER_EXTRA = 4 + 2 + MAX_NAME_BYTES + 1 + 5 * INVENTORY_SLOTS;
const NPC_EXTRA = 1 + 1 + 4 + 16;
/** Loot names come from the zone definition: at most 64 UTF-16 units, so at most 192 UTF-8 bytes. */
const LOOT_EXTRA = 2 + 2 + 2 + 192;
const ENTITY_MAX = COMMON + Math.max(PLAYER_EXTRA, NPC_EXTRA, LOOT_EXTRA);

/** Generations of slots not live in a checkpoint advance by this on restore. */
export const GENERATION_BUMP = 4096;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Bytes that always suffice for a checkpoint of a zone at full capacity (size a SharedArrayBuffer once). */
export function maxCheckpointBytes(def: ZoneDef): number {
  const cap = zoneCapacity(def);
  return HEADER + 4 * cap + ENTITY_MAX * cap;
}

export function checkpointBound(w: World): number {
  const s = w.store;
  return HEADER + 2 * s.highWater + 2 * s.freeTop + ENTITY_MAX * s.count;
}

export function writeCheckpoint(w: World, out: Uint8Array, nowMs: number): number {
  const store = w.store;
  if (out.length < checkpointBound(w)) return -1;
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let o = 0;
  v.setUint32(o, MAGIC, true);
  v.setUint16(o + 4, VERSION, true);
  v.setUint16(o + 6, w.def.id, true);
  v.setUint32(o + 8, w.def.seed >>> 0, true);
  v.setUint32(o + 12, w.tickCount, true);
  v.setFloat64(o + 16, nowMs, true);
  v.setFloat64(o + 24, w.lastTickMs - nowMs, true);
  o += 32;
  for (let i = 0; i < 4; i++, o += 4) v.setUint32(o, w.rng.state[i]!, true);
  v.setUint32(o, store.capacity, true);
  v.setUint32(o + 4, store.highWater, true);
  v.setUint32(o + 8, store.freeTop, true);
  v.setUint32(o + 12, store.count, true);
  o += 16;
  for (let i = 0; i < MOVE_REJECT_COUNT; i++, o += 8) v.setFloat64(o, w.moveRejects[i]!, true);
  for (let i = 0; i < STAT_COUNT; i++, o += 8) v.setFloat64(o, w.stats[i]!, true);
  for (let s = 0; s < store.highWater; s++, o += 2) v.setUint16(o, store.gen[s]!, true);
  for (let i = 0; i < store.freeTop; i++, o += 2) v.setUint16(o, store.freeStack[i]!, true);

  for (let s = 0; s < store.highWater; s++) {
    const k = store.kind[s]!;
    if (k === Kind.free) continue;
    v.setUint16(o, s, true);
    v.setUint8(o + 2, k);
    v.setUint8(o + 3, store.flags[s]!);
    v.setFloat32(o + 4, store.x[s]!, true);
    v.setFloat32(o + 8, store.y[s]!, true);
    v.setFloat32(o + 12, store.vx[s]!, true);
    v.setFloat32(o + 16, store.vy[s]!, true);
    v.setUint8(o + 20, store.facing[s]!);
    v.setUint16(o + 21, store.hp[s]!, true);
    v.setUint16(o + 23, store.maxHp[s]!, true);
    v.setUint8(o + 25, store.level[s]!);
    v.setUint32(o + 26, store.xp[s]!, true);
    v.setUint16(o + 30, store.qx[s]!, true);
    v.setUint16(o + 32, store.qy[s]!, true);
    v.setUint16(o + 34, store.pubHp[s]!, true);
    v.setUint8(o + 36, store.pubFlags[s]!);
    v.setUint8(o + 37, store.pubFacing[s]!);
    v.setUint32(o + 38, store.changedTick[s]!, true);
    o += 42;
    v.setFloat64(o, store.timerMs[s]! - nowMs, true);
    v.setFloat64(o + 8, store.actionMs[s]! - nowMs, true);
    v.setFloat64(o + 16, store.combatMs[s]! - nowMs, true);
    v.setFloat64(o + 24, store.thinkMs[s]! - nowMs, true);
    v.setFloat64(o + 32, store.budgetMs[s]! - nowMs, true);
    v.setFloat64(o + 40, store.movedMs[s]! - nowMs, true);
    v.setFloat64(o + 48, store.budget[s]!, true);
    o += 56;
    if (k === Kind.player) {
      v.setUint32(o, store.session[s]!, true);
      o = writeName(v, out, o + 4, store.names[s]!);
      const countAt = o++;
      let used = 0;
      const base = s * INVENTORY_SLOTS;
      for (let i = 0; i < INVENTORY_SLOTS; i++) {
        if (store.invItem[base + i] === 0) continue;
        v.setUint8(o, i);
        v.setUint16(o + 1, store.invItem[base + i]!, true);
        v.setUint16(o + 3, store.invCount[base + i]!, true);
        o += 5;
        used++;
      }
      v.setUint8(countAt, used);
    } else if (k === Kind.npc) {
      v.setUint8(o, store.group[s]!);
      v.setUint8(o + 1, store.npcState[s]!);
      v.setUint32(o + 2, store.target[s]!, true);
      v.setFloat32(o + 6, store.homeX[s]!, true);
      v.setFloat32(o + 10, store.homeY[s]!, true);
      v.setFloat32(o + 14, store.goalX[s]!, true);
      v.setFloat32(o + 18, store.goalY[s]!, true);
      o += 22;
    } else {
      v.setUint16(o, store.invItem[s * INVENTORY_SLOTS]!, true);
      v.setUint16(o + 2, store.invCount[s * INVENTORY_SLOTS]!, true);
      o = writeName(v, out, o + 4, store.names[s]!);
    }
  }
  return o;
}

function writeName(v: DataView, out: Uint8Array, o: number, name: string): number {
  const nb = nameBytes(name);
  v.setUint16(o, nb, true);
  if (nb > 0) encoder.encodeInto(name, out.subarray(o + 2, o + 2 + nb));
  return o + 2 + nb;
}

function fail(why: string): never {
  throw new WorldError(WorldErrorCode.checkpoint, `cannot restore checkpoint: ${why}`);
}

/** Fills an empty (unpopulated) World from a checkpoint. See World.restore. */
export function readCheckpoint(w: World, bytes: Uint8Array, nowMs: number, bumpGenerations = true): void {
  const store = w.store;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.length;
  const need = (o: number, n: number): void => {
    if (o + n > end) fail(`truncated at byte ${o} (${end} bytes)`);
  };
  need(0, HEADER);
  if (v.getUint32(0, true) !== MAGIC) fail('not a checkpoint (bad magic)');
  const version = v.getUint16(4, true);
  if (version !== VERSION) fail(`format version ${version}, this build reads ${VERSION}`);
  const zone = v.getUint16(6, true);
  if (zone !== w.def.id) fail(`it is of zone ${zone}, not ${w.def.id}`);
  w.tickCount = v.getUint32(12, true);
  w.lastTickMs = nowMs + v.getFloat64(24, true);
  let o = 32;
  for (let i = 0; i < 4; i++, o += 4) w.rng.state[i] = v.getUint32(o, true);
  const capacity = v.getUint32(o, true);
  const hw = v.getUint32(o + 4, true);
  const freeTop = v.getUint32(o + 8, true);
  const count = v.getUint32(o + 12, true);
  o += 16;
  if (hw > store.capacity) fail(`it uses ${hw} entity slots, this zone has ${store.capacity} (was ${capacity})`);
  if (freeTop + count !== hw) fail('slot accounting does not add up');
  for (let i = 0; i < MOVE_REJECT_COUNT; i++, o += 8) w.moveRejects[i] = v.getFloat64(o, true);
  for (let i = 0; i < STAT_COUNT; i++, o += 8) w.stats[i] = v.getFloat64(o, true);
  need(o, 2 * hw + 2 * freeTop);
  for (let s = 0; s < hw; s++, o += 2) store.gen[s] = v.getUint16(o, true);
  const freeAt = o;
  o += 2 * freeTop;

  let last = -1;
  for (let e = 0; e < count; e++) {
    need(o, COMMON);
    const s = v.getUint16(o, true);
    const kind = v.getUint8(o + 2);
    if (s <= last || s >= hw) fail(`entity slot ${s} out of order or range`);
    last = s;
    if (kind !== Kind.player && kind !== Kind.npc && kind !== Kind.loot) fail(`entity kind ${kind}`);
    if (!store.allocAt(s, store.gen[s]!, kind as KindValue)) fail(`slot ${s} generation ${store.gen[s]}`);
    store.flags[s] = v.getUint8(o + 3);
    store.x[s] = v.getFloat32(o + 4, true);
    store.y[s] = v.getFloat32(o + 8, true);
    if (!w.terrain.inBounds(store.x[s]!, store.y[s]!)) fail(`entity slot ${s} is outside the zone`);
    store.vx[s] = v.getFloat32(o + 12, true);
    store.vy[s] = v.getFloat32(o + 16, true);
    store.facing[s] = v.getUint8(o + 20);
    store.hp[s] = v.getUint16(o + 21, true);
    store.maxHp[s] = v.getUint16(o + 23, true);
    store.level[s] = v.getUint8(o + 25);
    store.xp[s] = v.getUint32(o + 26, true);
    store.qx[s] = v.getUint16(o + 30, true);
    store.qy[s] = v.getUint16(o + 32, true);
    store.pubHp[s] = v.getUint16(o + 34, true);
    store.pubFlags[s] = v.getUint8(o + 36);
    store.pubFacing[s] = v.getUint8(o + 37);
    store.changedTick[s] = v.getUint32(o + 38, true);
    o += 42;
    store.timerMs[s] = nowMs + v.getFloat64(o, true);
    store.actionMs[s] = nowMs + v.getFloat64(o + 8, true);
    store.combatMs[s] = nowMs + v.getFloat64(o + 16, true);
    store.thinkMs[s] = nowMs + v.getFloat64(o + 24, true);
    store.budgetMs[s] = nowMs + v.getFloat64(o + 32, true);
    store.movedMs[s] = nowMs + v.getFloat64(o + 40, true);
    store.budget[s] = v.getFloat64(o + 48, true);
    o += 56;
    if (kind === Kind.player) {
      need(o, 6);
      store.session[s] = v.getUint32(o, true);
      o = readName(v, bytes, o + 4, s, w, MAX_NAME_BYTES);
      need(o, 1);
      const used = v.getUint8(o++);
      if (used > INVENTORY_SLOTS) fail(`inventory of slot ${s}`);
      need(o, used * 5);
      const base = s * INVENTORY_SLOTS;
      for (let k = 0; k < used; k++, o += 5) {
        const i = v.getUint8(o);
        if (i >= INVENTORY_SLOTS) fail(`inventory slot ${i}`);
        store.invItem[base + i] = v.getUint16(o + 1, true);
        store.invCount[base + i] = v.getUint16(o + 3, true);
      }
    } else if (kind === Kind.npc) {
      need(o, NPC_EXTRA);
      const g = v.getUint8(o);
      if (g >= w.def.npcs.length) fail(`NPC group ${g} is not in the zone definition`);
      store.group[s] = g;
      store.names[s] = w.def.npcs[g]!.name;
      store.npcState[s] = v.getUint8(o + 1);
      store.target[s] = v.getUint32(o + 2, true);
      store.homeX[s] = v.getFloat32(o + 6, true);
      store.homeY[s] = v.getFloat32(o + 10, true);
      store.goalX[s] = v.getFloat32(o + 14, true);
      store.goalY[s] = v.getFloat32(o + 18, true);
      o += NPC_EXTRA;
    } else {
      need(o, 6);
      store.invItem[s * INVENTORY_SLOTS] = v.getUint16(o, true);
      store.invCount[s * INVENTORY_SLOTS] = v.getUint16(o + 2, true);
      o = readName(v, bytes, o + 4, s, w, 192);
    }
    w.grid.insert(s);
  }
  if (o !== end) fail(`${end - o} unexpected bytes after the last entity`);

  store.highWater = hw;
  store.freeTop = 0;
  for (let i = 0; i < freeTop; i++) {
    const s = v.getUint16(freeAt + 2 * i, true);
    if (s >= hw || store.kind[s] !== Kind.free) fail(`free slot ${s} is live or out of range`);
    store.freeStack[store.freeTop++] = s;
  }
  if (bumpGenerations) {
    for (let s = 0; s < store.capacity; s++) {
      if (store.kind[s] !== Kind.free) continue;
      let g = (store.gen[s]! + GENERATION_BUMP) & MAX_GENERATION;
      if (g === 0) g = 1;
      store.gen[s] = g;
    }
  }
}

function readName(v: DataView, bytes: Uint8Array, o: number, s: number, w: World, max: number): number {
  if (o + 2 > bytes.length) fail('truncated name');
  const nb = v.getUint16(o, true);
  if (nb > max || o + 2 + nb > bytes.length) fail(`name of slot ${s}`);
  w.store.names[s] = nb === 0 ? '' : decoder.decode(bytes.subarray(o + 2, o + 2 + nb));
  return o + 2 + nb;
}
