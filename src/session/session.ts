// A session is a player's presence on the server, not a socket. It outlives
// its socket as a zombie (the character stays in the world, outbound frames
// keep going into the replay buffer) until it resumes on a new socket or its
// time runs out.
//
// This is the service's half (main thread): who the player is, its resume
// tokens, its zombie timer, its saved state, which owner serves it. The
// owner's half (sequence numbers, replay, rate limits) is OwnedSession.

import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Socket } from '../net/gateway.js';
import { PLAYER_STATE_MAX_BYTES } from '../world/index.js';

export const SessionState = {
  /** Bound to an open socket. */
  connected: 0,
  /** Socket gone; the character is still in the world and frames are kept for replay. */
  zombie: 1,
  /** Ended: saved and removed. */
  closed: 2,
} as const;
export type SessionStateValue = (typeof SessionState)[keyof typeof SessionState];
export const SESSION_STATE_NAMES = ['connected', 'zombie', 'closed'] as const;

/** 128 bits, as the issue requires at least. */
export const RESUME_TOKEN_BYTES = 16;
/** Tokens rotated out on resume that are still recognised as "replayed" rather than "wrong". */
const REMEMBERED_TOKENS = 4;

export interface SessionIdentity {
  /** Account id, or a negative number for a guest. */
  accountId: number;
  name: string;
  guest: boolean;
}

export class Session {
  state: SessionStateValue = SessionState.connected;
  /** The connection bound to it (its owner serves it); null while a zombie. */
  socket: Socket | null;
  /** Current resume token. */
  token: Buffer;
  private readonly oldTokens: Buffer[] = [];
  /**
   * The token the last successful resume presented, while the client has not
   * yet shown it holds the rotated one (null once it has, and after a login or
   * take-over). The Welcome that carries a new token can be lost with its
   * connection (the client's handshake timed out, the link died), and the
   * client then rightly presents the token it used last: refusing it as a
   * replay would cost an honest player the session.
   */
  private presented: Buffer | null = null;
  /** Zone the character is in (as the service last decided), and its entity id there (0 until the zone confirms the join). */
  zone: number;
  entity = 0;
  /** When the zombie state ends (ms, monotonic clock of the registry). */
  zombieUntil = 0;
  /** Bumped on every state change so a stale expiry entry can be recognised. */
  epoch = 0;
  /** Counted in the service's per-zone load. */
  inZoneLoad = false;
  /** The player's id in the persistence layer. */
  playerId = 0;
  /**
   * The player's latest state as the world encodes it (from the zone's
   * periodic states, or the login record): what is saved, and what rejoins the
   * zone after a restart.
   */
  readonly lastState = new Uint8Array(PLAYER_STATE_MAX_BYTES);
  lastStateLen = 0;
  /** Muted by an operator (dashboard): its owner refuses its chat with ErrorCode.muted. */
  muted = false;
  /** Index of the SessionCore that owns it (a gateway thread, or the main thread's). */
  owner: number;
  /** Being handed to another owner: calls for it wait in `pending` until the new owner has it. */
  moving = false;
  readonly pending: Array<() => void> = [];
  /** Free for the layers above (the persistence layer's snapshot callback). */
  attachment: unknown = null;

  constructor(
    readonly id: number,
    readonly identity: SessionIdentity,
    socket: Socket | null,
    zone: number,
    owner: number,
  ) {
    this.socket = socket;
    this.zone = zone;
    this.owner = owner;
    this.token = randomBytes(RESUME_TOKEN_BYTES);
  }

  /**
   * Constant-time check of a presented token: 'ok' (the current one),
   * 'retry' (the one the last resume presented, while its Welcome is
   * unconfirmed: accepted too), 'replayed' (an earlier, rotated-out token) or
   * 'wrong'.
   */
  checkToken(presented: Uint8Array): 'ok' | 'retry' | 'replayed' | 'wrong' {
    if (presented.length !== RESUME_TOKEN_BYTES) return 'wrong';
    if (timingSafeEqual(presented, this.token)) return 'ok';
    if (this.presented !== null && timingSafeEqual(presented, this.presented)) return 'retry';
    for (const old of this.oldTokens) if (timingSafeEqual(presented, old)) return 'replayed';
    return 'wrong';
  }

  /**
   * Issues a new token; the old one becomes a recognised, refused "replayed"
   * token. `presented`: the token a resume just presented, which stays valid
   * until confirmTokens() (the client may never see the new one); omitted for
   * a login or take-over, where no earlier token may come back.
   */
  rotateToken(presented?: Uint8Array): Buffer {
    this.oldTokens.unshift(this.token);
    if (this.oldTokens.length > REMEMBERED_TOKENS) this.oldTokens.pop();
    this.token = randomBytes(RESUME_TOKEN_BYTES);
    this.presented = presented === undefined ? null : Buffer.from(presented);
    return this.token;
  }

  /** The client spoke after the Welcome on its resumed connection: it holds the new token, and the one it presented is spent. */
  confirmTokens(): void {
    this.presented = null;
  }

  /** A resume's token is still waiting for confirmTokens(). */
  get tokenUnconfirmed(): boolean {
    return this.presented !== null;
  }
}
