// A session as its owner sees it: the hot half of a player's session, on the
// one thread that serves its socket (SessionCore, core.ts). The cold half
// (identity, resume tokens, zombie timer, the saved state) is Session
// (session.ts) on the main thread, in SessionService (service.ts).
//
// Owned by exactly one SessionCore at a time: a gateway thread, or the main
// thread (net.gatewayThreads 1, and sessions parked there after their thread
// died). It moves between owners only whole, through export and adopt
// (core.ts, link-records.ts), never shared: no field here is read by another
// thread.

import type { Socket } from '../net/gateway.js';
import { TokenBucket } from './token-bucket.js';
import { emptyStagedList, type StagedList } from './outbound.js';
import type { ReplayBuffer } from './replay.js';

export interface OwnedLimits {
  chatPerSec: number;
  chatBurst: number;
  inputsPerSec: number;
  inputBurst: number;
}

/** Copy of the session's identity the owner needs for Welcome and the account budget. */
export interface OwnedIdentity {
  name: string;
  accountId: number;
  guest: boolean;
}

export class OwnedSession {
  /** The socket while connected; null while a zombie (or parked without one). */
  socket: Socket | null = null;
  /** Ended, or handed to another owner: staged messages are dropped and nothing more is kept. */
  gone = false;
  /** Resume token the next Welcome carries (the service rotates it and tells the owner). */
  token: Uint8Array;
  /** The first message on a resumed socket proves the client holds the new token: the service is told once. */
  confirmPending = false;
  zone: number;
  entity = 0;
  /** Highest input seq accepted from the client; an input at or below it is a duplicate. */
  inSeq = 0;
  /** Seq of the last frame composed for this session. */
  outSeq = 0;
  /** Highest frame seq the client has confirmed processing (Ack.last_seq or Resume.last_seq). */
  clientSeq = 0;
  /** inSeq as written in the last frame sent; below inSeq means an ack is owed. */
  ackSent = 0;
  /** In the flusher's ack queue. */
  ackQueued = false;
  /** When an ack is owed on its own if no frame has carried it by then (ms, performance.now()). */
  ackDueAt = 0;
  /** Messages staged for the current flush. */
  readonly staged: StagedList = emptyStagedList();
  readonly replay: ReplayBuffer;
  /**
   * The frames this owner holds start after a gap it cannot fill (it adopted
   * the session from a thread that died without handing its frames over): a
   * resume gets a Snapshot, numbered after what the client saw.
   */
  seqUnknown = false;
  /** The socket is backed up: position deltas are dropped until it drains, then a snapshot. */
  lagging = false;
  /** Muted by an operator (the service tells the owner): chat is refused with ErrorCode.muted. */
  muted = false;
  /** Inputs refused by the rate limit, decaying with accepted ones: too many closes the socket. */
  floodStrikes = 0;
  readonly chatBucket: TokenBucket;
  readonly inputBucket: TokenBucket;
  /** A Welcome (login) goes out when the zone confirms the join; a ZoneChanged after a portal's join. */
  pendingWelcome = false;
  pendingZoneChanged = false;
  /** Arrival point of the portal, for its ZoneChanged. */
  arrivalX = 0;
  arrivalY = 0;

  // Portal (core.ts "handoff"): the zone handed the player off; inputs wait until both the old
  // zone answered the fence (every input it had is bounced back) and the service named the new zone.
  inTransit = false;
  /** The zone that handed the player off, whose fence answer completes the crossing. */
  fenceZone = -1;
  fenceDone = false;
  /** The service has sent the player's join to its new zone (s.zone is the new zone). */
  targetKnown = false;
  /** Inputs the old zone bounced back (older), then inputs that arrived meanwhile (newer): copies, in order. */
  readonly bounced: Uint8Array[] = [];
  readonly held: Uint8Array[] = [];

  /** A move to another owner was asked while the player crossed a portal: done once it has crossed (-1: none). */
  migrateTo = -1;
  /** Asked to move to another owner: the zone is told, its `moved` answer ends this owner's part. */
  migrating = false;
  /**
   * Adopted from another owner: records of the zone wait in `early` until the
   * zone's `moved` answer has been read from the old owner's ring (only when
   * this owner drains that ring itself, after the old owner's thread died).
   */
  awaitingMoved = false;
  readonly early: Uint8Array[] = [];

  constructor(
    readonly id: number,
    readonly identity: OwnedIdentity,
    zone: number,
    token: Uint8Array,
    replay: ReplayBuffer,
    limits: OwnedLimits,
    nowMs: number,
  ) {
    this.zone = zone;
    this.token = token;
    this.replay = replay;
    this.chatBucket = new TokenBucket(limits.chatPerSec, limits.chatBurst, nowMs);
    this.inputBucket = new TokenBucket(limits.inputsPerSec, limits.inputBurst, nowMs);
  }

  get connected(): boolean {
    return this.socket !== null;
  }
}
