// The client SDK: one MmoClient per player connection. Browser-safe: nothing
// here imports a node: module; in Node the `ws` package is loaded lazily.
//
// Wire conventions the SDK relies on (the gateway must follow them):
//   - Every binary message from the server is one ServerFrame. A frame with
//     seq 0 is unsequenced (Welcome, Pong, Kicked...): always processed, never
//     replayed. Sequenced frames (seq >= 1, +1 per frame per session) are
//     processed only when newer than the last processed one, so replay overlap
//     after a resume is harmless.
//   - frame.ack is the highest input seq the server accepted; inputs up to it
//     are forgotten, later ones are sent again after a resume (the server
//     drops duplicates by seq).
//   - After a Resume the server answers Welcome{resumed, replayed} in an
//     unsequenced frame, then the frames after Resume.last_seq (or a Snapshot).
//   - Close codes: isRetryable() decides between resume and giving up;
//     4200's reason may carry "retry-after-ms=<n>"; a refused upgrade (429/503)
//     may carry x-retry-after-ms / retry-after headers (read in Node only:
//     browsers do not expose them).

import type { ByteBuffer } from 'flatbuffers';
import { ClientMessageBuilder, dequantizePosition } from '../protocol/build.js';
import { CloseCode, isRetryable } from '../protocol/close-codes.js';
import { PROTOCOL_VERSION } from '../protocol/version.js';
import { binaryMessageBytes, rebindByteBuffer, reusableByteBuffer } from '../protocol/read.js';
import { serverVerifyLimits, verifyServerFrame, type VerifyLimits } from '../protocol/verify.js';
import { describeVerifyError } from '../protocol/codes.js';
import { ServerFrame } from '../protocol/generated/mmo/server-frame.js';
import { ServerMessage } from '../protocol/generated/mmo/server-message.js';
import { ServerBody } from '../protocol/generated/mmo/server-body.js';
import { Welcome } from '../protocol/generated/mmo/welcome.js';
import { Delta } from '../protocol/generated/mmo/delta.js';
import { Snapshot } from '../protocol/generated/mmo/snapshot.js';
import { EntityEnter } from '../protocol/generated/mmo/entity-enter.js';
import { EntityState } from '../protocol/generated/mmo/entity-state.js';
import { DamageEvent as DamageStruct } from '../protocol/generated/mmo/damage-event.js';
import { DeathEvent as DeathStruct } from '../protocol/generated/mmo/death-event.js';
import { SelfState } from '../protocol/generated/mmo/self-state.js';
import { ChatMessage } from '../protocol/generated/mmo/chat-message.js';
import { Pong } from '../protocol/generated/mmo/pong.js';
import { Error as ErrorMsg } from '../protocol/generated/mmo/error.js';
import { Kicked } from '../protocol/generated/mmo/kicked.js';
import { ZoneChanged } from '../protocol/generated/mmo/zone-changed.js';
import { Respawn } from '../protocol/generated/mmo/respawn.js';
import { LevelUp } from '../protocol/generated/mmo/level-up.js';
import { ItemGained } from '../protocol/generated/mmo/item-gained.js';
import { MoveRejected } from '../protocol/generated/mmo/move-rejected.js';
import { Custom } from '../protocol/generated/mmo/custom.js';
import { Emitter } from './emitter.js';
import { fullJitterDelay, retryHintFromHeaders, retryHintFromReason } from './backoff.js';
import { AuthError, authBaseFromWsUrl, login, readToken } from './auth.js';
import { readSavedSession, SAVED_SESSION_VERSION, toBase64, type SavedSession } from './saved.js';
import type { ClientEvents, ClientStats, ConnectOptions, DamageEvent, DeathEvent, EntityView, SelfView, WebSocketConstructor, WebSocketLike } from './types.js';

const OPEN = 1;

type State = 'connecting' | 'handshake' | 'ready' | 'waiting' | 'closed';

interface PendingInput {
  seq: number;
  bytes: Uint8Array;
}

/** A sent Move not yet seen in the server's position (prediction, see reconcile()). */
interface PredictedMove {
  seq: number;
  x: number;
  y: number;
  /** Authoritative positions seen since the move was acknowledged without showing it. */
  late: number;
}

/** Close reason prefix of CloseCode.movedTo: `resume-at=<ws url>`. */
const RESUME_AT = 'resume-at=';
/** Redirects followed in a row before the client gives up (the close code and reason are reported). */
const MAX_REDIRECTS = 3;

/** A server position within this of a move's (the wire quantizes to 1/16 unit) shows that move. */
const SAME_POS = 1 / 32 + 1e-6;

interface PendingPing {
  sentAt: number;
  resolve: (rtt: number) => void;
  reject: (e: Error) => void;
}

function sdkError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

const isNode = typeof process !== 'undefined' && typeof process.versions === 'object' && typeof process.versions.node === 'string';

async function defaultWebSocket(): Promise<WebSocketConstructor> {
  if (isNode) {
    const ws = await import('ws');
    return ws.WebSocket as unknown as WebSocketConstructor;
  }
  const g = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (!g) throw sdkError('MMO_ERR_NO_WEBSOCKET', 'no WebSocket implementation: pass options.WebSocket');
  return g;
}

/** The error listener left on a detached socket (see detach()). */
function ignoreError(): void {}

/**
 * A connection to the server that survives network failures: it reconnects
 * with full-jitter backoff and resumes its session, re-sending unacknowledged
 * inputs. Create with connect(). Single-threaded; all events are emitted from
 * the socket's callbacks.
 */
export class MmoClient extends Emitter<ClientEvents> {
  /** Visible entities by id, maintained from snapshots and deltas. */
  readonly entities = new Map<number, EntityView>();
  /**
   * The player's own state, once the server sent it. x and y are predicted: they
   * follow the player's own moves at once and are corrected by the server (see
   * reconcile()); serverPosition holds the server's last word.
   */
  self: SelfView | null = null;
  readonly stats: ClientStats = { framesReceived: 0, duplicateFrames: 0, bytesReceived: 0, inputsSent: 0, inputsDropped: 0, reconnects: 0, resumes: 0, redirects: 0, malformedFrames: 0 };

  private state: State = 'connecting';
  private ws: WebSocketLike | null = null;
  private Impl: WebSocketConstructor | null = null;
  private readonly builder = new ClientMessageBuilder();
  private readonly bb: ByteBuffer = reusableByteBuffer();
  private readonly limits: VerifyLimits;

  private session = 0;
  private resumeToken: Uint8Array | null = null;
  private seqIn = 0; // last processed sequenced frame
  private ackedOut = 0; // last seq reported to the server in an Ack
  private ackedAt = 0;
  private ackIn = 0; // highest input seq the server acknowledged
  private nextInput = 1;
  private pending: PendingInput[] = [];
  private readonly pings = new Map<number, PendingPing>();
  /** Moves sent and not yet confirmed by the server's position, oldest first. */
  private moves: PredictedMove[] = [];
  /** The player's position as the server last stated it. */
  private readonly serverPos = { x: 0, y: 0 };

  private attempt = 0;
  /** Where the next connection goes: `url`, or the node a redirect (close 4301) named. */
  private target: string;
  /** Redirects since the last Welcome (at most MAX_REDIRECTS: two nodes sending a client to each other is a loop). */
  private redirectsInRow = 0;
  private hintMs = 0;
  /** performance.now() of the last bytes from the server on the current socket. */
  private heardAt = 0;
  private probedAt = 0;
  private checkedAt = performance.now();
  private liveness: ReturnType<typeof setInterval> | null = null;
  /** Period of the liveness check, ms (a quarter of silenceTimeoutMs, at least 50). */
  private livenessEveryMs = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** Set when the current attempt's upgrade was refused with an HTTP status (Node). */
  private refused: string | null = null;
  private info = { entityId: 0, zone: 0, tickRate: 0, name: '' };
  /** The token the next Hello presents (options.token, or one fetched with options.credentials). */
  private loginToken: string | null;
  /** The current attempt sent a Resume (a 4101 then means the server forgot the session). */
  private resuming = false;
  /** Set from a refused resume until the new login's Welcome (options.relogin). */
  private relogging: { sessionId: number; entityId: number; name: string; droppedInputs: number } | null = null;

  // Accessor objects and event payloads reused across frames.
  private readonly frame = new ServerFrame();
  private readonly msg = new ServerMessage();
  private readonly delta = new Delta();
  private readonly enter = new EntityEnter();
  private readonly state12 = new EntityState();
  private readonly dmgStruct = new DamageStruct();
  private readonly deathStruct = new DeathStruct();
  private readonly dmgEvent: DamageEvent = { attacker: 0, target: 0, amount: 0, hpLeft: 0 };
  private readonly deathEvent: DeathEvent = { entity: 0, killer: 0 };

  private readonly opts: Required<Omit<ConnectOptions, 'token' | 'guestName' | 'credentials' | 'authUrl' | 'resume' | 'localAddress' | 'WebSocket' | 'verify'>> & ConnectOptions;

  constructor(
    readonly url: string,
    options: ConnectOptions = {},
  ) {
    super();
    this.target = url;
    this.opts = {
      clientName: `mmo-sdk ${isNode ? 'node' : 'browser'}`,
      protocolVersion: PROTOCOL_VERSION,
      reconnect: true,
      backoffBaseMs: 250,
      backoffCapMs: 10_000,
      maxAttempts: 10,
      handshakeTimeoutMs: 10_000,
      maxPendingInputs: 256,
      ackIntervalMs: 1000,
      silenceTimeoutMs: 10_000,
      random: Math.random,
      relogin: false,
      ...options,
    };
    this.loginToken = options.token ?? null;
    this.limits = serverVerifyLimits(options.verify);
    if (options.resume !== undefined) this.restore(options.resume);
    const silence = this.opts.silenceTimeoutMs;
    if (!(silence >= 0)) throw sdkError('MMO_ERR_OPTIONS', `silenceTimeoutMs must be >= 0, got ${silence}`);
    if (silence > 0) {
      this.livenessEveryMs = Math.max(50, Math.floor(silence / 4));
      this.liveness = setInterval(() => this.checkLiveness(), this.livenessEveryMs);
      // The socket keeps a Node process alive, not this timer.
      (this.liveness as { unref?: () => void }).unref?.();
    }
    if (options.WebSocket) {
      this.Impl = options.WebSocket;
      this.begin();
    } else {
      defaultWebSocket().then(
        (impl) => {
          this.Impl = impl;
          if (this.state === 'connecting') this.begin();
        },
        (e: Error) => this.finish(CloseCode.normal, e.message),
      );
    }
  }

  // ------------------------------------------------------------ public state

  /** True between Welcome and the loss of the socket. */
  get connected(): boolean {
    return this.state === 'ready';
  }

  /** True once the client gave up or was closed; it will not reconnect. */
  get closed(): boolean {
    return this.state === 'closed';
  }

  /** The server URL the client is (or will next be) connected to: `url`, or where a cluster redirect sent it. */
  get currentUrl(): string {
    return this.target;
  }

  get sessionId(): number {
    return this.session;
  }

  /** The player's entity id in its zone (Welcome.entity_id): the id its EntityViews, damage and deaths carry. */
  get entityId(): number {
    return this.info.entityId;
  }

  /** @deprecated Use entityId (the entity, not the account's character row of /auth). */
  get playerId(): number {
    return this.info.entityId;
  }

  get zone(): number {
    return this.info.zone;
  }

  get tickRate(): number {
    return this.info.tickRate;
  }

  /** seq of the last sequenced frame processed (what Resume.last_seq carries). */
  get lastSeq(): number {
    return this.seqIn;
  }

  /** Highest input seq the server acknowledged. */
  get ackedInput(): number {
    return this.ackIn;
  }

  /**
   * The player's own position as the server last stated it (client.self holds
   * the prediction). The server states it in a Snapshot, a SelfState and a
   * MoveRejected, not in every Delta (a player's own moves are not echoed back
   * to it), so in steady play this stays where the last of those left it while
   * client.self follows the accepted moves; a refused move corrects both.
   */
  get serverPosition(): { readonly x: number; readonly y: number } {
    return this.serverPos;
  }

  /** Inputs sent (or queued) but not yet acknowledged. */
  get pendingInputs(): number {
    return this.pending.length;
  }

  // ------------------------------------------------------------ commands

  /** Moves the player's predicted position to (x, y). Returns the input's seq. */
  move(x: number, y: number): number {
    const seq = this.nextInput++;
    if (this.moves.length >= this.opts.maxPendingInputs) this.moves.shift();
    this.moves.push({ seq, x: Math.fround(x), y: Math.fround(y), late: 0 });
    if (this.self) {
      this.self.x = Math.fround(x);
      this.self.y = Math.fround(y);
    }
    return this.input(seq, this.builder.move(seq, x, y));
  }

  attack(target: number): number {
    const seq = this.nextInput++;
    return this.input(seq, this.builder.attack(seq, target));
  }

  /** `action`: InteractAction (0 use, 1 loot, 2 talk). */
  interact(target: number, action: number): number {
    const seq = this.nextInput++;
    return this.input(seq, this.builder.interact(seq, target, action));
  }

  /** `channel`: ChatChannel; `to` is the recipient's name for Whisper. */
  chat(channel: number, text: string, to?: string): number {
    const seq = this.nextInput++;
    return this.input(seq, this.builder.chat(seq, channel, text, to ?? null));
  }

  /**
   * A game's own input (the server's content module reads it in onInput):
   * `kind` 0..65535 and an opaque payload (at most protocol.customDataBytes).
   * An input like move(): sequenced, resent after a resume until acknowledged.
   */
  custom(kind: number, data?: Uint8Array): number {
    const seq = this.nextInput++;
    return this.input(seq, this.builder.custom(seq, kind, data ?? null));
  }

  /** Resolves with the round-trip time in ms; rejects when not connected or when the connection is lost first. */
  ping(): Promise<number> {
    if (this.state !== 'ready' || !this.ws) return Promise.reject(sdkError('MMO_ERR_NOT_CONNECTED', 'not connected'));
    let t = performance.now();
    while (this.pings.has(t)) t += 1e-6; // distinct keys for pings in the same microsecond
    const bytes = this.builder.ping(t);
    return new Promise((resolve, reject) => {
      this.pings.set(t, { sentAt: t, resolve, reject });
      this.send(bytes.slice());
    });
  }

  /**
   * The session as plain JSON (JSON.stringify it), for a client that restarts
   * (a tab reload): connect(url, { resume }) continues it in a new client
   * object. It holds the secret resume token. Null before the first Welcome.
   * Allocates: call it when saving (beforeunload, pagehide), not per frame.
   */
  savedSession(): SavedSession | null {
    if (this.session === 0 || this.resumeToken === null) return null;
    const copy = <T extends object>(o: T): T => ({ ...o });
    return {
      v: SAVED_SESSION_VERSION,
      sessionId: this.session,
      resumeToken: toBase64(this.resumeToken),
      lastSeq: this.seqIn,
      inputSeq: this.nextInput - 1,
      ackedInput: this.ackIn,
      pending: this.pending.map((p) => ({ seq: p.seq, bytes: toBase64(p.bytes) })),
      moves: this.moves.map((m) => ({ seq: m.seq, x: m.x, y: m.y })),
      entityId: this.info.entityId,
      name: this.info.name,
      zone: this.info.zone,
      tickRate: this.info.tickRate,
      self: this.self ? { ...this.self, inventory: this.self.inventory.map(copy) } : null,
      serverPosition: { x: this.serverPos.x, y: this.serverPos.y },
      entities: [...this.entities.values()].map(copy),
      savedAt: Date.now(),
    };
  }

  /**
   * Drops the link without logging out and stops this client (no reconnect):
   * the server keeps the character in the world as a link-dead session for
   * sessions.zombieTtlMs, to be resumed from the returned savedSession() by
   * another client object. Emits 'close' with CloseCode.clientDropped.
   */
  drop(): SavedSession | null {
    const saved = this.savedSession();
    if (this.state !== 'closed') {
      const ws = this.ws;
      this.detach();
      if (ws) {
        try {
          ws.close(CloseCode.clientDropped, 'dropped; will resume');
        } catch {
          ws.close();
        }
      }
      this.finish(CloseCode.clientDropped, 'dropped; will resume');
    }
    return saved;
  }

  /** Closes for good (no reconnect). Emits 'close' with `code`. */
  close(code: number = CloseCode.normal, reason = 'client closed'): void {
    if (this.state === 'closed') return;
    const ws = this.ws;
    this.detach();
    if (ws) {
      try {
        ws.close(code, reason);
      } catch {
        ws.close();
      }
    }
    this.finish(code, reason);
  }

  /** Takes over a saved session (options.resume): the first attempt sends a Resume. */
  private restore(resume: SavedSession): void {
    const { saved, token, pending } = readSavedSession(resume);
    this.session = saved.sessionId;
    this.resumeToken = token;
    this.seqIn = saved.lastSeq;
    this.ackedOut = saved.lastSeq;
    this.ackIn = saved.ackedInput;
    this.nextInput = saved.inputSeq + 1;
    this.pending = pending.slice(-this.opts.maxPendingInputs);
    this.moves = saved.moves.map((m) => ({ seq: m.seq, x: m.x, y: m.y, late: 0 }));
    this.info = { entityId: saved.entityId, zone: saved.zone, tickRate: saved.tickRate, name: saved.name };
    this.self = saved.self ? { ...saved.self, inventory: saved.self.inventory.map((e) => ({ ...e })) } : null;
    this.serverPos.x = saved.serverPosition?.x ?? 0;
    this.serverPos.y = saved.serverPosition?.y ?? 0;
    for (const e of saved.entities) this.entities.set(e.id, { ...e });
  }

  // ------------------------------------------------------------ connection

  /** One connection attempt: a login token first when a login needs one and only credentials can give it. */
  private begin(): void {
    if (this.session !== 0 || !this.opts.credentials || this.tokenUsable()) {
      this.open();
      return;
    }
    this.state = 'connecting';
    login(this.opts.authUrl ?? authBaseFromWsUrl(this.url), this.opts.credentials).then(
      (grant) => {
        if (this.state !== 'connecting') return; // closed meanwhile
        this.loginToken = grant.token;
        this.open();
      },
      (e: unknown) => {
        if (this.state !== 'connecting') return;
        const err = e instanceof AuthError ? e : new AuthError(0, 'network', String(e));
        // Wrong credentials end the client like a refused token; a busy or unreachable server is retried.
        this.lost(err.retryable ? 1006 : CloseCode.authFailed, `login: ${err.message}`);
      },
    );
  }

  /** The login token exists and does not expire within 5 s (unreadable tokens are left to the server). */
  private tokenUsable(): boolean {
    if (this.loginToken === null) return false;
    const p = readToken(this.loginToken);
    return p === null || p.expiresAt - 5000 > Date.now();
  }

  private open(): void {
    const Impl = this.Impl!;
    this.state = 'connecting';
    let ws: WebSocketLike;
    try {
      ws = isNode
        ? new Impl(this.target, undefined, {
            perMessageDeflate: false,
            maxPayload: this.limits.maxBytes,
            handshakeTimeout: this.opts.handshakeTimeoutMs,
            ...(this.opts.localAddress ? { localAddress: this.opts.localAddress } : {}),
          })
        : new Impl(this.target);
    } catch (e) {
      this.lost(1006, (e as Error).message);
      return;
    }
    this.ws = ws;
    this.refused = null;
    // ws (Node) hands over its own Buffer with 'nodebuffer'; 'arraybuffer' costs
    // it a copy of every frame. Implementations without it keep 'arraybuffer'.
    ws.binaryType = 'nodebuffer';
    if (ws.binaryType !== 'nodebuffer') ws.binaryType = 'arraybuffer';
    // ws (Node) only: read a refused upgrade's retry hint, then fail the attempt.
    const nodeWs = ws as unknown as { on?: (ev: string, fn: (...a: unknown[]) => void) => void; terminate?: () => void };
    if (typeof nodeWs.on === 'function') {
      nodeWs.on('unexpected-response', (_req: unknown, res: unknown) => {
        const r = res as { statusCode?: number; headers?: Record<string, string | string[] | undefined> };
        this.hintMs = Math.max(this.hintMs, retryHintFromHeaders((n) => {
          const v = r.headers?.[n];
          return Array.isArray(v) ? v[0] : v;
        }));
        this.refused = `upgrade refused: HTTP ${r.statusCode ?? '?'}`;
        nodeWs.terminate?.();
      });
    }
    this.armTimer(this.opts.handshakeTimeoutMs, () => {
      if (this.ws !== ws) return;
      this.detach();
      try {
        ws.close();
      } catch {
        // a socket that never opened may refuse close()
      }
      this.lost(1006, 'handshake timeout');
    });
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.state = 'handshake';
      const o = this.opts;
      this.resuming = this.session !== 0 && this.resumeToken !== null;
      const hello = this.resuming
        ? this.builder.resume(o.protocolVersion, this.session, this.resumeToken!, this.seqIn)
        : this.builder.hello(o.protocolVersion, this.loginToken, this.loginToken === null ? (o.guestName ?? null) : null, o.clientName);
      this.send(hello.slice());
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this.onData(ev.data);
    };
    ws.onerror = () => {
      // 'close' follows; its code decides.
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.detach();
      this.lost(ev.code, this.refused ?? ev.reason);
    };
  }

  /** Forgets the current socket (its late callbacks are ignored). */
  private detach(): void {
    const ws = this.ws;
    this.ws = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (ws) {
      ws.onopen = ws.onmessage = null;
      ws.onclose = null;
      // Not null: Node's ws reports a handshake aborted by close() as an 'error'
      // event a tick later, and an EventEmitter with no listener throws it.
      ws.onerror = ignoreError;
    }
    for (const p of this.pings.values()) p.reject(sdkError('MMO_ERR_CONNECTION_LOST', 'connection lost before pong'));
    this.pings.clear();
  }

  /** The socket is gone: resume later, or give up. */
  private lost(code: number, reason: string): void {
    if (this.state === 'closed') return;
    if (code === CloseCode.movedTo && this.resuming && this.opts.reconnect) {
      if (!this.redirect(reason)) this.finish(code, reason);
      return;
    }
    if (code === CloseCode.resumeRefused && this.resuming && this.opts.relogin && this.opts.reconnect) {
      this.relogin(code, reason);
      return;
    }
    if (!isRetryable(code) || !this.opts.reconnect) {
      if (this.relogging) this.emit('reloginFailed', { reason: `the new login was refused: ${reason}`, code });
      this.finish(code, reason);
      return;
    }
    this.attempt++;
    if (this.attempt > this.opts.maxAttempts) {
      this.finish(code, reason);
      return;
    }
    const hint = Math.max(this.hintMs, code === CloseCode.tryAgainLater ? retryHintFromReason(reason) : 0);
    this.hintMs = 0;
    const delayMs = hint + fullJitterDelay(this.attempt - 1, this.opts.backoffBaseMs, this.opts.backoffCapMs, this.opts.random);
    this.state = 'waiting';
    this.stats.reconnects++;
    this.emit('reconnecting', { attempt: this.attempt, delayMs, code, reason, hintMs: hint });
    this.armTimer(delayMs, () => {
      this.timer = null;
      if (this.state === 'waiting') this.begin();
    });
  }

  /**
   * Cluster: the node does not hold the session and the reason names the one
   * that does (`resume-at=<ws url>`). The same Resume (token, last seq) goes
   * there at once, without backoff. False when the reason is unreadable or
   * MAX_REDIRECTS were followed since the last Welcome.
   */
  private redirect(reason: string): boolean {
    const url = reason.startsWith(RESUME_AT) ? reason.slice(RESUME_AT.length) : '';
    if (!/^wss?:\/\/\S+$/.test(url) || this.redirectsInRow >= MAX_REDIRECTS) return false;
    this.redirectsInRow++;
    this.stats.redirects++;
    const from = this.target;
    this.target = url;
    this.emit('redirected', { from, url });
    this.open();
    return true;
  }

  /**
   * The server refused to resume (it forgot the session: a restart, an
   * expired zombie). Log in again as the same account, never as someone
   * else: a guest's character lived only in the lost session, so a guest
   * stops here.
   */
  private relogin(code: number, reason: string): void {
    const why = this.reloginProblem();
    if (why !== null) {
      this.emit('reloginFailed', { reason: why, code });
      this.finish(code, reason);
      return;
    }
    const dropped = this.pending.length;
    this.stats.inputsDropped += dropped;
    this.relogging = { sessionId: this.session, entityId: this.info.entityId, name: this.info.name, droppedInputs: dropped };
    this.pending = [];
    this.moves.length = 0;
    this.session = 0;
    this.resumeToken = null;
    this.resuming = false;
    this.seqIn = 0;
    this.ackedOut = 0;
    // Input seqs keep counting up: a new session accepts any seq above 0.
    this.attempt = 0;
    this.lost(1006, `session unknown to the server (${reason}); logging in again`);
  }

  /** Why a relogin cannot be the same account, or null. */
  private reloginProblem(): string | null {
    const claims = this.loginToken !== null ? readToken(this.loginToken) : null;
    if (this.opts.credentials) return null;
    if (this.loginToken === null && this.opts.guestName === undefined) return 'no token or credentials to log in again with';
    if (this.loginToken === null) return 'a guest (guestName) cannot log in again as the same character: its character lived only in the lost session';
    if (claims?.guest) return 'a guest token cannot log in again as the same character: its character lived only in the lost session';
    if (claims !== null && claims.expiresAt <= Date.now()) return 'the login token has expired and no credentials were given';
    return null;
  }

  private finish(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.detach();
    if (this.liveness) clearInterval(this.liveness);
    this.liveness = null;
    this.emit('close', { code, reason });
  }

  private armTimer(ms: number, fn: () => void): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(fn, ms);
  }

  private send(bytes: Uint8Array): void {
    const ws = this.ws;
    if (ws && ws.readyState === OPEN) ws.send(bytes);
  }

  private input(seq: number, view: Uint8Array): number {
    // A copy: the builder's view is reused, and ws may still hold the bytes after send() returns.
    const bytes = view.slice();
    if (this.pending.length >= this.opts.maxPendingInputs) {
      this.pending.shift();
      this.stats.inputsDropped++;
    }
    this.pending.push({ seq, bytes });
    if (this.state === 'ready') {
      this.send(bytes);
      this.stats.inputsSent++;
    }
    return seq;
  }

  private acknowledge(ack: number): void {
    if (ack <= this.ackIn) return;
    this.ackIn = ack;
    let n = 0;
    while (n < this.pending.length && this.pending[n]!.seq <= ack) n++;
    if (n > 0) this.pending.splice(0, n);
  }

  // ------------------------------------------------------------ prediction

  /**
   * The server stated the player's position (sx, sy) (the frame's ack was
   * read first). Moves are absolute positions, so reapplying the moves the
   * server has not taken into account yet means: the prediction is the last
   * of them, or the server's position when there is none.
   *   - The latest acknowledged move the position shows is confirmed, with
   *     every move before it.
   *   - An acknowledged move the position does not show gets one more
   *     authoritative position (the gateway acknowledges an input when it
   *     accepts it, and the zone's next tick may not have applied it yet);
   *     after that the server's position wins (the server moved the player).
   *   - Unacknowledged moves are reapplied over the server's position.
   */
  private reconcile(sx: number, sy: number): void {
    this.serverPos.x = sx;
    this.serverPos.y = sy;
    const moves = this.moves;
    if (moves.length > 0) {
      let confirmed = -1;
      for (let i = moves.length - 1; i >= 0; i--) {
        const m = moves[i]!;
        if (m.seq <= this.ackIn && Math.abs(m.x - sx) <= SAME_POS && Math.abs(m.y - sy) <= SAME_POS) {
          confirmed = i;
          break;
        }
      }
      if (confirmed >= 0) moves.splice(0, confirmed + 1);
      let stale = 0;
      for (let i = 0; i < moves.length; i++) {
        const m = moves[i]!;
        if (m.seq > this.ackIn) break;
        if (++m.late > 1) stale = i + 1;
      }
      if (stale > 0) moves.splice(0, stale);
    }
    this.predict();
  }

  /** The server refused move refSeq and put the player at (x, y). */
  private rejected(refSeq: number, x: number, y: number): void {
    const moves = this.moves;
    let n = 0;
    while (n < moves.length && moves[n]!.seq <= refSeq) n++;
    if (n > 0) moves.splice(0, n);
    this.serverPos.x = x;
    this.serverPos.y = y;
    this.predict();
  }

  /** Respawn, zone change: earlier moves no longer apply. */
  private teleported(x: number, y: number): void {
    this.moves.length = 0;
    this.serverPos.x = x;
    this.serverPos.y = y;
    this.predict();
  }

  private predict(): void {
    const self = this.self;
    if (!self) return;
    const last = this.moves.length > 0 ? this.moves[this.moves.length - 1]! : null;
    self.x = last ? last.x : this.serverPos.x;
    self.y = last ? last.y : this.serverPos.y;
  }

  // ------------------------------------------------------------ receiving

  private onData(data: unknown): void {
    const bytes = binaryMessageBytes(data);
    if (bytes === null) {
      this.malformed('text frame');
      return;
    }
    this.stats.framesReceived++;
    this.stats.bytesReceived += bytes.length;
    this.heardAt = performance.now();
    const code = verifyServerFrame(bytes, 0, bytes.length, this.limits);
    if (code !== 0) {
      this.malformed(`malformed frame: ${describeVerifyError(code)}`);
      return;
    }
    const f = ServerFrame.getRootAsServerFrame(rebindByteBuffer(this.bb, bytes, 0), this.frame);
    const seq = f.seq();
    this.acknowledge(f.ack());
    if (seq !== 0 && seq <= this.seqIn) {
      this.stats.duplicateFrames++;
      return;
    }
    const n = f.messagesLength();
    for (let i = 0; i < n && this.ws !== null; i++) this.onMessage(f.messages(i, this.msg)!);
    if (seq !== 0 && this.ws !== null) {
      this.seqIn = seq;
      this.maybeAck();
    }
  }

  /** Reports processed frames at most once per ackIntervalMs (an Ack is 24 bytes). */
  private maybeAck(): void {
    const every = this.opts.ackIntervalMs;
    if (every <= 0 || this.seqIn <= this.ackedOut || this.state !== 'ready') return;
    const now = performance.now();
    if (now - this.ackedAt < every) return;
    this.ackedAt = now;
    this.ackedOut = this.seqIn;
    this.send(this.builder.ack(this.seqIn).slice());
  }

  /**
   * Dead-link detection. TCP can take minutes to notice a peer that vanished
   * without a FIN or RST; a game cannot. Half the silence budget in, a Ping
   * asks a quiet server to speak; at the full budget the socket is dropped
   * (terminated, not closed: a closing handshake would wait on the dead link)
   * and the session resumes on a new one.
   */
  private checkLiveness(): void {
    const now = performance.now();
    const late = now - this.checkedAt > 2 * this.livenessEveryMs;
    this.checkedAt = now;
    if (this.state !== 'ready' || !this.ws) return;
    // This process itself stalled (a long GC, a blocked loop): timers run before
    // the socket's queued data is read, so the silence may be ours. Start over.
    if (late) this.heardAt = now;
    const limit = this.opts.silenceTimeoutMs;
    const quiet = now - this.heardAt;
    if (quiet >= limit) {
      const ws = this.ws;
      this.detach();
      const nodeWs = ws as unknown as { terminate?: () => void };
      try {
        if (typeof nodeWs.terminate === 'function') nodeWs.terminate();
        else ws.close();
      } catch {
        // already closing
      }
      this.lost(1006, `no data from the server for ${Math.round(quiet)} ms`);
      return;
    }
    if (quiet >= limit / 2 && now - this.probedAt >= limit / 2) {
      this.probedAt = now;
      this.send(this.builder.ping(now).slice());
    }
  }

  /** The server sent something unreadable: drop this connection and resume on a new one. */
  private malformed(reason: string): void {
    this.stats.malformedFrames++;
    const ws = this.ws;
    this.detach();
    try {
      ws?.close(CloseCode.malformed, reason);
    } catch {
      // ignore
    }
    // The server misbehaved, not us: retry (bounded by maxAttempts).
    this.lost(1006, reason);
  }

  private onMessage(m: ServerMessage): void {
    switch (m.bodyType()) {
      case ServerBody.Welcome:
        return this.onWelcome(m.body(new Welcome()) as Welcome);
      case ServerBody.Delta:
        return this.onDelta(m.body(this.delta) as Delta);
      case ServerBody.Snapshot:
        return this.onSnapshot(m.body(new Snapshot()) as Snapshot);
      case ServerBody.ChatMessage: {
        if (!this.listens('chat')) return;
        const c = m.body(new ChatMessage()) as ChatMessage;
        return this.emit('chat', { channel: c.channel(), fromId: c.fromId(), fromName: c.fromName(), text: c.text() });
      }
      case ServerBody.Pong: {
        const p = m.body(new Pong()) as Pong;
        const t = p.clientTime();
        const pending = this.pings.get(t);
        if (pending) {
          this.pings.delete(t);
          pending.resolve(performance.now() - pending.sentAt);
        }
        return;
      }
      case ServerBody.Error: {
        const e = m.body(new ErrorMsg()) as ErrorMsg;
        return this.emit('error', { code: e.code(), reason: e.reason(), refSeq: e.refSeq() });
      }
      case ServerBody.Kicked: {
        const k = m.body(new Kicked()) as Kicked;
        return this.emit('kicked', { code: k.code(), reason: k.reason() });
      }
      case ServerBody.ZoneChanged: {
        const z = m.body(new ZoneChanged()) as ZoneChanged;
        this.info.zone = z.zone();
        this.teleported(z.x(), z.y());
        return this.emit('zone', { zone: z.zone(), name: z.name(), x: z.x(), y: z.y() });
      }
      case ServerBody.Respawn: {
        const r = m.body(new Respawn()) as Respawn;
        this.teleported(r.x(), r.y());
        if (this.self) this.self.hp = r.hp();
        return this.emit('respawn', { x: r.x(), y: r.y(), hp: r.hp() });
      }
      case ServerBody.SelfState:
        this.self = readSelf(m.body(new SelfState()) as SelfState);
        this.reconcile(this.self.x, this.self.y);
        return this.emit('self', this.self);
      case ServerBody.LevelUp: {
        const l = m.body(new LevelUp()) as LevelUp;
        if (this.self) {
          this.self.level = l.level();
          this.self.xp = l.xp();
        }
        return this.emit('levelUp', { level: l.level(), xp: l.xp() });
      }
      case ServerBody.ItemGained: {
        const it = m.body(new ItemGained()) as ItemGained;
        if (this.self) {
          const inv = this.self.inventory.find((e) => e.item === it.item());
          if (inv) inv.count = it.total();
          else this.self.inventory.push({ item: it.item(), count: it.total() });
        }
        return this.emit('item', { item: it.item(), count: it.count(), total: it.total() });
      }
      case ServerBody.MoveRejected: {
        const r = m.body(new MoveRejected()) as MoveRejected;
        this.rejected(r.refSeq(), r.x(), r.y());
        return this.emit('moveRejected', { refSeq: r.refSeq(), x: r.x(), y: r.y(), reason: r.reason() });
      }
      case ServerBody.Custom: {
        if (!this.listens('custom')) return;
        const c = m.body(new Custom()) as Custom;
        return this.emit('custom', { kind: c.kind(), data: c.dataArray()?.slice() ?? new Uint8Array(0) });
      }
      default:
        return; // verified: cannot happen
    }
  }

  private onWelcome(w: Welcome): void {
    const resumed = w.resumed();
    const token = w.resumeTokenArray();
    this.session = w.sessionId();
    this.resumeToken = token ? token.slice() : null;
    this.info = { entityId: w.entityId(), zone: w.zone(), tickRate: w.tickRate(), name: w.name() ?? '' };
    if (!resumed) {
      // A new session: frame numbering restarts; the old model is void.
      this.seqIn = 0;
      this.ackIn = 0;
      this.entities.clear();
    } else {
      this.stats.resumes++;
    }
    this.state = 'ready';
    this.attempt = 0;
    this.redirectsInRow = 0;
    this.resuming = false; // a later 4101 does not answer this attempt's Resume
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const relogged = this.relogging;
    this.relogging = null;
    if (relogged && this.info.name.toLowerCase() !== relogged.name.toLowerCase()) {
      // Cannot happen with one token or one set of credentials; refuse rather than play someone else.
      const why = `logged in again as ${this.info.name}, not ${relogged.name}`;
      this.emit('reloginFailed', { reason: why, code: CloseCode.resumeRefused });
      this.close(CloseCode.normal, why);
      return;
    }
    const ev = {
      protocolVersion: w.protocolVersion(),
      sessionId: this.session,
      entityId: this.info.entityId,
      playerId: this.info.entityId,
      name: this.info.name,
      zone: this.info.zone,
      tickRate: this.info.tickRate,
      serverTime: w.serverTime(),
      resumed,
      replayed: w.replayed(),
    };
    // Inputs the server has not acknowledged go (again) first; it drops duplicates by seq.
    for (const p of this.pending) {
      this.send(p.bytes);
      this.stats.inputsSent++;
    }
    this.emit('welcome', ev);
    if (resumed) this.emit('resumed', { replayed: ev.replayed });
    if (relogged) {
      this.emit('relogin', {
        previousSessionId: relogged.sessionId,
        previousEntityId: relogged.entityId,
        sessionId: this.session,
        entityId: this.info.entityId,
        name: this.info.name,
        droppedInputs: relogged.droppedInputs,
      });
    }
  }

  private onSnapshot(s: Snapshot): void {
    this.entities.clear();
    const n = s.entitiesLength();
    for (let i = 0; i < n; i++) {
      const e = s.entities(i, this.enter)!;
      const v = newView(e.id());
      applyEnter(v, e);
      this.entities.set(v.id, v);
    }
    const self = s.self();
    if (self) this.self = readSelf(self);
    const me = this.entities.get(this.info.entityId);
    if (self) this.reconcile(this.self!.x, this.self!.y);
    else if (me) this.reconcile(me.x, me.y);
    this.info.zone = s.zone();
    this.emit('snapshot', { tick: s.tick(), zone: s.zone(), selfId: s.selfId(), entities: this.entities });
  }

  private onDelta(d: Delta): void {
    const ents = this.entities;
    let n = d.entersLength();
    for (let i = 0; i < n; i++) {
      const e = d.enters(i, this.enter)!;
      let v = ents.get(e.id());
      if (!v) {
        v = newView(e.id());
        ents.set(v.id, v);
      }
      applyEnter(v, e);
      if (v.id === this.info.entityId) this.reconcile(v.x, v.y);
      this.emit('enter', v);
    }
    n = d.updatesLength();
    const st = this.state12;
    for (let i = 0; i < n; i++) {
      d.updates(i, st);
      const v = ents.get(st.id());
      if (!v) continue; // an update for an entity we never saw enter: nothing to move
      v.x = dequantizePosition(st.x());
      v.y = dequantizePosition(st.y());
      v.hp = st.hp();
      v.flags = st.flags();
      v.dir = st.dir();
      if (v.id === this.info.entityId) this.reconcile(v.x, v.y);
      this.emit('update', v);
    }
    n = d.leavesLength();
    for (let i = 0; i < n; i++) {
      const id = d.leaves(i)!;
      const v = ents.get(id);
      if (!v) continue;
      ents.delete(id);
      this.emit('leave', v);
    }
    n = d.damagesLength();
    for (let i = 0; i < n; i++) {
      const x = d.damages(i, this.dmgStruct)!;
      const ev = this.dmgEvent;
      ev.attacker = x.attacker();
      ev.target = x.target();
      ev.amount = x.amount();
      ev.hpLeft = x.hpLeft();
      const v = ents.get(ev.target);
      if (v) v.hp = ev.hpLeft;
      this.emit('damage', ev);
    }
    n = d.deathsLength();
    for (let i = 0; i < n; i++) {
      const x = d.deaths(i, this.deathStruct)!;
      const ev = this.deathEvent;
      ev.entity = x.entity();
      ev.killer = x.killer();
      const v = ents.get(ev.entity);
      if (v) {
        v.hp = 0;
        v.flags |= 1;
      }
      this.emit('death', ev);
    }
    this.emit('tick', { tick: d.tick() });
  }
}

function newView(id: number): EntityView {
  return { id, kind: 0, x: 0, y: 0, hp: 0, maxHp: 0, level: 0, name: null, flags: 0, dir: 0 };
}

function applyEnter(v: EntityView, e: EntityEnter): void {
  v.kind = e.kind();
  v.x = dequantizePosition(e.x());
  v.y = dequantizePosition(e.y());
  v.hp = e.hp();
  v.maxHp = e.maxHp();
  v.level = e.level();
  v.name = e.name();
  v.flags = e.flags();
}

function readSelf(s: SelfState): SelfView {
  const inventory = [];
  for (let i = 0; i < s.inventoryLength(); i++) {
    const it = s.inventory(i)!;
    inventory.push({ item: it.item(), count: it.count() });
  }
  return { hp: s.hp(), maxHp: s.maxHp(), level: s.level(), xp: s.xp(), x: s.x(), y: s.y(), inventory };
}

/**
 * Opens a client connection to `url` (ws:// or wss://, the server's /ws path).
 * Returns at once; listen for 'welcome' (or await client.once('welcome')).
 */
export function connect(url: string, options: ConnectOptions = {}): MmoClient {
  return new MmoClient(url, options);
}
