// Public types of the client SDK: options, the local model, event payloads.

import type { ServerVerifyOptions } from '../protocol/verify.js';
import type { SavedSession } from './saved.js';

/** The subset of the WebSocket API the SDK uses: the browser's and `ws`'s both fit. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

/** A WebSocket constructor. In Node the `ws` package's; the third argument is ws's options object. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[], options?: Record<string, unknown>) => WebSocketLike;

/** An account's name and password, for POST /auth/login. */
export interface Credentials {
  name: string;
  password: string;
}

export interface ConnectOptions {
  /** Signed token from POST /auth/login. One of token, credentials or guestName. */
  token?: string;
  /**
   * Log in with these (POST /auth/login at authUrl) when there is no token or
   * it has expired: at the start, and for a relogin (tokens are short-lived).
   */
  credentials?: Credentials;
  /** Log in as a guest with this name (when the server allows guests). */
  guestName?: string;
  /**
   * When the server no longer knows the session (a resume refused with 4101,
   * e.g. after a server restart), log in again as the same account with the
   * token or credentials and emit 'relogin'. Never as a new guest: a guest's
   * character lives only for its session, so a guest (guestName or a guest
   * token) gets 'reloginFailed' and the client closes. Default false.
   */
  relogin?: boolean;
  /**
   * Continue a session saved by savedSession() (or drop()) in another client
   * object: the first attempt resumes it (replayed frames apply to the saved
   * model, or a Snapshot replaces it), input seqs continue from it and its
   * unacknowledged inputs are sent again. A resume the server refuses (4101:
   * the session expired) closes the client, or logs in again with relogin.
   */
  resume?: SavedSession;
  /** Base HTTP URL of the server's /auth routes. Default: the WebSocket URL's origin (ws: to http:, wss: to https:). */
  authUrl?: string;
  /** Free text sent in Hello for the server's diagnostics. Default "mmo-sdk/<version> <runtime>". */
  clientName?: string;
  /** Protocol version to announce. Default PROTOCOL_VERSION; tests use others. */
  protocolVersion?: number;
  /** Reconnect and resume after an unexpected close. Default true. */
  reconnect?: boolean;
  /** Backoff base, ms. Default 250. */
  backoffBaseMs?: number;
  /** Backoff ceiling, ms. Default 10000. */
  backoffCapMs?: number;
  /** Consecutive failed attempts before giving up (the client then closes). Default 10; Infinity allowed. */
  maxAttempts?: number;
  /** From opening the socket to Welcome, ms; past it the attempt counts as failed. Default 10000. */
  handshakeTimeoutMs?: number;
  /** Unacknowledged inputs kept for re-sending after a resume; the oldest are dropped past it. Default 256. */
  maxPendingInputs?: number;
  /**
   * How often to tell the server which frames were processed (an Ack), ms, so it
   * can free them from the session's replay buffer. Default 1000; 0 disables.
   */
  ackIntervalMs?: number;
  /**
   * A link that carries nothing for this long, ms, is taken for dead (a
   * half-open TCP connection, a NAT that forgot us, a black hole) and the
   * client resumes on a new one. Past half of it the client sends a Ping, so
   * a quiet but live server answers. Default 10000; 0 disables.
   */
  silenceTimeoutMs?: number;
  /** Node only (ws): source address to bind, e.g. '127.0.0.5' for load tests past per-IP caps. */
  localAddress?: string;
  /** WebSocket implementation. Default: `ws` in Node, the global WebSocket in browsers. */
  WebSocket?: WebSocketConstructor;
  /** Limits for verifying what the server sends. */
  verify?: Partial<ServerVerifyOptions>;
  /** Source of randomness for the backoff jitter, in [0, 1). Default Math.random (tests pin it). */
  random?: () => number;
}

/** A visible entity in the client's model. Positions in world units. Mutated in place by later updates. */
export interface EntityView {
  id: number;
  kind: number;
  x: number;
  y: number;
  hp: number;
  maxHp: number;
  level: number;
  name: string | null;
  flags: number;
  dir: number;
}

export interface InventoryEntry {
  item: number;
  count: number;
}

/** The player's own numbers (SelfState). */
export interface SelfView {
  hp: number;
  maxHp: number;
  level: number;
  xp: number;
  x: number;
  y: number;
  inventory: InventoryEntry[];
}

export interface WelcomeEvent {
  protocolVersion: number;
  sessionId: number;
  /** The player's entity id in its zone (what EntityView.id, damage and deaths carry). */
  entityId: number;
  /** @deprecated The same as entityId (not the character id of /auth/register). */
  playerId: number;
  name: string;
  zone: number;
  tickRate: number;
  serverTime: number;
  resumed: boolean;
  replayed: number;
}

export interface SnapshotEvent {
  tick: number;
  zone: number;
  selfId: number;
  /** The model after the snapshot (the client's own map). */
  entities: ReadonlyMap<number, EntityView>;
}

export interface ChatEvent {
  channel: number;
  fromId: number;
  fromName: string | null;
  text: string | null;
}

/** Payload objects of damage and death events are reused: copy what you keep. */
export interface DamageEvent {
  attacker: number;
  target: number;
  amount: number;
  hpLeft: number;
}

export interface DeathEvent {
  entity: number;
  killer: number;
}

export interface RespawnEvent {
  x: number;
  y: number;
  hp: number;
}

export interface ZoneChangeEvent {
  zone: number;
  name: string | null;
  x: number;
  y: number;
}

export interface LevelUpEvent {
  level: number;
  xp: number;
}

export interface ItemEvent {
  item: number;
  count: number;
  total: number;
}

export interface MoveRejectedEvent {
  refSeq: number;
  x: number;
  y: number;
  /** MoveReject in the protocol codes. */
  reason: number;
}

export interface ServerErrorEvent {
  /** ErrorCode in the protocol codes. */
  code: number;
  reason: string | null;
  refSeq: number;
}

/** A game's own message, sent by the server's content module (ZoneApi.send). */
export interface CustomEvent {
  kind: number;
  /** A copy: yours to keep. */
  data: Uint8Array;
}

export interface KickedEvent {
  code: number;
  reason: string | null;
}

export interface ReconnectingEvent {
  /** 1 for the first retry after a loss. */
  attempt: number;
  delayMs: number;
  /** Close code of the connection that was lost (1006 when it never opened). */
  code: number;
  reason: string;
  /** Server-requested minimum delay included in delayMs (429/503 headers, close reason), ms. */
  hintMs: number;
}

/** A relogin after the server forgot the session: the same account, a new session. */
export interface ReloginEvent {
  /** The session the server no longer knew, and the entity id it had. */
  previousSessionId: number;
  previousEntityId: number;
  sessionId: number;
  entityId: number;
  /** The account's name (the same before and after). */
  name: string;
  /** Unacknowledged inputs of the lost session, not sent to the new one (the world they were meant for is gone). */
  droppedInputs: number;
}

export interface ReloginFailedEvent {
  /** Why the client could not log in again; it closes next (with `code`). */
  reason: string;
  code: number;
}

export interface RedirectedEvent {
  /** The node the Resume was sent to, and the one it goes to now. */
  from: string;
  url: string;
}

export interface CloseEvent {
  code: number;
  reason: string;
}

export interface ClientEvents {
  welcome: WelcomeEvent;
  /** After a Welcome that answered a Resume; replayed frames follow. */
  resumed: { replayed: number };
  snapshot: SnapshotEvent;
  /** After each Delta was applied to the model. */
  tick: { tick: number };
  enter: EntityView;
  update: EntityView;
  leave: EntityView;
  chat: ChatEvent;
  damage: DamageEvent;
  death: DeathEvent;
  respawn: RespawnEvent;
  zone: ZoneChangeEvent;
  self: SelfView;
  levelUp: LevelUpEvent;
  item: ItemEvent;
  moveRejected: MoveRejectedEvent;
  /** A non-fatal Error message from the server. */
  error: ServerErrorEvent;
  kicked: KickedEvent;
  /** A game's own message (content module). */
  custom: CustomEvent;
  reconnecting: ReconnectingEvent;
  /** A cluster node does not hold the session and named the one that does (close 4301): the same Resume goes there at once. */
  redirected: RedirectedEvent;
  /** Logged in again as the same account after the server forgot the session (options.relogin). */
  relogin: ReloginEvent;
  /** options.relogin was set but the client cannot log in again as the same account; 'close' follows. */
  reloginFailed: ReloginFailedEvent;
  /** Final: the client will not reconnect. */
  close: CloseEvent;
}

export interface ClientStats {
  framesReceived: number;
  /** Frames ignored because their seq was not newer than the last processed (replay overlap). */
  duplicateFrames: number;
  bytesReceived: number;
  inputsSent: number;
  /** Unacknowledged inputs dropped because maxPendingInputs was reached. */
  inputsDropped: number;
  reconnects: number;
  resumes: number;
  /** Times the server sent the client to another cluster node to resume there (close 4301); not counted in reconnects. */
  redirects: number;
  /** Frames that failed verification (the connection was dropped and resumed). */
  malformedFrames: number;
}
