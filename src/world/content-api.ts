// What a content hook may see and do in its zone: the ZoneApi, one object per
// World, passed to every hook (content.ts ContentHooks).
//
// Reading: the entity arrays themselves, typed read-only (Readonly views of
// the EntityStore's typed arrays, indexed by slot; nothing is copied, nothing
// allocated). Iterate slots [0, highWater) and skip kind === Kind.free.
// Writing: only through the methods below, which keep the world's invariants
// (spatial grid, published state, SelfState, write-through of items, events
// clients see). Every method takes and returns numbers (no objects), and none
// allocates, except name() (returns the stored string) and the cold lookups
// npcKind() / ability(), meant for onStart.
//
// Slots are valid only during the hook call that hands them over (a slot is
// reused after its entity goes); keep entity ids (z.id[slot]) across calls and
// turn them back with slotOf().

import type { World } from './world.js';
import { Flag, Kind, INVENTORY_SLOTS } from './entity-store.js';
import { AttackResult } from './events.js';
import { Reg } from './scratch.js';

/** A read-only view of a typed array: index it by slot. */
export interface ReadonlyNumbers {
  readonly [slot: number]: number;
  readonly length: number;
}

export class ZoneApi {
  /** Zone id (ZoneDef.id). */
  readonly zone: number;
  /** Entity slots in this zone; per-entity state of your own fits in typed arrays this long. */
  readonly capacity: number;

  // ---- the entity store, read-only (index by slot)
  /** Entity id of the slot's occupant (0 when free): stable across ticks, unlike the slot. */
  readonly id: ReadonlyNumbers;
  /** Kind.player, Kind.npc, Kind.loot or Kind.free. */
  readonly kind: ReadonlyNumbers;
  /** Owning session (players), 0 otherwise. */
  readonly session: ReadonlyNumbers;
  readonly x: ReadonlyNumbers;
  readonly y: ReadonlyNumbers;
  readonly hp: ReadonlyNumbers;
  readonly maxHp: ReadonlyNumbers;
  readonly level: ReadonlyNumbers;
  readonly xp: ReadonlyNumbers;
  /** Flag bits: Flag.dead, inCombat, linkDead, moving. */
  readonly flags: ReadonlyNumbers;
  /** Inventory: item and count at slot * INVENTORY_SLOTS + i (loot entities: their item at i = 0). */
  readonly invItem: ReadonlyNumbers;
  readonly invCount: ReadonlyNumbers;
  /** Result of near(): slots, and squared distances. Valid until the next near() or world call. */
  readonly nearSlots: ReadonlyNumbers;
  readonly nearD2: ReadonlyNumbers;

  private readonly kindOfGroup: Int32Array;
  private readonly kindIndex: Map<string, number>;
  private readonly abilityIndex: Map<string, number>;

  /** Cold path. */
  constructor(private readonly w: World) {
    const st = w.store;
    this.zone = w.def.id;
    this.capacity = st.capacity;
    this.id = st.id;
    this.kind = st.kind;
    this.session = st.session;
    this.x = st.x;
    this.y = st.y;
    this.hp = st.hp;
    this.maxHp = st.maxHp;
    this.level = st.level;
    this.xp = st.xp;
    this.flags = st.flags;
    this.invItem = st.invItem;
    this.invCount = st.invCount;
    this.nearSlots = w.qSlots;
    this.nearD2 = w.qD2;
    this.kindOfGroup = Int32Array.from(w.def.npcs, (g) => g.kind ?? -1);
    this.kindIndex = new Map((w.def.npcKinds ?? []).map((k, i) => [k, i]));
    this.abilityIndex = new Map((w.def.abilities ?? []).map((a, i) => [a.name, i]));
  }

  /** Slots below this have been used; iterate [0, highWater). */
  get highWater(): number {
    return this.w.store.highWater;
  }

  /** The world's clock (ms) of the call being processed. */
  get nowMs(): number {
    return this.w.reg[Reg.now]!;
  }

  /** Ticks run so far. */
  get tick(): number {
    return this.w.tickCount;
  }

  /** Live players in the zone. */
  get players(): number {
    return this.w.store.countByKind[Kind.player]!;
  }

  /** Slot of a live entity id, or -1 (gone, or never was). */
  slotOf(id: number): number {
    return this.w.store.slotOf(id);
  }

  /** Display name (the stored string; no copy). */
  name(slot: number): string {
    return this.w.store.names[slot] ?? '';
  }

  /** The content NPC kind (index into the content's npcs, in key order) of an NPC slot; -1 for anything else. */
  npcKindOf(slot: number): number {
    return this.w.store.kind[slot] === Kind.npc ? this.kindOfGroup[this.w.store.group[slot]!]! : -1;
  }

  /** Index of an NPC kind by its key in Content.npcs, or -1. Cold: call it in onStart and keep the number. */
  npcKind(key: string): number {
    return this.kindIndex.get(key) ?? -1;
  }

  /** Index of an ability by its key in Content.abilities, or -1. Cold: call it in onStart. */
  ability(key: string): number {
    return this.abilityIndex.get(key) ?? -1;
  }

  /** Live entities within `r` of (x, y): writes nearSlots / nearD2 and returns how many. */
  near(x: number, y: number, r: number): number {
    const q = this.w.grid.q;
    q[0] = x;
    q[1] = y;
    q[2] = r;
    return this.w.grid.queryQ(this.w.qSlots, this.w.qD2);
  }

  /** An integer in [0, n) from the zone's seeded PRNG (deterministic replays stay deterministic). */
  random(n: number): number {
    return this.w.rng.below(n);
  }

  // ---- actions

  /**
   * `attacker` uses ability `ability` (from ability()) on entity id `targetId`:
   * the range, cooldown, PvP and target checks of an Attack, then the hit.
   * Returns an AttackResult (0 ok).
   */
  useAbility(attacker: number, targetId: number, ability: number): number {
    const w = this.w;
    const k = w.store.kind[attacker];
    if (k !== Kind.player && k !== Kind.npc) return AttackResult.noPlayer;
    if (!(ability >= 0 && ability < w.combat.basic)) return AttackResult.noTarget;
    return w.attackWith(attacker, targetId, ability, w.reg[Reg.now]!);
  }

  /** `amount` of damage to `target` from `attacker` (a slot; the target itself for no one), as a hit: events, death, loot. False if the target cannot be hit. */
  damage(attacker: number, target: number, amount: number): boolean {
    const st = this.w.store;
    const kt = st.kind[target];
    if ((kt !== Kind.player && kt !== Kind.npc) || (st.flags[target]! & Flag.dead) !== 0 || st.kind[attacker] === Kind.free) return false;
    const a = amount < 1 ? 1 : amount > 65535 ? 65535 : Math.floor(amount);
    this.w.dealDamage(attacker, target, a);
    return true;
  }

  /** Heals a live player or NPC by up to `amount`; returns the HP now (-1 if it cannot be healed: dead or not a creature). */
  heal(slot: number, amount: number): number {
    const st = this.w.store;
    const k = st.kind[slot];
    if ((k !== Kind.player && k !== Kind.npc) || (st.flags[slot]! & Flag.dead) !== 0) return -1;
    const max = st.maxHp[slot]!;
    const hp = st.hp[slot]! + (amount > 0 ? Math.floor(amount) : 0);
    st.hp[slot] = hp > max ? max : hp;
    if (k === Kind.player) this.w.markSelfDirty(slot);
    return st.hp[slot]!;
  }

  /** Moves a live entity to (x, y) at once (a player is sent its new position in SelfState). False if the point is outside the zone or inside an obstacle. */
  teleport(slot: number, x: number, y: number): boolean {
    const w = this.w;
    if (w.store.kind[slot] === Kind.free) return false;
    const nx = Math.fround(x);
    const ny = Math.fround(y);
    if (!w.terrain.inBounds(nx, ny) || w.terrain.pointBlocked(nx, ny)) return false;
    w.store.x[slot] = nx;
    w.store.y[slot] = ny;
    w.grid.move(slot);
    if (w.store.kind[slot] === Kind.player) {
      // Its client predicts its own position: SelfState tells it where it is now.
      w.movement.resetBudget(w.store, slot, w.reg);
      w.markSelfDirty(slot);
    }
    return true;
  }

  /** Gives a player `count` (1..65535) of `item` (1..65535): written through, then the client is told. Returns the count now held, or -1 (inventory full, not a player). */
  giveItem(player: number, item: number, count: number): number {
    if (this.w.store.kind[player] !== Kind.player || !(item >= 1 && item <= 65535 && count >= 1 && count <= 65535)) return -1;
    return this.w.addItem(player, item | 0, count | 0);
  }

  /** How many of `item` a player holds. */
  itemCount(player: number, item: number): number {
    const st = this.w.store;
    let n = 0;
    for (let i = player * INVENTORY_SLOTS, end = i + INVENTORY_SLOTS; i < end; i++) if (st.invItem[i] === item) n += st.invCount[i]!;
    return n;
  }

  /** Drops loot (`count` of `item`, shown as `name`) where entity `at` stands; it expires after combat.lootLifetimeMs. */
  dropLoot(at: number, item: number, count: number, name: string): void {
    if (this.w.store.kind[at] === Kind.free || !(item >= 1 && item <= 65535 && count >= 1 && count <= 65535)) return;
    this.w.spawnLoot(at, item | 0, count | 0, name);
  }

  /**
   * Sends the player a Custom message (`kind`, bytes[offset, offset + length)).
   * The bytes are copied at once. False when it could not be sent (not a
   * player, or the zone runs without a transport, as in some tests).
   */
  send(player: number, kind: number, bytes: Uint8Array, offset = 0, length = bytes.length - offset): boolean {
    const st = this.w.store;
    if (st.kind[player] !== Kind.player) return false;
    const ev = this.w.events;
    return ev.customMessage !== undefined && ev.customMessage(st.session[player]!, kind & 0xffff, bytes, offset, length);
  }
}
