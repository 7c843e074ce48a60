// Record types on the rings between the gateway and a zone worker, and their
// payload layouts (little-endian). Declared once here; both sides import it.
//
//   gateway ──inbound SPSC──▶ zone        (ToZone.*)
//   zone    ──outbound SPSC─▶ gateway     (FromZone.*)
//   zone    ──mailbox MPSC──▶ other zone  (Mail.*; producers are the other zones)
//
// `session` in the record header is the session id (u32). A player state is
// the binary form of src/world/player-state.ts (encodePlayerState).

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

/** Bytes before the player state in a join payload. */
export const JOIN_HEADER = 8;
/** Bytes before the player state in a handoff payload. */
export const HANDOFF_HEADER = 4;
/** Bytes before the player state in a writeThrough payload. */
export const WRITE_THROUGH_HEADER = 16;
