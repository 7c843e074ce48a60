// The simulation of one zone: entities, movement, combat, NPCs, loot, chat
// reach, portals, and per-player deltas. Pure and deterministic: no I/O, no
// clock (every call carries nowMs), no Math.random; the same definition, seed
// and calls give the same outputs. One World per zone worker thread; nothing
// here is shared or thread-safe.
//
// Call pattern (zone worker):
//
//   const world = new World(def, events, now);
//   id = world.addPlayer(session, state, now); world.snapshot(id, writer)   on join
//   world.applyMove / applyAttack / applyInteract(id, ..., now)              as inputs arrive
//   world.tick(now, writer)                                                  at the tick rate
//   world.checkpointInto(buf, now)                                           every few seconds
//
// Timestamps are ms on one monotonic clock per World; a restored World may
// use another time base (checkpoints store times relative to their nowMs).

import type { ZoneDef } from './zone-def.js';
import { DEFAULT_PLAYER_SHARE, DEFAULT_SAY_MAX_LISTENERS, validateZoneDef, zoneCapacity } from './zone-def.js';
import { EntityStore, Flag, Kind, INVENTORY_SLOTS, SLOT_MASK, quantize } from './entity-store.js';
import { SpatialGrid } from './grid.js';
import { Visibility, selectSmallest } from './visibility.js';
import { Terrain } from './terrain.js';
import { MovementRules } from './movement.js';
import { CombatRules } from './combat.js';
import { Rng } from './rng.js';
import { NpcAi, NpcState } from './npc.js';
import {
  AddPlayerError,
  AttackResult,
  InteractAction,
  InteractResult,
  MOVE_REJECT_COUNT,
  MoveResult,
  WORLD_STAT_COUNT,
  WorldStat,
  type DeltaWriter,
  type EntityId,
  type SnapshotWriter,
  type WorldEvents,
} from './events.js';
import { MAX_NAME_BYTES, nameBytes, newPlayerState, type PlayerState } from './player-state.js';
import { checkpointBound, writeCheckpoint, readCheckpoint } from './checkpoint.js';
import { Reg, REG_COUNT } from './scratch.js';
import { ContentHost, type HookOptions } from './content-host.js';
import type { ContentHooks } from './content.js';

/** A player keeps the moving flag this long after an accepted move (covers clients sending at 10 Hz). */
export const MOVING_HOLD_MS = 200;
/** A tick longer than this (a stalled worker) advances NPCs as if it were this long. */
export const MAX_TICK_DT_MS = 250;
const REGEN_INTERVAL_MS = 1000;

export interface RestoreOptions {
  /**
   * Advance the generation of every slot not live in the checkpoint, so ids
   * the crashed world issued after the checkpoint are never reissued (default
   * true). False restores exactly, for a replay that must match the original.
   */
  bumpGenerations?: boolean;
  /** The content's hooks and the rules they run by (see WorldOptions). */
  hooks?: ContentHooks;
  hookOptions?: Partial<HookOptions>;
}

export interface WorldOptions {
  /** Spawn the NPCs (default true; false for a checkpoint restore). */
  populate?: boolean;
  /** The content's hooks (content-host.ts runs them); none by default. */
  hooks?: ContentHooks;
  hookOptions?: Partial<HookOptions>;
}

const EV_DAMAGE = 0;
const EV_DEATH = 1;

export class World {
  readonly def: ZoneDef;
  readonly store: EntityStore;
  readonly grid: SpatialGrid;
  readonly vis: Visibility;
  readonly terrain: Terrain;
  readonly movement: MovementRules;
  readonly combat: CombatRules;
  readonly rng: Rng;
  readonly ai: NpcAi;
  readonly events: WorldEvents;
  /** The content's hooks, or null when it has none. */
  readonly content: ContentHost | null;

  /** Ticks run so far (Delta.tick). */
  tickCount = 0;
  /** nowMs of the last tick. */
  lastTickMs: number;
  /** Refused moves by MoveReject reason (index 0 unused). */
  readonly moveRejects = new Float64Array(MOVE_REJECT_COUNT);
  /** Counters by WorldStat index. */
  readonly stats = new Float64Array(WORLD_STAT_COUNT);

  /** Doubles passed between the world's functions (see scratch.ts). */
  readonly reg = new Float64Array(REG_COUNT);
  /** Scratch for radius queries (NPC aggro, say). Valid until the next query. */
  readonly qSlots: Int32Array;
  readonly qD2: Float64Array;
  /** Most players one Say line reaches (def.sayMaxListeners). */
  private readonly sayMax: number;

  // Damage and death events of the current tick, linked per target slot.
  private readonly evCap: number;
  private readonly evKind: Uint8Array;
  private readonly evTarget: Uint32Array;
  private readonly evAttacker: Uint32Array;
  private readonly evAmount: Uint16Array;
  private readonly evHpLeft: Uint16Array;
  private readonly evNext: Int32Array;
  private readonly evHead: Int32Array;
  private readonly evTail: Int32Array;
  private readonly evTouched: Int32Array;
  private evCount = 0;
  private touchedCount = 0;

  // Players whose SelfState must go out at the end of the tick.
  private readonly selfDirty: Uint8Array;
  private readonly dirtyList: Int32Array;
  private dirtyCount = 0;

  // Loot tables compiled per NPC group: [start, end) into the flat arrays.
  private readonly lootStart: Int32Array;
  private readonly lootItem: Uint16Array;
  /** Drop chance in parts per million (an integer draw: see scratch.ts). */
  private readonly lootChancePpm: Int32Array;
  private readonly lootMin: Uint16Array;
  private readonly lootMax: Uint16Array;
  private readonly lootName: string[];

  private readonly handoffState: PlayerState = newPlayerState('');
  private readonly refreshEvery: number;
  /** Ability of a player's Attack (CombatRules tables). */
  private readonly playerAbility: number;
  private updateEvery: number;
  /** After updateEvery was lowered: until this tick, updates carry changes from the old, longer window (none lost). */
  private wideUntil = 0;
  private wideWindow = 1;

  /**
   * Builds the zone and, unless `populate` is false (checkpoint restore),
   * spawns its NPCs from the seed. Throws WorldError(MMO_ERR_ZONE_DEF) for an
   * invalid definition. Cold path.
   */
  constructor(def: ZoneDef, events: WorldEvents, nowMs = 0, opts: WorldOptions = {}) {
    validateZoneDef(def);
    // A private copy: the world reads some fields after construction, and the caller's object may change.
    this.def = structuredClone(def);
    def = this.def;
    this.events = events;
    const cap = zoneCapacity(def);
    this.store = new EntityStore(cap);
    this.grid = new SpatialGrid(def.width, def.height, def.aoi.cellSize, cap, this.store.x, this.store.y);
    this.vis = new Visibility(this.store, this.grid, def.aoi.radius, def.aoi.hysteresis, def.aoi.visibleCap, def.aoi.playerShare ?? DEFAULT_PLAYER_SHARE);
    this.terrain = new Terrain(def);
    this.movement = new MovementRules(def.movement);
    this.combat = new CombatRules(def.combat, def.abilities);
    this.playerAbility = def.playerAbility ?? this.combat.basic;
    this.rng = new Rng(def.seed);
    this.refreshEvery = def.aoi.refreshTicks;
    this.updateEvery = def.aoi.updateTicks;
    this.lastTickMs = nowMs;
    this.qSlots = new Int32Array(cap);
    this.qD2 = new Float64Array(cap);
    this.sayMax = def.sayMaxListeners ?? DEFAULT_SAY_MAX_LISTENERS;

    this.evCap = Math.max(1024, cap);
    this.evKind = new Uint8Array(this.evCap);
    this.evTarget = new Uint32Array(this.evCap);
    this.evAttacker = new Uint32Array(this.evCap);
    this.evAmount = new Uint16Array(this.evCap);
    this.evHpLeft = new Uint16Array(this.evCap);
    this.evNext = new Int32Array(this.evCap);
    this.evHead = new Int32Array(cap).fill(-1);
    this.evTail = new Int32Array(cap).fill(-1);
    this.evTouched = new Int32Array(this.evCap);
    this.selfDirty = new Uint8Array(cap);
    this.dirtyList = new Int32Array(cap);

    const entries = def.npcs.flatMap((g) => g.loot);
    this.lootStart = new Int32Array(def.npcs.length + 1);
    this.lootItem = new Uint16Array(entries.length);
    this.lootChancePpm = new Int32Array(entries.length);
    this.lootMin = new Uint16Array(entries.length);
    this.lootMax = new Uint16Array(entries.length);
    this.lootName = [];
    let k = 0;
    def.npcs.forEach((g, gi) => {
      this.lootStart[gi] = k;
      for (const l of g.loot) {
        this.lootItem[k] = l.item;
        this.lootChancePpm[k] = Math.round(l.chance * 1_000_000);
        this.lootMin[k] = l.min;
        this.lootMax[k] = l.max;
        this.lootName.push(l.name ?? '');
        k++;
      }
    });
    this.lootStart[def.npcs.length] = k;

    this.ai = new NpcAi(this);
    this.reg[Reg.now] = nowMs;
    this.content = opts.hooks && Object.keys(opts.hooks).length > 0 ? new ContentHost(this, opts.hooks, opts.hookOptions) : null;
    if (opts.populate !== false) {
      this.ai.populate(nowMs);
      this.content?.start();
    }
  }

  // ------------------------------------------------------------------ players

  /**
   * Adds a player from saved, handed-off or new state and returns its entity
   * id, or an AddPlayerError (negative). The position is used if it is in
   * bounds and not inside an obstacle, otherwise a spawn point is picked.
   * Follow with snapshot() so the client gets its first view. Allocates the
   * name string only.
   */
  addPlayer(session: number, state: PlayerState, nowMs: number): EntityId | -1 | -2 {
    const store = this.store;
    if (store.countByKind[Kind.player]! >= this.def.maxPlayers) return AddPlayerError.full;
    const nb = nameBytes(state.name);
    if (nb === 0 || nb > MAX_NAME_BYTES) return AddPlayerError.invalidState;
    const s = store.alloc(Kind.player);
    if (s < 0) return AddPlayerError.full;
    this.reg[Reg.now] = nowMs;
    store.session[s] = session >>> 0;
    store.names[s] = state.name;
    const level = Math.min(this.combat.maxLevel, Math.max(1, Math.floor(state.level) || 1));
    store.level[s] = level;
    store.xp[s] = Math.min(0xffffffff, Math.max(0, Math.floor(state.xp) || 0));
    const maxHp = state.maxHp > 0 ? Math.min(65535, Math.floor(state.maxHp)) : this.combat.maxHpFor(Kind.player, level);
    store.maxHp[s] = maxHp;
    store.hp[s] = state.hp > 0 ? Math.min(maxHp, Math.floor(state.hp)) : maxHp;
    const base = s * INVENTORY_SLOTS;
    for (let i = 0; i < INVENTORY_SLOTS; i++) {
      const item = state.inventory[2 * i] ?? 0;
      const count = state.inventory[2 * i + 1] ?? 0;
      store.invItem[base + i] = count > 0 ? item : 0;
      store.invCount[base + i] = item !== 0 ? count : 0;
    }
    let x = Math.fround(state.x);
    let y = Math.fround(state.y);
    if (!this.terrain.inBounds(x, y) || this.terrain.pointBlocked(x, y)) {
      const sp = this.def.spawnPoints[this.rng.int(0, this.def.spawnPoints.length - 1)]!;
      x = Math.fround(sp.x);
      y = Math.fround(sp.y);
    }
    store.x[s] = x;
    store.y[s] = y;
    this.movement.resetBudget(store, s, this.reg);
    store.movedMs[s] = nowMs - MOVING_HOLD_MS - 1;
    store.thinkMs[s] = nowMs + REGEN_INTERVAL_MS;
    store.actionMs[s] = nowMs;
    this.grid.insert(s);
    this.vis.clear(s);
    this.publishOne(s);
    return store.id[s]!;
  }

  /**
   * Removes a player (logout, zombie expiry) and returns its final state for
   * saving, or null if `entity` is not a live player here. Fills `out` when
   * given, else allocates.
   */
  removePlayer(entity: EntityId, out?: PlayerState): PlayerState | null {
    const s = this.playerSlot(entity);
    if (s < 0) return null;
    const st = out ?? newPlayerState('');
    this.fillState(s, st);
    this.destroy(s);
    return st;
  }

  /** The player's current transferable state (for periodic saves), or null. Fills `out` when given, else allocates. */
  playerState(entity: EntityId, out?: PlayerState): PlayerState | null {
    const s = this.playerSlot(entity);
    if (s < 0) return null;
    const st = out ?? newPlayerState('');
    this.fillState(s, st);
    return st;
  }

  /**
   * Marks a player link-dead (its session is a zombie) or back. A link-dead
   * player stays in the world and keeps receiving deltas (the replay buffer);
   * with def.linkDeadInvulnerable it cannot be attacked and NPCs drop it.
   */
  setLinkDead(entity: EntityId, on: boolean): boolean {
    const s = this.playerSlot(entity);
    if (s < 0) return false;
    this.store.flags[s] = on ? this.store.flags[s]! | Flag.linkDead : this.store.flags[s]! & ~Flag.linkDead;
    return true;
  }

  /** Slot of a live player entity, or -1. */
  playerSlot(entity: EntityId): number {
    const s = this.store.slotOf(entity);
    return s >= 0 && this.store.kind[s] === Kind.player ? s : -1;
  }

  /** Entity ids (and sessions) of every player, e.g. to snapshot them all after a restore. Returns the count. */
  players(outIds: Uint32Array, outSessions?: Uint32Array): number {
    const store = this.store;
    let n = 0;
    for (let s = 0; s < store.highWater && n < outIds.length; s++) {
      if (store.kind[s] !== Kind.player) continue;
      outIds[n] = store.id[s]!;
      if (outSessions) outSessions[n] = store.session[s]!;
      n++;
    }
    return n;
  }

  // ------------------------------------------------------------------ inputs

  /**
   * A client's Move: its predicted position (x, y) with input sequence `seq`.
   * Returns MoveResult.accepted, a MoveReject reason (then
   * events.moveRejected has sent the authoritative position), handoff (the
   * move ended in a portal and the player left this world) or noPlayer.
   */
  applyMove(entity: EntityId, seq: number, x: number, y: number, nowMs: number): number {
    const s = this.playerSlot(entity);
    if (s < 0) return MoveResult.noPlayer;
    const store = this.store;
    const nx = Math.fround(x);
    const ny = Math.fround(y);
    const reg = this.reg;
    reg[Reg.now] = nowMs;
    reg[Reg.x] = nx;
    reg[Reg.y] = ny;
    const r = this.movement.judge(store, this.terrain, s, reg);
    if (r !== 0) {
      this.moveRejects[r]!++;
      this.events.moveRejected(store.session[s]!, seq, store.x[s]!, store.y[s]!, r as 1 | 2 | 3 | 4 | 5);
      return r;
    }
    this.stats[WorldStat.movesAccepted]!++;
    if (nx !== store.x[s] || ny !== store.y[s]) {
      const elapsed = nowMs - store.movedMs[s]!;
      reg[Reg.moveDt] = elapsed < 20 ? 20 : elapsed > 500 ? 500 : elapsed;
      this.moveEntity(s);
      store.movedMs[s] = nowMs;
    }
    this.terrain.seg[0] = nx;
    this.terrain.seg[1] = ny;
    const p = this.terrain.segPortal();
    if (p >= 0) {
      this.handoff(s, p);
      return MoveResult.handoff;
    }
    return MoveResult.accepted;
  }

  /** A client's Attack on entity `targetId`. Applied at once; the hit shows in the next tick's deltas. */
  applyAttack(entity: EntityId, targetId: EntityId, nowMs: number): number {
    const s = this.playerSlot(entity);
    if (s < 0) return AttackResult.noPlayer;
    return this.attackWith(s, targetId, this.playerAbility, nowMs);
  }

  /**
   * Entity `s` (player or NPC) uses ability `ab` (an index into def.abilities)
   * on `targetId`: the checks of an Attack with the ability's range and
   * cooldown, then its damage. Returns an AttackResult.
   */
  attackWith(s: number, targetId: EntityId, ab: number, nowMs: number): number {
    const store = this.store;
    if ((store.flags[s]! & Flag.dead) !== 0) return AttackResult.dead;
    if (nowMs < store.actionMs[s]!) return AttackResult.cooldown;
    if (targetId === store.id[s]) return AttackResult.self;
    const t = store.slotOf(targetId);
    if (t < 0 || store.kind[t] === Kind.loot) return AttackResult.noTarget;
    if ((store.flags[t]! & Flag.dead) !== 0) return AttackResult.targetDead;
    if (store.kind[t] === Kind.player) {
      if (!this.def.combat.pvp && store.kind[s] === Kind.player) return AttackResult.protected;
      if ((store.flags[t]! & Flag.linkDead) !== 0 && this.def.linkDeadInvulnerable) return AttackResult.protected;
    } else if (store.npcState[t] === NpcState.leash) return AttackResult.evading;
    const dx = store.x[t]! - store.x[s]!;
    const dy = store.y[t]! - store.y[s]!;
    const range = this.combat.abRange[ab]!;
    if (dx * dx + dy * dy > range * range) return AttackResult.outOfRange;
    store.actionMs[s] = nowMs + this.combat.abCooldownMs[ab]!;
    this.stats[WorldStat.attacks]!++;
    this.reg[Reg.now] = nowMs;
    this.dealDamage(s, t, this.combat.hit(ab, store.kind[s]!, store.level[s]!, this.rng));
    return AttackResult.ok;
  }

  /** A client's Interact. Loot picks up a loot entity within interactRange (events.itemGained); Use and Talk are unsupported. */
  applyInteract(entity: EntityId, targetId: EntityId, action: number, nowMs: number): number {
    void nowMs;
    const s = this.playerSlot(entity);
    if (s < 0) return InteractResult.noPlayer;
    if (action !== InteractAction.loot) return InteractResult.unsupported;
    const store = this.store;
    if ((store.flags[s]! & Flag.dead) !== 0) return InteractResult.dead;
    const t = store.slotOf(targetId);
    if (t < 0 || store.kind[t] !== Kind.loot) return InteractResult.noTarget;
    const dx = store.x[t]! - store.x[s]!;
    const dy = store.y[t]! - store.y[s]!;
    const range = this.combat.p.interactRange;
    if (dx * dx + dy * dy > range * range) return InteractResult.outOfRange;
    const item = store.invItem[t * INVENTORY_SLOTS]!;
    const count = store.invCount[t * INVENTORY_SLOTS]!;
    if (this.addItem(s, item, count) < 0) return InteractResult.inventoryFull;
    this.destroy(t);
    this.stats[WorldStat.lootPicked]!++;
    return InteractResult.ok;
  }

  /**
   * Puts `count` of `item` in player `s`'s inventory (a slot holding it, else
   * an empty one) and reports it (events.itemGained: written through before
   * the client is told). Returns the count now in that slot, or -1 when the
   * inventory is full.
   */
  addItem(s: number, item: number, count: number): number {
    const store = this.store;
    const base = s * INVENTORY_SLOTS;
    let slot = -1;
    for (let i = 0; i < INVENTORY_SLOTS; i++) {
      if (store.invItem[base + i] === item && store.invCount[base + i]! + count <= 65535) {
        slot = i;
        break;
      }
    }
    if (slot < 0) {
      for (let i = 0; i < INVENTORY_SLOTS; i++) {
        if (store.invItem[base + i] === 0) {
          slot = i;
          break;
        }
      }
    }
    if (slot < 0) return -1;
    store.invItem[base + slot] = item;
    const total = store.invCount[base + slot]! + count;
    store.invCount[base + slot] = total;
    this.markSelf(s);
    this.events.itemGained(store.session[s]!, s, item, count, total);
    return total;
  }

  /**
   * Say chat: writes the sessions of the players within def.sayRadius of the
   * speaker, the nearest def.sayMaxListeners of them (the speaker always
   * included, so its client can echo), into `out` and returns how many (at
   * most out.length), or -1 if `entity` is not a live player. Recipients are
   * in no particular order.
   */
  sayRecipients(entity: EntityId, out: Uint32Array): number {
    const s = this.playerSlot(entity);
    if (s < 0) return -1;
    const store = this.store;
    const q = this.grid.q;
    q[0] = store.x[s]!;
    q[1] = store.y[s]!;
    q[2] = this.def.sayRadius;
    const n = this.grid.queryQ(this.qSlots, this.qD2);
    const slots = this.qSlots;
    const d2 = this.qD2;
    // Players only, compacted in place; the speaker keyed nearer than anyone
    // (-1), so a crowd never leaves it out.
    let m = 0;
    let self = false;
    for (let i = 0; i < n; i++) {
      const p = slots[i]!;
      if (store.kind[p] !== Kind.player) continue;
      if (p === s) self = true;
      slots[m] = p;
      d2[m++] = p === s ? -1 : d2[i]!;
    }
    if (!self) {
      slots[m] = s;
      d2[m++] = -1;
    }
    const max = out.length < this.sayMax ? out.length : this.sayMax;
    // More than may hear it: the `max` nearest (ties by slot), as a view picks its entities.
    if (m > max) selectSmallest(slots, d2, m, max);
    const c = m < max ? m : max;
    for (let i = 0; i < c; i++) out[i] = store.session[slots[i]!]!;
    return c;
  }

  /** Zone chat: the sessions of every player in the zone, in slot order. Returns the count (at most out.length). */
  zoneRecipients(out: Uint32Array): number {
    const store = this.store;
    let c = 0;
    for (let s = 0; s < store.highWater && c < out.length; s++) if (store.kind[s] === Kind.player) out[c++] = store.session[s]!;
    return c;
  }

  // ------------------------------------------------------------------ tick

  /**
   * Advances the world to nowMs: respawns, expiries, regeneration, NPC AI;
   * then publishes changed state and writes every player's delta to `writer`,
   * then SelfState for players whose numbers changed. No allocation.
   */
  tick(nowMs: number, writer: DeltaWriter): void {
    const store = this.store;
    let dt = nowMs - this.lastTickMs;
    dt = dt < 0 ? 0 : dt > MAX_TICK_DT_MS ? MAX_TICK_DT_MS : dt;
    this.lastTickMs = nowMs;
    this.reg[Reg.now] = nowMs;
    this.reg[Reg.dt] = dt;
    this.tickCount = (this.tickCount + 1) >>> 0;

    const hw = store.highWater;
    const regenPct = this.combat.p.regenPercentPerSec;
    for (let s = 0; s < hw; s++) {
      const k = store.kind[s]!;
      if (k === Kind.free) continue;
      if (k === Kind.loot) {
        if (nowMs >= store.timerMs[s]!) this.destroy(s);
        continue;
      }
      let f = store.flags[s]!;
      if ((f & Flag.inCombat) !== 0 && nowMs >= store.combatMs[s]!) f &= ~Flag.inCombat;
      if (k === Kind.npc) {
        store.flags[s] = f;
        this.ai.step(s);
        continue;
      }
      // player
      if ((f & Flag.moving) !== 0 && nowMs - store.movedMs[s]! > MOVING_HOLD_MS) {
        f &= ~Flag.moving;
        store.vx[s] = 0;
        store.vy[s] = 0;
      }
      store.flags[s] = f;
      if ((f & Flag.dead) !== 0) {
        if (nowMs >= store.timerMs[s]!) this.respawnPlayer(s);
      } else if (nowMs >= store.thinkMs[s]!) {
        store.thinkMs[s] = nowMs + REGEN_INTERVAL_MS;
        const hp = store.hp[s]!;
        const max = store.maxHp[s]!;
        if (hp < max && (f & Flag.inCombat) === 0 && regenPct > 0) {
          const heal = Math.max(1, Math.floor((max * regenPct) / 100));
          store.hp[s] = hp + heal > max ? max : hp + heal;
          this.markSelf(s);
        }
      }
    }

    if (this.content !== null) this.content.tick(nowMs);

    const tick = this.tickCount;
    for (let s = 0; s < store.highWater; s++) {
      if (store.kind[s] === Kind.free) continue;
      // quantize(), inlined: a call with a double argument may box it (scratch.ts).
      let qx = Math.round(store.x[s]! * 16);
      let qy = Math.round(store.y[s]! * 16);
      qx = qx < 0 ? 0 : qx > 65535 ? 65535 : qx;
      qy = qy < 0 ? 0 : qy > 65535 ? 65535 : qy;
      if (
        qx !== store.qx[s] ||
        qy !== store.qy[s] ||
        store.hp[s] !== store.pubHp[s] ||
        store.flags[s] !== store.pubFlags[s] ||
        store.facing[s] !== store.pubFacing[s]
      ) {
        store.qx[s] = qx;
        store.qy[s] = qy;
        store.pubHp[s] = store.hp[s]!;
        store.pubFlags[s] = store.flags[s]!;
        store.pubFacing[s] = store.facing[s]!;
        store.changedTick[s] = tick;
      }
    }

    this.grid.pack();
    for (let o = 0; o < store.highWater; o++) {
      if (store.kind[o] === Kind.player) this.writeDelta(o, writer);
    }

    for (let i = 0; i < this.dirtyCount; i++) {
      const s = this.dirtyList[i]!;
      this.selfDirty[s] = 0;
      if (store.kind[s] === Kind.player) this.events.selfState(store.session[s]!, s);
    }
    this.dirtyCount = 0;
    for (let i = 0; i < this.touchedCount; i++) {
      const s = this.evTouched[i]!;
      this.evHead[s] = -1;
      this.evTail[s] = -1;
    }
    this.touchedCount = 0;
    this.evCount = 0;
  }

  /**
   * Writes the player's full view to `writer` and resets its visible set to
   * it (the following deltas are relative to this snapshot). Returns false if
   * `entity` is not a live player.
   */
  snapshot(entity: EntityId, writer: SnapshotWriter): boolean {
    const o = this.playerSlot(entity);
    if (o < 0) return false;
    const vis = this.vis;
    vis.clear(o);
    vis.compute(o);
    writer.snapshotBegin(o, this.store.session[o]!);
    for (let i = 0; i < vis.enterCount; i++) writer.snapshotEntity(vis.enters[i]!);
    writer.snapshotEnd();
    return true;
  }

  // ------------------------------------------------------------------ checkpoint

  /** Upper bound of checkpointInto's output for the current population. */
  checkpointBound(): number {
    return checkpointBound(this);
  }

  /**
   * Serializes the zone (players, NPCs, loot, timers, PRNG) into `out` and
   * returns the bytes written, or -1 if `out` is smaller than
   * checkpointBound(). `out` may view a SharedArrayBuffer the supervisor keeps.
   */
  checkpointInto(out: Uint8Array, nowMs: number): number {
    return writeCheckpoint(this, out, nowMs);
  }

  /**
   * A World restored from a checkpoint of the same zone: every entity keeps
   * its id, timers are rebased onto nowMs. Visible sets start empty: snapshot
   * every player (players()) before the first tick. Slots free in the
   * checkpoint get their generation advanced (see checkpoint.ts) unless
   * opts.bumpGenerations is false. Throws
   * WorldError(MMO_ERR_CHECKPOINT). Cold path.
   */
  static restore(def: ZoneDef, bytes: Uint8Array, events: WorldEvents, nowMs: number, opts: RestoreOptions = {}): World {
    const w = new World(def, events, nowMs, { populate: false, hooks: opts.hooks, hookOptions: opts.hookOptions });
    readCheckpoint(w, bytes, nowMs, opts.bumpGenerations ?? true);
    w.content?.start();
    return w;
  }

  // ------------------------------------------------------------------ internals (used by NpcAi and checkpoints)

  /**
   * Moves entity `s` to (reg[x], reg[y]) (already validated) and keeps
   * facing, velocity (over reg[moveDt] ms), moving flag and grid in step.
   */
  moveEntity(s: number): void {
    const store = this.store;
    const nx = this.reg[Reg.x]!;
    const ny = this.reg[Reg.y]!;
    const dtMs = this.reg[Reg.moveDt]!;
    const dx = nx - store.x[s]!;
    const dy = ny - store.y[s]!;
    if (dx !== 0 || dy !== 0) store.facing[s] = Math.round(Math.atan2(dy, dx) * (128 / Math.PI)) & 255;
    const inv = dtMs > 0 ? 1000 / dtMs : 0;
    store.vx[s] = dx * inv;
    store.vy[s] = dy * inv;
    store.x[s] = nx;
    store.y[s] = ny;
    store.flags[s] = store.flags[s]! | Flag.moving;
    this.grid.move(s);
  }

  /** Applies a hit at reg[now]: HP, combat flags, the event, NPC reaction, death. */
  dealDamage(a: number, t: number, amount: number): void {
    const store = this.store;
    const nowMs = this.reg[Reg.now]!;
    const hp = store.hp[t]!;
    const dealt = amount < hp ? amount : hp;
    const left = hp - dealt;
    store.hp[t] = left;
    const until = nowMs + this.combat.p.combatFlagMs;
    store.flags[a] = store.flags[a]! | Flag.inCombat;
    store.combatMs[a] = until;
    store.flags[t] = store.flags[t]! | Flag.inCombat;
    store.combatMs[t] = until;
    this.recordEvent(EV_DAMAGE, t, store.id[a]!, dealt, left);
    if (store.kind[t] === Kind.player) this.markSelf(t);
    else this.ai.onAttacked(t, a);
    if (left === 0) this.kill(t, a);
  }

  /** Sets the published state of a slot to its current state (new entities: no spurious update). */
  publishOne(s: number): void {
    const store = this.store;
    store.qx[s] = quantize(store.x[s]!);
    store.qy[s] = quantize(store.y[s]!);
    store.pubHp[s] = store.hp[s]!;
    store.pubFlags[s] = store.flags[s]!;
    store.pubFacing[s] = store.facing[s]!;
    store.changedTick[s] = this.tickCount;
  }

  private kill(t: number, killer: number): void {
    const store = this.store;
    const nowMs = this.reg[Reg.now]!;
    store.flags[t] = (store.flags[t]! & ~Flag.moving) | Flag.dead;
    store.vx[t] = 0;
    store.vy[t] = 0;
    this.recordEvent(EV_DEATH, t, store.id[killer]!, 0, 0);
    if (store.kind[t] === Kind.player) {
      store.timerMs[t] = nowMs + this.combat.p.playerRespawnMs;
      this.stats[WorldStat.playerDeaths]!++;
      this.markSelf(t);
      if (this.content !== null) this.content.death(t, killer);
      return;
    }
    this.ai.onDeath(t);
    this.stats[WorldStat.npcKills]!++;
    if (store.kind[killer] === Kind.player) this.grantXp(killer, this.combat.killXp(store.level[t]!));
    const g = store.group[t]!;
    for (let k = this.lootStart[g]!, end = this.lootStart[g + 1]!; k < end; k++) {
      if (this.rng.below(1_000_000) >= this.lootChancePpm[k]!) continue;
      this.spawnLoot(t, this.lootItem[k]!, this.rng.int(this.lootMin[k]!, this.lootMax[k]!), this.lootName[k]!);
    }
    if (this.content !== null) this.content.death(t, killer);
  }

  private grantXp(p: number, amount: number): void {
    const store = this.store;
    const xp = Math.min(0xffffffff, store.xp[p]! + amount);
    store.xp[p] = xp;
    const table = this.combat.xpForLevel;
    while (store.level[p]! < this.combat.maxLevel && xp >= table[store.level[p]! + 1]!) {
      const level = store.level[p]! + 1;
      store.level[p] = level;
      store.maxHp[p] = this.combat.maxHpFor(Kind.player, level);
      store.hp[p] = store.maxHp[p]!;
      this.stats[WorldStat.levelUps]!++;
      this.events.levelUp(store.session[p]!, p, level, xp);
    }
    this.markSelf(p);
  }

  /** Drops loot where entity `at` stands, at reg[now]. */
  spawnLoot(at: number, item: number, count: number, name: string): void {
    const store = this.store;
    if (store.countByKind[Kind.loot]! >= this.def.maxLoot) {
      this.stats[WorldStat.lootLost]!++;
      return;
    }
    const s = store.alloc(Kind.loot);
    if (s < 0) {
      this.stats[WorldStat.lootLost]!++;
      return;
    }
    store.x[s] = store.x[at]!;
    store.y[s] = store.y[at]!;
    store.names[s] = name;
    store.invItem[s * INVENTORY_SLOTS] = item;
    store.invCount[s * INVENTORY_SLOTS] = count;
    store.timerMs[s] = this.reg[Reg.now]! + this.combat.p.lootLifetimeMs;
    this.grid.insert(s);
    this.publishOne(s);
    this.stats[WorldStat.lootDropped]!++;
  }

  private respawnPlayer(s: number): void {
    const store = this.store;
    const nowMs = this.reg[Reg.now]!;
    // Nearest spawn point to where the player fell.
    let best = 0;
    let bestD2 = Infinity;
    const sp = this.def.spawnPoints;
    for (let i = 0; i < sp.length; i++) {
      const dx = sp[i]!.x - store.x[s]!;
      const dy = sp[i]!.y - store.y[s]!;
      const d2 = dx * dx + dy * dy;
      if (d2 < bestD2) {
        bestD2 = d2;
        best = i;
      }
    }
    store.x[s] = Math.fround(sp[best]!.x);
    store.y[s] = Math.fround(sp[best]!.y);
    this.grid.move(s);
    store.hp[s] = store.maxHp[s]!;
    store.flags[s] = store.flags[s]! & Flag.linkDead;
    store.vx[s] = 0;
    store.vy[s] = 0;
    store.thinkMs[s] = nowMs + REGEN_INTERVAL_MS;
    this.movement.resetBudget(store, s, this.reg);
    this.stats[WorldStat.respawns]!++;
    this.markSelf(s);
    this.events.respawn(store.session[s]!, s, store.x[s]!, store.y[s]!, store.hp[s]!);
  }

  private handoff(s: number, portal: number): void {
    const p = this.def.portals[portal]!;
    const st = this.handoffState;
    this.fillState(s, st);
    st.x = p.targetX;
    st.y = p.targetY;
    const session = this.store.session[s]!;
    this.destroy(s);
    this.stats[WorldStat.handoffs]!++;
    this.events.handoff(session, st, p.targetZone, p.targetX, p.targetY);
  }

  private fillState(s: number, out: PlayerState): void {
    const store = this.store;
    out.name = store.names[s]!;
    out.level = store.level[s]!;
    out.xp = store.xp[s]!;
    out.hp = store.hp[s]!;
    out.maxHp = store.maxHp[s]!;
    out.x = store.x[s]!;
    out.y = store.y[s]!;
    const base = s * INVENTORY_SLOTS;
    for (let i = 0; i < INVENTORY_SLOTS; i++) {
      out.inventory[2 * i] = store.invItem[base + i]!;
      out.inventory[2 * i + 1] = store.invCount[base + i]!;
    }
  }

  /** Removes an entity from everything that indexes it, then frees the slot. */
  private destroy(s: number): void {
    this.grid.remove(s);
    this.vis.clear(s);
    this.evHead[s] = -1;
    this.evTail[s] = -1;
    this.store.free(s);
  }

  /** The player's SelfState goes out at the end of this tick (its numbers changed outside the world's own rules). */
  markSelfDirty(s: number): void {
    this.markSelf(s);
  }

  private markSelf(s: number): void {
    if (this.selfDirty[s] === 0) {
      this.selfDirty[s] = 1;
      this.dirtyList[this.dirtyCount++] = s;
    }
  }

  private recordEvent(kind: number, t: number, attacker: number, amount: number, hpLeft: number): void {
    if (this.evCount >= this.evCap) {
      this.stats[WorldStat.eventsDropped]!++;
      return;
    }
    const i = this.evCount++;
    this.evKind[i] = kind;
    this.evTarget[i] = this.store.id[t]!;
    this.evAttacker[i] = attacker;
    this.evAmount[i] = amount;
    this.evHpLeft[i] = hpLeft;
    this.evNext[i] = -1;
    if (this.evHead[t] === -1) {
      this.evHead[t] = i;
      this.evTouched[this.touchedCount++] = t;
    } else this.evNext[this.evTail[t]!] = i;
    this.evTail[t] = i;
  }

  /**
   * Degrades or restores this zone's area of interest at run time (the
   * gateway's degradation controller, ToZone.aoiLoad): send each player its
   * view every `updateTicks` ticks and show at most `visibleCap` entities.
   * 0 restores the zone's configured value. Cold path.
   */
  setAoiLoad(updateTicks: number, visibleCap: number): void {
    const upd = updateTicks === 0 ? this.def.aoi.updateTicks : Math.min(16, Math.max(1, updateTicks | 0));
    if (upd < this.updateEvery) {
      this.wideUntil = this.tickCount + this.updateEvery;
      this.wideWindow = this.updateEvery;
    }
    this.updateEvery = upd;
    this.vis.limit = visibleCap === 0 ? this.vis.cap : Math.min(this.vis.cap, Math.max(1, visibleCap | 0));
  }

  /** The update period and visible cap in force (tests, diagnostics). */
  aoiLoad(): { updateTicks: number; visibleCap: number } {
    return { updateTicks: this.updateEvery, visibleCap: this.vis.limit };
  }

  private writeDelta(o: number, writer: DeltaWriter): void {
    const vis = this.vis;
    const tick = this.tickCount;
    const upd = this.updateEvery;
    if (upd === 1) {
      const every = this.refreshEvery;
      if (every === 1 || (tick + o) % every === 0) vis.compute(o);
      else vis.retain(o);
    } else if ((tick + o) % upd === 0) {
      // An update tick of this player: its view is recomputed, and what
      // changed since its last update (upd ticks ago) goes out.
      vis.compute(o);
    } else {
      if (this.evCount > 0) this.writeEventsBetweenUpdates(o, writer);
      return;
    }
    const session = this.store.session[o]!;
    const changed = this.store.changedTick;
    let open = false;
    const leaves = vis.leaves;
    for (let i = 0, n = vis.leaveCount; i < n; i++) {
      if (!open) {
        writer.begin(o, session);
        open = true;
      }
      writer.leave(leaves[i]!);
    }
    const enters = vis.enters;
    const enterCount = vis.enterCount;
    for (let i = 0; i < enterCount; i++) {
      if (!open) {
        writer.begin(o, session);
        open = true;
      }
      writer.enter(enters[i]!);
    }
    const stays = vis.stays;
    const stayCount = vis.stayCount;
    const win = tick < this.wideUntil ? this.wideWindow : upd;
    for (let i = 0; i < stayCount; i++) {
      const s = stays[i]!;
      // Changed within the ticks since this player's last update (just this one when upd is 1).
      if (((tick - changed[s]!) >>> 0) >= win) continue;
      if (!open) {
        writer.begin(o, session);
        open = true;
      }
      writer.update(s);
    }
    if (this.evCount > 0) {
      const head = this.evHead;
      if (head[o] !== -1) open = this.writeEvents(o, o, writer, open);
      for (let i = 0; i < enterCount; i++) if (head[enters[i]!] !== -1) open = this.writeEvents(enters[i]!, o, writer, open);
      for (let i = 0; i < stayCount; i++) if (head[stays[i]!] !== -1) open = this.writeEvents(stays[i]!, o, writer, open);
    }
    if (open) writer.end();
  }

  /**
   * Between a player's updates (updateTicks > 1): only this tick's combat
   * events about it and about what it saw at its last update, so a hit or a
   * death is never held back. Reads the view as stored; no recompute.
   */
  private writeEventsBetweenUpdates(o: number, writer: DeltaWriter): void {
    const head = this.evHead;
    let open = head[o] !== -1 ? this.writeEvents(o, o, writer, false) : false;
    const vis = this.vis;
    const sets = vis.sets;
    const ids = this.store.id;
    const base = o * vis.cap;
    for (let i = 0, n = vis.counts[o]!; i < n; i++) {
      const id = sets[base + i]!;
      const s = id & SLOT_MASK;
      if (ids[s] === id && head[s] !== -1) open = this.writeEvents(s, o, writer, open);
    }
    if (open) writer.end();
  }

  private writeEvents(t: number, o: number, writer: DeltaWriter, open: boolean): boolean {
    for (let e = this.evHead[t]!; e !== -1; e = this.evNext[e]!) {
      if (!open) {
        writer.begin(o, this.store.session[o]!);
        open = true;
      }
      if (this.evKind[e] === EV_DAMAGE) writer.damage(this.evAttacker[e]!, this.evTarget[e]!, this.evAmount[e]!, this.evHpLeft[e]!);
      else writer.death(this.evTarget[e]!, this.evAttacker[e]!);
    }
    return open;
  }
}
