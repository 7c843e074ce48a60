// Entity store: structure of arrays over a fixed number of slots, with a free
// list. Nothing on the tick path creates an object per entity; names are the
// only strings and are set once, on join or spawn.
//
// Entity id (what clients see, 32 bits):
//
//   31 30          16 15             0
//   +--+-------------+---------------+
//   |0 | generation  |     slot      |
//   +--+-------------+---------------+
//
// The generation of a slot advances every time it is reused (1..32767, never
// 0), so an id held by a client or an NPC after its entity died never names
// the slot's next occupant for 32,767 reuses; id 0 never exists ("nobody").
// 15 bits keep every id below 2^31: a V8 small integer, never boxed, never a
// double out of a Uint32Array (which would deoptimize the tick after days of
// slot reuse).
//
// Ownership: one World owns one store, on one thread. Other code (the zone
// worker's encoder) reads the arrays directly by slot and never writes them.

import { MAX_ENTITIES } from './zone-def.js';

/** Entity kinds; 0..2 are the wire values of EntityKind. */
export const Kind = { player: 0, npc: 1, loot: 2, free: 255 } as const;
export type KindValue = (typeof Kind)[keyof typeof Kind];

/** Bits of `flags`, identical to EntityState.flags on the wire. */
export const Flag = { dead: 1, inCombat: 2, linkDead: 4, moving: 8 } as const;

/** Inventory slots per player (item id + count each). Loot entities keep their item in slot 0. */
export const INVENTORY_SLOTS = 16;

export const SLOT_BITS = 16;
export const SLOT_MASK = 0xffff;
/** Largest generation; generations run 1..MAX_GENERATION and wrap to 1. */
export const MAX_GENERATION = 0x7fff;

/** Slot index of an entity id. */
export function slotOfId(id: number): number {
  return id & SLOT_MASK;
}

export class EntityStore {
  readonly capacity: number;

  // ---- identity
  /** Current id of the slot's occupant; 0 when free. */
  readonly id: Uint32Array;
  /** Generation of the slot's current (or last) occupant. */
  readonly gen: Uint16Array;
  /** Kind; Kind.free for an unused slot. */
  readonly kind: Uint8Array;
  /** Owning session id (players); 0 otherwise. */
  readonly session: Uint32Array;
  /** Display name; set on join/spawn, '' when free. */
  readonly names: string[];

  // ---- physical state (authoritative)
  readonly x: Float32Array;
  readonly y: Float32Array;
  /** Velocity in units/s: NPCs from their AI, players from their last accepted move. */
  readonly vx: Float32Array;
  readonly vy: Float32Array;
  /** Facing, 256 steps per turn (wire EntityState.dir). */
  readonly facing: Uint8Array;
  readonly hp: Uint16Array;
  readonly maxHp: Uint16Array;
  readonly level: Uint8Array;
  /** Total XP (players). */
  readonly xp: Uint32Array;
  /** Flag bits (wire EntityState.flags). */
  readonly flags: Uint8Array;

  // ---- published state: what the last tick broadcast (the encoder reads qx/qy)
  /** X as last published, 1/16 unit (wire EntityState.x). */
  readonly qx: Uint16Array;
  readonly qy: Uint16Array;
  readonly pubHp: Uint16Array;
  readonly pubFlags: Uint8Array;
  readonly pubFacing: Uint8Array;
  /** Tick at which the published state last changed. */
  readonly changedTick: Uint32Array;

  // ---- timers, in the world's clock (ms)
  /** Players and NPCs: respawn time when dead. NPCs: end of idle pause. Loot: expiry. */
  readonly timerMs: Float64Array;
  /** Earliest time of the next attack (cooldown). */
  readonly actionMs: Float64Array;
  /** In combat until then. */
  readonly combatMs: Float64Array;
  /** NPCs: next aggro scan. Players: next regeneration step. */
  readonly thinkMs: Float64Array;
  /** Players: when the movement budget was last refilled. */
  readonly budgetMs: Float64Array;
  /** Players: last accepted move that changed position (the moving flag). */
  readonly movedMs: Float64Array;
  /** Players: movement budget in units (token bucket). */
  readonly budget: Float64Array;

  // ---- NPCs
  readonly homeX: Float32Array;
  readonly homeY: Float32Array;
  /** Wander goal. */
  readonly goalX: Float32Array;
  readonly goalY: Float32Array;
  /** Index into ZoneDef.npcs. */
  readonly group: Uint8Array;
  /** NpcState. */
  readonly npcState: Uint8Array;
  /** Entity id an NPC chases; 0 for none. */
  readonly target: Uint32Array;

  // ---- inventory: slot * INVENTORY_SLOTS + i
  readonly invItem: Uint16Array;
  readonly invCount: Uint16Array;

  // ---- allocation
  /** Slots below this have been used at least once; iterate [0, highWater). */
  highWater = 0;
  /** Live entities. */
  count = 0;
  /** Live entities per kind (index = Kind value). */
  readonly countByKind = new Int32Array(3);
  /** Stack of freed slots below highWater; allocation pops it before growing highWater. */
  readonly freeStack: Int32Array;
  freeTop = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > MAX_ENTITIES) {
      throw new RangeError(`entity capacity must be an integer from 1 to ${MAX_ENTITIES}, got ${capacity}`);
    }
    this.capacity = capacity;
    const n = capacity;
    this.id = new Uint32Array(n);
    this.gen = new Uint16Array(n);
    this.kind = new Uint8Array(n).fill(Kind.free);
    this.session = new Uint32Array(n);
    this.names = new Array<string>(n).fill('');
    this.x = new Float32Array(n);
    this.y = new Float32Array(n);
    this.vx = new Float32Array(n);
    this.vy = new Float32Array(n);
    this.facing = new Uint8Array(n);
    this.hp = new Uint16Array(n);
    this.maxHp = new Uint16Array(n);
    this.level = new Uint8Array(n);
    this.xp = new Uint32Array(n);
    this.flags = new Uint8Array(n);
    this.qx = new Uint16Array(n);
    this.qy = new Uint16Array(n);
    this.pubHp = new Uint16Array(n);
    this.pubFlags = new Uint8Array(n);
    this.pubFacing = new Uint8Array(n);
    this.changedTick = new Uint32Array(n);
    this.timerMs = new Float64Array(n);
    this.actionMs = new Float64Array(n);
    this.combatMs = new Float64Array(n);
    this.thinkMs = new Float64Array(n);
    this.budgetMs = new Float64Array(n);
    this.movedMs = new Float64Array(n);
    this.budget = new Float64Array(n);
    this.homeX = new Float32Array(n);
    this.homeY = new Float32Array(n);
    this.goalX = new Float32Array(n);
    this.goalY = new Float32Array(n);
    this.group = new Uint8Array(n);
    this.npcState = new Uint8Array(n);
    this.target = new Uint32Array(n);
    this.invItem = new Uint16Array(n * INVENTORY_SLOTS);
    this.invCount = new Uint16Array(n * INVENTORY_SLOTS);
    this.freeStack = new Int32Array(n);
  }

  /** Takes a free slot for a new entity of `kind`, with every field zeroed. Returns the slot, or -1 when full. */
  alloc(kind: KindValue): number {
    let slot: number;
    if (this.freeTop > 0) slot = this.freeStack[--this.freeTop]!;
    else if (this.highWater < this.capacity) slot = this.highWater++;
    else return -1;
    let g = (this.gen[slot]! + 1) & MAX_GENERATION;
    if (g === 0) g = 1;
    this.gen[slot] = g;
    this.id[slot] = (g << SLOT_BITS) | slot;
    this.kind[slot] = kind;
    this.reset(slot);
    this.count++;
    this.countByKind[kind]!++;
    return slot;
  }

  /** Occupies a specific free slot with a given generation (checkpoint restore). Returns false if the slot is taken. */
  allocAt(slot: number, generation: number, kind: KindValue): boolean {
    if (slot < 0 || slot >= this.capacity || this.kind[slot] !== Kind.free || generation < 1 || generation > MAX_GENERATION) return false;
    if (slot >= this.highWater) this.highWater = slot + 1;
    this.gen[slot] = generation;
    this.id[slot] = (generation << SLOT_BITS) | slot;
    this.kind[slot] = kind;
    this.reset(slot);
    this.count++;
    this.countByKind[kind]!++;
    return true;
  }

  /** Releases a live slot. Its id stops resolving at once. */
  free(slot: number): void {
    const k = this.kind[slot]!;
    if (k === Kind.free) return;
    this.countByKind[k]!--;
    this.count--;
    this.kind[slot] = Kind.free;
    this.id[slot] = 0;
    this.session[slot] = 0;
    this.names[slot] = '';
    this.freeStack[this.freeTop++] = slot;
  }

  /** The slot of a live entity id, or -1 if the id is 0, stale or out of range. */
  slotOf(id: number): number {
    const slot = id & SLOT_MASK;
    return id !== 0 && slot < this.capacity && this.id[slot] === id ? slot : -1;
  }

  isLive(id: number): boolean {
    return this.slotOf(id) >= 0;
  }

  private reset(slot: number): void {
    this.session[slot] = 0;
    this.names[slot] = '';
    this.x[slot] = 0;
    this.y[slot] = 0;
    this.vx[slot] = 0;
    this.vy[slot] = 0;
    this.facing[slot] = 0;
    this.hp[slot] = 0;
    this.maxHp[slot] = 0;
    this.level[slot] = 0;
    this.xp[slot] = 0;
    this.flags[slot] = 0;
    this.qx[slot] = 0;
    this.qy[slot] = 0;
    this.pubHp[slot] = 0;
    this.pubFlags[slot] = 0;
    this.pubFacing[slot] = 0;
    this.changedTick[slot] = 0;
    this.timerMs[slot] = 0;
    this.actionMs[slot] = 0;
    this.combatMs[slot] = 0;
    this.thinkMs[slot] = 0;
    this.budgetMs[slot] = 0;
    this.movedMs[slot] = 0;
    this.budget[slot] = 0;
    this.homeX[slot] = 0;
    this.homeY[slot] = 0;
    this.goalX[slot] = 0;
    this.goalY[slot] = 0;
    this.group[slot] = 0;
    this.npcState[slot] = 0;
    this.target[slot] = 0;
    const base = slot * INVENTORY_SLOTS;
    this.invItem.fill(0, base, base + INVENTORY_SLOTS);
    this.invCount.fill(0, base, base + INVENTORY_SLOTS);
  }
}

/** Position on the wire: 1/16 unit in a uint16, rounded, clamped to 0..65535. */
export function quantize(v: number): number {
  const q = Math.round(v * 16);
  return q < 0 ? 0 : q > 65535 ? 65535 : q;
}
