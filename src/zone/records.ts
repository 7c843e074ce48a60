// Record types on the rings between the gateway and a zone worker, and their
// payload layouts (little-endian). Declared once here; both sides import it.
//
//   owner   ──inbound SPSC──▶ zone        (ToZone.*; one ring per owner: each gateway thread, and the main thread last)
//   zone    ──outbound SPSC─▶ owner       (FromZone.*; a session's records go to its owner's ring)
//   zone    ──mailbox MPSC──▶ other zone  (Mail.*; producers are the other zones)
//
// `session` in the record header is the session id (u32). A player state is
// the binary form of src/world/player-state.ts (encodePlayerState).

import { put16, put32, get16, geti32, get32 } from '../ring/le.js';

/** Gateway → zone. */
export const ToZone = {
  /**
   * Put a player in the world. Payload: u8 kind (JoinKind) | u8 0 | u16 0 |
   * u32 entity hint (0: none; a rejoin after a restart keeps the id the client
   * knows when the restored world still has it) | player state.
   * Answer: FromZone.joined then a Snapshot (OUT), or FromZone.joinFailed.
   */
  join: 1,
  /** A verified ClientMessage (Move, Attack, Interact, Chat, Ping). Payload: its bytes. */
  input: 2,
  /** Take the player out (logout, zombie expiry, shutdown). Answer: FromZone.left with the final state. */
  leave: 3,
  /** The session's socket went (u8 1) or came back (u8 0). */
  linkDead: 4,
  /** Send this player a full Snapshot (a resume whose gap no longer fits the replay buffer). */
  resync: 5,
  /** Handoff barrier: answer FromZone.fenceAck once every earlier record for this session was handled. */
  fence: 6,
  /** A write-through event of this player is durable. Payload: u32 event count made durable. */
  durable: 7,
  /** End of the rejoin batch after a restart: remove restored players no session claimed. Answer: FromZone.reconciled. */
  reconcile: 8,
  /** Fault injection (debug.faultInjection): u8 FaultMode. */
  fault: 9,
  /**
   * The session moves to another owner (a gateway thread, or the main
   * thread): u32 owner index. Written by the old owner after its last input
   * for the session (by the main thread when the old owner's thread died).
   * Answer: FromZone.moved on the old owner's ring, then everything for the
   * session goes to the new owner's ring.
   */
  rebind: 10,
  /**
   * Adaptive degradation (src/net/degrade.ts): u8 updateTicks | u8 0 | u16
   * visibleCap for the whole zone; 0 restores the configured value. Session 0.
   */
  aoiLoad: 20,
} as const;

/** Why a player joins (ToZone.join payload byte 0). */
export const JoinKind = {
  /** A new login: Welcome precedes the Snapshot. */
  login: 0,
  /** Arrived through a portal: ZoneChanged precedes the Snapshot. */
  handoff: 1,
  /** Rejoined after the zone restarted: the Snapshot alone. */
  rejoin: 2,
} as const;

/** Zone → gateway. */
export const FromZone = {
  /** A ServerMessage for the session's next sequenced frame. Payload: its bytes. */
  out: 1,
  /** A ServerMessage sent unsequenced (seq 0: not replayed), e.g. Pong. Payload: its bytes. */
  outUnsequenced: 2,
  /** The player is in the world. Payload: u32 entity id | u8 JoinKind. */
  joined: 3,
  /** The join failed. Payload: i32 AddPlayerError. */
  joinFailed: 4,
  /** The player left (answer to leave). Payload: player state. */
  left: 5,
  /** Periodic state of a player, for write-behind and for rejoining after a restart. Payload: player state. */
  state: 6,
  /** The player walked through a portal and left this world. Payload: u16 target zone | u16 0 | player state (x, y = arrival). */
  handoff: 7,
  /** An input for a session this zone no longer has (handed off): route it to the session's zone. Payload: its bytes. */
  bounce: 8,
  /** Answer to fence. */
  fenceAck: 9,
  /** Write through before telling the client. Payload: u8 WriteThroughKind | u8 0 | u16 0 | u32 a | u32 b | u32 c | player state. */
  writeThrough: 10,
  /** Answer to reconcile. Payload: u32 players removed. */
  reconciled: 11,
  /**
   * A Delta (positions, enters, leaves...): sequenced like `out`, but a socket
   * that is backed up drops these first and gets one Snapshot when it drains.
   */
  outDelta: 12,
  /** Answer to rebind, on the old owner's ring: the last record of this session there. No payload. */
  moved: 13,
} as const;

/** FromZone.writeThrough payload byte 0; a, b, c are level, xp, 0 or item, count, total. */
export const WriteThroughKind = { levelUp: 1, itemGained: 2 } as const;

/** Zone → zone mailbox. */
export const Mail = {
  /** A finished ServerMessage{ChatMessage} on the Global channel: deliver to every player of the zone. */
  globalChat: 1,
} as const;

export const FaultMode = {
  /** An uncaught exception in the worker. */
  throw: 1,
  /** process.exit(3) in the worker. */
  exit: 2,
  /** Allocate until the worker's heap limit (resourceLimits) kills it. */
  oom: 3,
  /** Stop ticking (an endless loop): the supervisor's heartbeat check must catch it. */
  hang: 4,
} as const;
export type FaultModeValue = (typeof FaultMode)[keyof typeof FaultMode];

// ------------------------------------------------------------------ payload codecs
// One writer and one reader per fixed-layout payload, used by both sides of the
// ring (the gateway in src/session, the zone in src/zone/runtime.ts) instead of
// offsets written by hand. They read and write bytes in place: no DataView, no
// allocation. Records whose payload is a message's bytes (input, out, outDelta,
// outUnsequenced, bounce) or a player state alone (left, state) have no codec.


/** ToZone.join: u8 JoinKind | u8 0 | u16 0 | u32 entity hint | player state. */
export const JoinRecord = {
  /** Bytes before the player state. */
  header: 8,
  /** Writes the header at `off`; the player state goes at `off + header`. */
  write(d: Uint8Array, off: number, kind: number, hint: number): void {
    d[off] = kind;
    d[off + 1] = 0;
    put16(d, off + 2, 0);
    put32(d, off + 4, hint);
  },
  kind: (d: Uint8Array, off: number): number => d[off]!,
  hint: (d: Uint8Array, off: number): number => get32(d, off + 4),
} as const;

/** ToZone.linkDead: u8 1 (the socket went) or 0 (it came back). */
export const LinkDeadRecord = {
  size: 1,
  write(d: Uint8Array, off: number, dead: boolean): void {
    d[off] = dead ? 1 : 0;
  },
  dead: (d: Uint8Array, off: number): boolean => d[off] === 1,
} as const;

/** ToZone.durable: u32 write-through events made durable. */
export const DurableRecord = {
  size: 4,
  write(d: Uint8Array, off: number, count: number): void {
    put32(d, off, count);
  },
  count: (d: Uint8Array, off: number): number => get32(d, off),
} as const;

/** ToZone.rebind: u32 owner index (a gateway thread, or the zone's last ring: the main thread). */
export const RebindRecord = {
  size: 4,
  write(d: Uint8Array, off: number, owner: number): void {
    put32(d, off, owner);
  },
  owner: (d: Uint8Array, off: number): number => get32(d, off),
} as const;

/** ToZone.fault: u8 FaultMode. */
export const FaultRecord = {
  size: 1,
  write(d: Uint8Array, off: number, mode: FaultModeValue): void {
    d[off] = mode;
  },
  mode: (d: Uint8Array, off: number): number => d[off]!,
} as const;

/** ToZone.aoiLoad: u8 updateTicks | u8 0 | u16 visibleCap (0: the configured value). */
export const AoiLoadRecord = {
  size: 4,
  write(d: Uint8Array, off: number, updateTicks: number, visibleCap: number): void {
    d[off] = updateTicks;
    d[off + 1] = 0;
    put16(d, off + 2, visibleCap);
  },
  updateTicks: (d: Uint8Array, off: number): number => d[off]!,
  visibleCap: (d: Uint8Array, off: number): number => get16(d, off + 2),
} as const;

/** FromZone.joined: u32 entity id | u8 JoinKind | 3 bytes 0. */
export const JoinedRecord = {
  size: 8,
  write(d: Uint8Array, off: number, entity: number, kind: number): void {
    put32(d, off, entity);
    d[off + 4] = kind;
    d[off + 5] = 0;
    put16(d, off + 6, 0);
  },
  entity: (d: Uint8Array, off: number): number => get32(d, off),
  kind: (d: Uint8Array, off: number): number => d[off + 4]!,
} as const;

/** FromZone.joinFailed: i32 AddPlayerError (negative; -2: unreadable player state). */
export const JoinFailedRecord = {
  size: 4,
  write(d: Uint8Array, off: number, code: number): void {
    put32(d, off, code);
  },
  code: (d: Uint8Array, off: number): number => geti32(d, off),
} as const;

/** FromZone.reconciled: u32 restored players no session claimed (removed). */
export const ReconciledRecord = {
  size: 4,
  write(d: Uint8Array, off: number, removed: number): void {
    put32(d, off, removed);
  },
  removed: (d: Uint8Array, off: number): number => get32(d, off),
} as const;

/** FromZone.handoff: u16 target zone id | u16 0 | player state (x, y = arrival). */
export const HandoffRecord = {
  header: 4,
  write(d: Uint8Array, off: number, targetZone: number): void {
    put16(d, off, targetZone);
    put16(d, off + 2, 0);
  },
  target: (d: Uint8Array, off: number): number => get16(d, off),
} as const;

/** FromZone.writeThrough: u8 WriteThroughKind | u8 0 | u16 0 | u32 a | u32 b | u32 c | player state. */
export const WriteThroughRecord = {
  header: 16,
  write(d: Uint8Array, off: number, kind: number, a: number, b: number, c: number): void {
    d[off] = kind;
    d[off + 1] = 0;
    put16(d, off + 2, 0);
    put32(d, off + 4, a);
    put32(d, off + 8, b);
    put32(d, off + 12, c);
  },
  kind: (d: Uint8Array, off: number): number => d[off]!,
  a: (d: Uint8Array, off: number): number => get32(d, off + 4),
  b: (d: Uint8Array, off: number): number => get32(d, off + 8),
  c: (d: Uint8Array, off: number): number => get32(d, off + 12),
} as const;
