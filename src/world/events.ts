// What the world tells the outside, and the status codes of the player API.
//
// The world is synchronous and single-threaded: every callback below runs
// inside a World method on the zone worker's thread, and must not call back
// into the World (no applyMove from inside a writer). Callbacks receive slots
// (indices into the EntityStore arrays, read them at once: a slot is reused
// after its entity goes) or entity ids (stable, with generation).
//
// None of these interfaces allocate on the world's side; an implementation
// that encodes FlatBuffers should keep its own scratch builders.

import type { PlayerState } from './player-state.js';

/** An index into the EntityStore arrays. Valid only during the call that hands it over. */
export type Slot = number;
/** An entity id: generation (15 bits) << 16 | slot. What clients hold. Never 0, always below 2^31. */
export type EntityId = number;

/**
 * Per-observer deltas, written by World.tick() after the simulation step.
 *
 * For each player (observer) that has something to report, in this order:
 *
 *   begin(observer, session)
 *     leave(id)*       entities that left its view (gone, too far, or pushed out by the cap)
 *     enter(slot)*     entities that became visible: read every EntityEnter field from the store
 *     update(slot)*    visible entities whose published state (qx, qy, hp, flags, facing) changed this tick
 *     damage(...)* and death(...)*, interleaved in the order they happened per
 *                      target: on the observer itself, then on entities it sees
 *                      (after this tick's view change). The attacker may be an
 *                      entity the observer does not see (beyond its cap).
 *   end()
 *
 * Observers with nothing to report are skipped: no begin/end. The observer's
 * own entity is never in its view: its numbers go out as SelfState
 * (WorldEvents.selfState) and hits on it as damage().
 *
 * Read from the store at a slot: id, kind, qx, qy (position, 1/16 unit),
 * hp, maxHp, level, flags, facing, names. World.tickCount is the Delta's tick.
 */
export interface DeltaWriter {
  begin(observer: Slot, session: number): void;
  enter(entity: Slot): void;
  update(entity: Slot): void;
  leave(entityId: EntityId): void;
  damage(attackerId: EntityId, targetId: EntityId, amount: number, hpLeft: number): void;
  death(entityId: EntityId, killerId: EntityId): void;
  end(): void;
}

/**
 * A full view for one player (World.snapshot): entering a zone, a resume whose
 * gap no longer fits the replay buffer, a zone restart. The observer's view is
 * reset to exactly these entities; the next deltas are relative to it.
 * SelfState fields are read from the store at `observer`.
 */
export interface SnapshotWriter {
  snapshotBegin(observer: Slot, session: number): void;
  snapshotEntity(entity: Slot): void;
  snapshotEnd(): void;
}

/**
 * Reason of a refused Move, the wire value of MoveRejected.reason
 * (src/protocol/codes.ts should re-export or mirror this table).
 */
export const MoveReject = {
  /** Farther than max speed x elapsed time + burst allows. */
  speed: 1,
  /** One jump beyond movement.teleportDistance. */
  teleport: 2,
  /** The segment crosses an obstacle. */
  obstacle: 3,
  /** Outside the zone (or not a finite number). */
  bounds: 4,
  /** Dead players do not move. */
  dead: 5,
} as const;
export type MoveRejectReason = (typeof MoveReject)[keyof typeof MoveReject];
/** Number of counters in World.moveRejects (index = reason; 0 unused). */
export const MOVE_REJECT_COUNT = 6;

/** Result of World.applyMove: 0 accepted, a MoveReject reason (1..5), or one of these. */
export const MoveResult = {
  accepted: 0,
  /** Accepted, ended in a portal: the player left this world (WorldEvents.handoff was called). */
  handoff: 64,
  /** The entity is not a live player of this world (stale id, handed off, removed). Nothing was sent. */
  noPlayer: 65,
} as const;

/** Result of World.applyAttack. Nothing is sent to the player for a refusal; the caller may turn it into an Error. */
export const AttackResult = {
  ok: 0,
  noPlayer: 1,
  /** The attacker is dead. */
  dead: 2,
  cooldown: 3,
  /** No live player or NPC with that id. */
  noTarget: 4,
  self: 5,
  outOfRange: 6,
  targetDead: 7,
  /** PvP is off, or the target is link-dead and link-dead players are invulnerable. */
  protected: 8,
  /** The NPC is running home (leashing) and cannot be hit. */
  evading: 9,
} as const;
export type AttackResultValue = (typeof AttackResult)[keyof typeof AttackResult];

/** Wire InteractAction values. */
export const InteractAction = { use: 0, loot: 1, talk: 2 } as const;

export const InteractResult = {
  ok: 0,
  noPlayer: 1,
  dead: 2,
  noTarget: 3,
  outOfRange: 4,
  inventoryFull: 5,
  /** Use and Talk have no effect yet. */
  unsupported: 6,
} as const;
export type InteractResultValue = (typeof InteractResult)[keyof typeof InteractResult];

/** Indices of World.stats (counters the zone worker exports as metrics). */
export const WorldStat = {
  movesAccepted: 0,
  attacks: 1,
  npcKills: 2,
  playerDeaths: 3,
  levelUps: 4,
  lootDropped: 5,
  /** Drops lost because maxLoot loot entities were already on the ground. */
  lootLost: 6,
  lootPicked: 7,
  handoffs: 8,
  /** Damage/death events beyond the per-tick event buffer (not shown to clients; the HP change still happens). */
  eventsDropped: 9,
  respawns: 10,
  /** Content hook calls that threw (content-host.ts). */
  hookErrors: 11,
  /** Content hook calls that took longer than their budget. */
  hookOverruns: 12,
} as const;
export const WORLD_STAT_COUNT = 13;

/** Result of World.addPlayer when it is not an entity id (ids are positive). */
export const AddPlayerError = {
  /** maxPlayers reached, or no entity slot left. */
  full: -1,
  /** The name is empty or longer than MAX_NAME_BYTES. */
  invalidState: -2,
} as const;

/**
 * Everything else the world reports, called synchronously from the World
 * method that caused it.
 */
export interface WorldEvents {
  /** A Move was refused; (x, y) is the authoritative position the client must snap to. */
  moveRejected(session: number, seq: number, x: number, y: number, reason: MoveRejectReason): void;
  /**
   * The player's own numbers (hp, maxHp, level, xp, inventory) changed; at most
   * once per player per tick, at the end of tick(). Read them from the store.
   * Position alone does not trigger it (the client predicts its own movement).
   */
  selfState(session: number, entity: Slot): void;
  /** Level gained (possibly several per kill, one call each). Write through to the database before telling the client. */
  levelUp(session: number, entity: Slot, level: number, xp: number): void;
  /** Loot picked up: `total` is the count now in the slot that took it. Write through before telling the client. */
  itemGained(session: number, entity: Slot, item: number, count: number, total: number): void;
  /** A dead player came back at (x, y) with full hp. */
  respawn(session: number, entity: Slot, x: number, y: number, hp: number): void;
  /**
   * The player stepped into a portal and has been removed from this world.
   * `state` is a scratch object reused by the world: serialize or copy it
   * before returning. Its x/y are the arrival position in targetZone.
   */
  handoff(session: number, state: PlayerState, targetZone: number, x: number, y: number): void;
  /**
   * A content hook sends the player a game message of its own (ServerBody
   * Custom): bytes[offset, offset + length), valid only during the call.
   * Returns false when it could not be sent (absent: hooks cannot send).
   */
  customMessage?(session: number, kind: number, bytes: Uint8Array, offset: number, length: number): boolean;
}
