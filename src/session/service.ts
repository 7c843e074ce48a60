// The session layer: the gateway's SocketHandler. It speaks the protocol on
// the sockets (verify, hello/resume, inputs), keeps sessions alive across
// sockets (zombies, replay), routes inputs to zones and zone output to
// sockets, and saves players through the persistence layer.
//
// Per inbound frame (hot): verify → dedupe by input seq → rate limit → copy
// into the zone's ring. Zone output is staged per session; the flush that
// turns it into frames, kept for replay and sent, is SessionFlusher
// (flusher.ts).
//
// Handoff between zones (a portal): zone A reports the player with their
// state; the gateway points the session at zone B, sends B a join, and sends A
// a fence. Until A answers the fence, inputs are held here; inputs A receives
// meanwhile come back (bounce) and are forwarded to B, ahead of the held ones,
// so B applies every input once and in order.

import type { ByteBuffer } from 'flatbuffers';
import type { Registry } from 'prom-client';
import type { Logger } from '../log/logger.js';
import type { GatewayLike, Socket, SocketHandler, UpgradeGate } from '../net/gateway.js';
import type { HttpRequest } from '../net/uws.js';
import { CloseReason, type CloseReasonIndex, type NetStats } from '../net/stats.js';
import { CloseCode } from '../protocol/close-codes.js';
import { ErrorCode, describeVerifyError } from '../protocol/codes.js';
import { PROTOCOL_VERSION, MIN_PROTOCOL_VERSION } from '../protocol/version.js';
import { verifyClientMessage, lastVerifyFailure, type VerifyLimits } from '../protocol/verify.js';
import { rebindByteBuffer, reusableByteBuffer, stringField, fieldSlot } from '../protocol/read.js';
import { ServerMessageBuilder } from '../protocol/build.js';
import { ClientMessage } from '../protocol/generated/mmo/client-message.js';
import { ClientBody } from '../protocol/generated/mmo/client-body.js';
import { Hello } from '../protocol/generated/mmo/hello.js';
import { Resume } from '../protocol/generated/mmo/resume.js';
import { Chat } from '../protocol/generated/mmo/chat.js';
import { Ack } from '../protocol/generated/mmo/ack.js';
import { Ping } from '../protocol/generated/mmo/ping.js';
import { ChatChannel } from '../protocol/generated/mmo/chat-channel.js';
import type { BufferPool } from '../pool/index.js';
import type { Persistence } from '../persist/persistence.js';
import type { Accounts, TokenClaims } from '../persist/accounts.js';
import type { PlayerRecord } from '../persist/types.js';
import type { PlayerSnapshot } from '../persist/write-queue.js';
import { FromZone, ToZone, JoinKind, WriteThroughKind, JoinRecord, JoinedRecord, JoinFailedRecord, ReconciledRecord, HandoffRecord, WriteThroughRecord, DurableRecord, LinkDeadRecord } from '../zone/records.js';
import type { ZoneSet, ZoneEvents } from '../zone/host.js';
import { SessionRegistry, ResumeResult, RESUME_RESULT_NAMES } from './registry.js';
import { Session, SessionState, type SessionIdentity } from './session.js';
import { Admission, type AdmissionConfig } from './admission.js';
import type { SharedAdmission } from './shared-admission.js';
import { SessionFlusher, ACK_SWEEP_MS } from './flusher.js';
import { createSessionMetrics, registerSessionGauges, Rejected, InputDrop, LoginResult, ResumeOutcome, type SessionMetrics, type RejectedIndex } from './metrics.js';
import { ReplayBuffer, type ReplayLimits } from './replay.js';
import { encodeRecord, snapshotOf, NO_ZONE } from './player.js';
import { HelloDeadline } from './hello-deadline.js';
import { placeNewPlayer } from './placement.js';

export interface SessionConfig {
  zombieTtlMs: number;
  replay: ReplayLimits;
  chatPerSec: number;
  chatBurst: number;
  inputsPerSec: number;
  inputBurst: number;
  /** Refused inputs (net of accepted ones) before the socket is closed for flooding. */
  floodStrikes: number;
  /** Inputs held for a player between zones; beyond it the oldest are dropped (a handoff takes milliseconds). */
  heldInputsMax: number;
  /** Bytes buffered on a socket past which its position deltas are dropped until it drains (then a snapshot). */
  lagBytes: number;
  /** Bytes buffered past which the socket is closed as a slow consumer (its session becomes a zombie). */
  closeBytes: number;
  /** A socket that sends no valid Hello/Resume within this closes with 4202 (hello-deadline.ts); 0 or absent: never. */
  helloDeadlineMs?: number;
  /** Replay bytes a zombie keeps (sessions.zombieReplayBytes); absent: replay.maxBytes. */
  zombieReplayBytes?: number;
}

export interface SessionServiceDeps {
  cfg: SessionConfig;
  admission: AdmissionConfig;
  /** With gateway threads: the budgets they admit against (one for the process); sessions are published to it. */
  sharedAdmission?: SharedAdmission | null;
  verify: VerifyLimits;
  zones: ZoneSet;
  persistence: Persistence;
  accounts: Accounts;
  pool: BufferPool;
  registry: Registry;
  stats: NetStats;
  log: Logger;
  tickHz: number;
}

/** Per-socket state (SocketData.attachment). */
interface Conn {
  session: Session | null;
  /** 0 new, 1 authenticating (waiting for the database), 2 in a session, 3 closed. */
  phase: number;
  /** The address's key in the shared admission table (-1: none or not computed yet), so inputs do not hash the address. */
  addressKey: number;
}
const PHASE_NEW = 0;
const PHASE_AUTH = 1;
const PHASE_IN = 2;
const PHASE_CLOSED = 3;

/** Players being taken out of a zone (logout, expiry, shutdown) until the zone answers with their final state. */
interface Leaving {
  playerId: number;
  accountId: number;
  guest: boolean;
  zone: number;
  state: Uint8Array;
  stateLen: number;
}

const CHAT_TEXT = fieldSlot('Chat.text');
const CHAT_TO = fieldSlot('Chat.to');
const HELLO_TOKEN = fieldSlot('Hello.token');
const HELLO_GUEST = fieldSlot('Hello.guest_name');

export class SessionService implements SocketHandler, UpgradeGate, ZoneEvents {
  readonly registry: SessionRegistry;
  readonly admission: Admission;
  private gateway: GatewayLike | null = null;
  private readonly out: SessionFlusher;
  private readonly msg = new ServerMessageBuilder();
  private readonly bb: ByteBuffer = reusableByteBuffer();
  private readonly cm = new ClientMessage();
  private readonly hello = new Hello();
  private readonly resume = new Resume();
  private readonly chat = new Chat();
  private readonly ack = new Ack();
  private readonly ping = new Ping();
  private readonly leaving = new Map<number, Leaving>();
  /**
   * Cluster (src/cluster/node.ts): a whisper to a name not online here is asked
   * of the other nodes; true when it took the whisper (it answers through
   * whisperEcho / whisperNotFound).
   */
  remoteWhisper: ((from: Session, to: string, text: string, seq: number) => boolean) | null = null;
  /** Cluster: a resume of a session unknown here; resolves to the URL of the node holding it (closed 4301 `resume-at=<url>`), or null (refused 4101). */
  remoteResume: ((id: number, token: Uint8Array) => Promise<string | null>) | null = null;
  /** Cluster: before an account's player is loaded, its session on any other node ends and is saved; resolves to null (load it) or why not (closed 4200). Never rejects. */
  beforeLogin: ((accountId: number) => Promise<string | null>) | null = null;
  /** Cluster (cluster.newPlayers local): a new player enters the emptiest up zone of this node when one is (placement.ts). */
  newPlayersLocal = false;
  private ackTimer: ReturnType<typeof setInterval> | null = null;
  /** Live sessions per zone, kept as they join, cross and leave: new players go to the emptiest zone. */
  private readonly zoneLoad: Int32Array;
  private sweepTimer: ReturnType<typeof setInterval> | null = null;
  private shuttingDown = false;
  private lastVerifyLog = 0;
  private suppressedVerifyLogs = 0;

  // Metrics.
  private readonly m: SessionMetrics;
  private readonly helloDeadline: HelloDeadline<Socket>;

  constructor(private readonly d: SessionServiceDeps) {
    const c = d.cfg;
    this.registry = new SessionRegistry({ zombieTtlMs: c.zombieTtlMs, limits: { chatPerSec: c.chatPerSec, chatBurst: c.chatBurst, inputsPerSec: c.inputsPerSec, inputBurst: c.inputBurst } });
    this.admission = new Admission(d.admission, performance.now(), d.sharedAdmission ?? null);
    this.zoneLoad = new Int32Array(d.zones.count);
    this.m = createSessionMetrics(d.registry);
    this.out = new SessionFlusher({
      stats: d.stats,
      lagBytes: c.lagBytes,
      closeBytes: c.closeBytes,
      frameBytes: this.m.frameBytes,
      slowConsumer: (_s, ws) => this.kick(ws, CloseCode.slowConsumer, 'too far behind: reconnect to resume', CloseReason.slowConsumer),
    });
    const shared = d.sharedAdmission ?? null;
    if (shared) this.registry.onLive = (id, live) => shared.noteSession(id, live);
    registerSessionGauges(d.registry, this.registry, d.pool, () => (shared ? shared.stats : this.admission.stats));
    this.helloDeadline = new HelloDeadline<Socket>(c.helloDeadlineMs ?? 0, {
      isPending: (ws) => {
        const u = ws.getUserData();
        return u.open && (u.attachment as Conn).phase === PHASE_NEW && (u.attachment as Conn).session === null;
      },
      expire: (ws) => this.kick(ws, CloseCode.helloTimeout, `no Hello within ${c.helloDeadlineMs} ms`, CloseReason.refused),
    }, d.registry);
  }

  /** The gateway calls back into the service to close sockets; set once, before listening. */
  attach(gateway: GatewayLike): void {
    this.gateway = gateway;
    this.sweepTimer = setInterval(() => this.sweep(), 250);
    this.sweepTimer.unref();
    this.ackTimer = setInterval(() => this.out.flushAcks(), ACK_SWEEP_MS);
    this.ackTimer.unref();
  }

  // ================================================================ upgrade

  admit(ip: string, req: HttpRequest): number {
    const claim = req.getQuery('resume');
    const resume = claim !== '' && this.registry.get(Number(claim)) !== undefined;
    return this.admission.admit(ip, resume, performance.now());
  }

  // ================================================================ sockets

  open(ws: Socket): void {
    const conn: Conn = { session: null, phase: PHASE_NEW, addressKey: this.admission.addressKey(ws.getUserData().ip) };
    ws.getUserData().attachment = conn;
    this.helloDeadline.add(ws, performance.now());
  }

  message(ws: Socket, bytes: Uint8Array, offset: number, length: number, isBinary: boolean): void {
    const conn = ws.getUserData().attachment as Conn;
    if (!isBinary) return this.refuse(ws, Rejected.textFrame, CloseCode.textFrame, 'text frames are not part of the protocol', 'text frame');
    const code = verifyClientMessage(bytes, offset, length, this.d.verify);
    if (code !== 0) return this.refuse(ws, Rejected.malformed, CloseCode.malformed, `malformed message: ${describeVerifyError(code)}`, describeVerifyError(code));
    const m = ClientMessage.getRootAsClientMessage(rebindByteBuffer(this.bb, bytes, offset), this.cm);
    const type = m.bodyType();
    const s = conn.session;
    if (s === null) {
      if (conn.phase !== PHASE_NEW) return; // a second Hello while the first is being answered: ignored
      if (type === ClientBody.Hello) return this.onHello(ws, conn, m);
      if (type === ClientBody.Resume) return this.onResume(ws, conn, m);
      return this.refuse(ws, Rejected.unexpected, CloseCode.unexpectedMessage, 'say Hello or Resume first', 'input before hello');
    }
    // Anything a client sends after a resume's Welcome shows it holds the new token.
    if (s.tokenUnconfirmed && s.socket === ws) s.confirmTokens();
    switch (type) {
      case ClientBody.Move:
      case ClientBody.Attack:
      case ClientBody.Interact:
      case ClientBody.Chat:
      case ClientBody.Custom: // a game's own input: opaque here, the zone's content onInput reads it
        return this.onInput(ws, s, m, type, bytes, offset, length);
      case ClientBody.Ping: {
        const host = this.d.zones.hosts[s.zone];
        if (s.inTransit || !host || !this.d.zones.isUp(s.zone) || !host.send(ToZone.input, s.id, bytes, offset, length)) {
          // The zone cannot answer now: the gateway does, so RTT probes keep working.
          const p = m.body(this.ping) as Ping;
          this.msg.pong(p.clientTime(), Date.now());
          this.stageBuilt(s, true);
          this.scheduleFlush();
        }
        return;
      }
      case ClientBody.Ack: {
        const seq = (m.body(this.ack) as Ack).lastSeq();
        if (seq > s.clientSeq && seq <= s.outSeq) {
          s.clientSeq = seq;
          s.replay!.ackThrough(seq);
        }
        return;
      }
      default:
        return this.refuse(ws, Rejected.unexpected, CloseCode.unexpectedMessage, 'already in a session', 'hello or resume in session');
    }
  }

  drain(ws: Socket): void {
    const s = (ws.getUserData().attachment as Conn).session;
    if (s && s.lagging && s.socket === ws) this.unlag(s);
  }

  /**
   * A lagging socket that has drained below half the threshold gets its
   * deltas back, starting from a snapshot. Checked on uWS's drain event and on
   * every delta that would otherwise be dropped, so recovery never depends on
   * the event alone (uWS may flush a backlog without one).
   */
  private unlag(s: Session): boolean {
    const ws = s.socket;
    if (ws && s.state === SessionState.connected && ws.getBufferedAmount() >= this.d.cfg.lagBytes / 2) return false;
    s.lagging = false;
    this.zoneSend(s, ToZone.resync, null);
    return true;
  }

  close(ws: Socket, code: number, reason: CloseReasonIndex): void {
    const conn = ws.getUserData().attachment as Conn | null;
    if (!conn) return;
    conn.phase = PHASE_CLOSED;
    const s = conn.session;
    conn.session = null;
    if (!s || s.socket !== ws || s.state !== SessionState.connected) return;
    if (reason === CloseReason.client && code === CloseCode.normal) {
      // A deliberate logout: save and leave now rather than linger as a zombie.
      this.endSession(s);
      return;
    }
    this.registry.toZombie(s, performance.now());
    // A zombie keeps less: every dropped session holds its replay for zombieTtlMs, and dropping
    // sessions must not let anyone make the server hold replayMaxBytes for each.
    s.replay?.setByteCap(this.d.cfg.zombieReplayBytes ?? Infinity);
    s.lagging = false;
    this.zoneSend(s, ToZone.linkDead, LINK_DEAD);
  }

  // ================================================================ login

  private onHello(ws: Socket, conn: Conn, m: ClientMessage): void {
    const h = m.body(this.hello) as Hello;
    const v = h.protocolVersion();
    if (v < MIN_PROTOCOL_VERSION || v > PROTOCOL_VERSION) {
      return this.kick(ws, CloseCode.versionMismatch, `protocol version ${v} is not supported; this server speaks ${MIN_PROTOCOL_VERSION}..${PROTOCOL_VERSION}`, CloseReason.refused, Rejected.version);
    }
    const token = stringField(h, HELLO_TOKEN);
    let claims: TokenClaims;
    if (token !== null) {
      const r = this.d.accounts.verifyToken(token);
      if (!r.ok) {
        this.m.logins.inc(LoginResult.refused);
        return this.kick(ws, CloseCode.authFailed, `login refused: ${r.reason}`, CloseReason.refused);
      }
      claims = r.claims;
    } else {
      const g = this.d.accounts.guest(stringField(h, HELLO_GUEST) ?? undefined);
      if (!g.ok) {
        this.m.logins.inc(LoginResult.refused);
        return this.kick(ws, CloseCode.authFailed, `login refused: ${g.message}`, CloseReason.refused);
      }
      claims = { accountId: g.accountId, name: g.name, guest: true, expiresAt: g.expiresAt };
    }
    const identity: SessionIdentity = { accountId: claims.accountId, name: claims.name, guest: claims.guest };
    if (!this.admission.spendLogin(claims.accountId, performance.now())) return this.kick(ws, CloseCode.tryAgainLater, 'too many logins to this account; retry-after-ms=5000', CloseReason.refused);
    const live = this.registry.findByIdentity(identity);
    if (live) return this.takeOver(live, ws, conn);
    conn.phase = PHASE_AUTH;
    if (this.beforeLogin && !claims.guest) {
      const c = claims;
      void this.beforeLogin(c.accountId).then((no) => {
        if (conn.phase === PHASE_CLOSED) return;
        if (no === null) this.loadLogin(ws, conn, c, identity);
        else this.kick(ws, CloseCode.tryAgainLater, no, CloseReason.refused);
      });
      return;
    }
    this.loadLogin(ws, conn, claims, identity);
  }

  private loadLogin(ws: Socket, conn: Conn, claims: TokenClaims, identity: SessionIdentity): void {
    this.d.persistence.loadForLogin(claims, { zone: NO_ZONE, x: 0, y: 0, hp: 0, maxHp: 0, xp: 0, level: 1, inventory: [] }).then(
      (record) => this.completeLogin(ws, conn, identity, record),
      (err: unknown) => {
        this.m.logins.inc(LoginResult.failed);
        this.d.log.error({ err, name: identity.name }, 'login failed: could not load the player');
        if (conn.phase !== PHASE_CLOSED) this.kick(ws, CloseCode.tryAgainLater, 'the game database is unavailable; retry-after-ms=5000', CloseReason.refused);
      },
    );
  }

  private completeLogin(ws: Socket, conn: Conn, identity: SessionIdentity, record: PlayerRecord): void {
    if (conn.phase === PHASE_CLOSED) {
      // The client left while its player was loading: nothing was changed, just stop tracking it.
      if (!identity.guest) this.d.persistence.release(record.id, record);
      return;
    }
    conn.phase = PHASE_NEW;
    const live = this.registry.findByIdentity(identity);
    if (live) return this.takeOver(live, ws, conn);
    // A returning character goes back where it was; a new one (and every guest) to the emptiest zone that is up.
    let zone = record.zone === NO_ZONE ? -1 : this.d.zones.indexOf(record.zone);
    let atSpawn = false;
    if (zone < 0 || !this.d.zones.isUp(zone)) {
      zone = placeNewPlayer(this.d.zones, this.zoneLoad, this.newPlayersLocal);
      atSpawn = true;
    }
    if (zone < 0) {
      this.m.logins.inc(LoginResult.failed);
      return this.kick(ws, CloseCode.zoneDown, 'no zone is up; retry later', CloseReason.kicked);
    }
    const s = this.registry.create(identity, ws, zone, performance.now());
    this.zoneLoad[zone]!++;
    s.inZoneLoad = true;
    s.playerId = record.id;
    s.replay = new ReplayBuffer(this.d.pool, this.d.cfg.replay);
    s.lastStateLen = encodeRecord(record, s.lastState, atSpawn);
    if (s.lastStateLen < 0) {
      this.registry.end(s);
      this.m.logins.inc(LoginResult.failed);
      return this.kick(ws, CloseCode.authFailed, 'this character cannot be loaded', CloseReason.refused);
    }
    conn.session = s;
    conn.phase = PHASE_IN;
    s.pendingWelcome = true;
    this.m.logins.inc(LoginResult.ok);
    this.sendJoin(s, JoinKind.login, 0);
  }

  /** Cluster: a login to this account on node `by` takes over; this node's session of it ends as in a takeover (saved on leaving). Its player id, or -1. */
  takenOverElsewhere(accountId: number, by: string): number {
    const s = this.registry.findByIdentity({ accountId, name: '', guest: false });
    if (!s || s.state === SessionState.closed) return -1;
    if (s.socket) this.kick(s.socket, CloseCode.takenOver, `another login to this account (on node ${by}) took over the session`, CloseReason.takenOver);
    this.endSession(s);
    return s.playerId;
  }

  /** A second login to a live session's account: the new socket takes the session, the old one is told and closed. */
  private takeOver(s: Session, ws: Socket, conn: Conn): void {
    const prev = s.socket;
    if (prev && prev !== ws) {
      (prev.getUserData().attachment as Conn).session = null;
      this.kick(prev, CloseCode.takenOver, 'another login to this account took over the session', CloseReason.takenOver);
    }
    this.registry.bind(s, ws);
    s.rotateToken();
    s.replay?.setByteCap(Infinity);
    // A new client numbers its inputs from 1 and has seen no frame.
    s.inSeq = 0;
    s.clientSeq = s.outSeq;
    s.replay!.clear();
    s.lagging = false;
    conn.session = s;
    conn.phase = PHASE_IN;
    this.m.takeovers.inc();
    this.m.logins.inc(LoginResult.ok);
    this.zoneSend(s, ToZone.linkDead, LINK_BACK);
    this.stageWelcome(s, false, 0);
    this.zoneSend(s, ToZone.resync, null);
    this.scheduleFlush();
  }

  private onResume(ws: Socket, conn: Conn, m: ClientMessage): void {
    const r = m.body(this.resume) as Resume;
    const v = r.protocolVersion();
    if (v < MIN_PROTOCOL_VERSION || v > PROTOCOL_VERSION) {
      return this.kick(ws, CloseCode.versionMismatch, `protocol version ${v} is not supported`, CloseReason.refused, Rejected.version);
    }
    const id = r.sessionId();
    const prev = this.registry.get(id)?.socket ?? null;
    // A copy: the message may sit in ring memory that is reused after this call, and crypto wants its own bytes.
    const token = r.tokenArray()?.slice() ?? EMPTY;
    const res = this.registry.resume(id, token, ws, performance.now());
    if (res.result === ResumeResult.unknownSession && this.remoteResume) {
      // Cluster: another node may hold it; its answer closes this socket (4301 to that node, else 4101).
      this.remoteResume(id, token)
        .catch((err: unknown) => {
          // A lookup that failed is a session nobody holds: the client logs in again.
          this.d.log.warn({ err, session: id }, 'cluster resume lookup failed');
          return null;
        })
        .then((url) => {
          if (conn.session !== null) return;
          if (url) this.kick(ws, CloseCode.movedTo, `resume-at=${url}`, CloseReason.refused);
          else this.kick(ws, CloseCode.resumeRefused, 'resume refused: unknown_session', CloseReason.refused);
        })
        .catch((err: unknown) => this.d.log.error({ err, session: id }, 'answering a cluster resume lookup threw'));
      return;
    }
    if (res.result !== ResumeResult.ok || !res.session) {
      // Nothing about the session changed (a wrong token must not hurt the real player).
      return this.kick(ws, CloseCode.resumeRefused, `resume refused: ${RESUME_RESULT_NAMES[res.result]}`, CloseReason.refused);
    }
    const s = res.session;
    if (prev && prev !== ws) {
      (prev.getUserData().attachment as Conn).session = null;
      this.kick(prev, CloseCode.takenOver, 'the session resumed on another connection', CloseReason.takenOver);
    }
    conn.session = s;
    conn.phase = PHASE_IN;
    // Deltas dropped while it lagged or was a zombie: the replay below lacks them, a Snapshot follows it.
    const owesSnapshot = s.lagging;
    s.replay?.setByteCap(Infinity);
    s.lagging = false;
    this.zoneSend(s, ToZone.linkDead, LINK_BACK);
    const lastSeq = r.lastSeq();
    const replay = s.replay!;
    replay.expire(performance.now());
    // Flush what is staged first, so the replay below includes it and nothing arrives twice.
    if (s.staged.dirty) this.drained();
    if (lastSeq <= s.outSeq && replay.covers(lastSeq, s.outSeq)) {
      const n = s.outSeq - lastSeq;
      this.sendWelcomeNow(s, ws, n);
      replay.forEachAfter(lastSeq, (bytes, offset, length) => this.out.sendFrame(s, ws, bytes, offset, length, 1));
      replay.ackThrough(lastSeq);
      if (lastSeq > s.clientSeq) s.clientSeq = lastSeq;
      this.m.resumeOutcome.inc(ResumeOutcome.replayed);
      this.m.replayedFrames.inc(0, n);
      if (owesSnapshot) this.zoneSend(s, ToZone.resync, null);
    } else {
      // The gap no longer fits: a fresh snapshot replaces what was missed.
      this.sendWelcomeNow(s, ws, 0);
      replay.clear();
      s.clientSeq = s.outSeq;
      this.zoneSend(s, ToZone.resync, null);
      this.m.resumeOutcome.inc(ResumeOutcome.snapshot);
    }
  }

  // ================================================================ inputs

  private onInput(ws: Socket, s: Session, m: ClientMessage, type: number, bytes: Uint8Array, offset: number, length: number): void {
    const seq = m.seq();
    if (seq <= s.inSeq) {
      this.m.duplicates.inc();
      return;
    }
    s.inSeq = seq;
    const now = performance.now();
    const u = ws.getUserData(); // one call: on a uWS socket it crosses into native code
    if (!s.inputBucket.take(now) || !this.admission.spendInput(u.ip, s.identity.accountId, type === ClientBody.Chat, now, (u.attachment as Conn).addressKey)) {
      this.m.inputsDropped.inc(InputDrop.rate);
      if (++s.floodStrikes > this.d.cfg.floodStrikes) this.refuse(ws, Rejected.flood, CloseCode.flood, 'too many messages', 'flood');
      return;
    }
    if (s.floodStrikes > 0) s.floodStrikes--;
    this.out.owesAck(s, now);
    if (type === ClientBody.Chat) {
      if (s.muted) return this.errorTo(s, ErrorCode.muted, 'muted by an operator', seq);
      const c = m.body(this.chat) as Chat;
      if (!s.chatBucket.take(now)) return this.errorTo(s, ErrorCode.rateLimited, 'chat rate limit', seq);
      const channel = c.channel();
      if (channel === ChatChannel.Whisper) return this.whisper(s, c, seq);
      if (channel === ChatChannel.System) return this.errorTo(s, ErrorCode.channelNotAllowed, 'players cannot send on System', seq);
    }
    if (s.inTransit) {
      if (s.held.length >= this.d.cfg.heldInputsMax) {
        s.held.shift();
        this.m.inputsDropped.inc(InputDrop.inTransit);
      }
      s.held.push(bytes.slice(offset, offset + length));
      return;
    }
    const host = this.d.zones.hosts[s.zone];
    if (!host || !host.send(ToZone.input, s.id, bytes, offset, length)) this.m.inputsDropped.inc(host ? InputDrop.zoneFull : InputDrop.noZone);
  }

  private whisper(s: Session, c: Chat, seq: number): void {
    const to = stringField(c, CHAT_TO);
    const text = stringField(c, CHAT_TEXT);
    if (!text) return this.errorTo(s, ErrorCode.badText, 'empty whisper', seq);
    const target = to ? this.registry.findByName(to) : undefined;
    if (!target && to && this.remoteWhisper?.(s, to, text, seq)) return;
    if (!target) return this.errorTo(s, ErrorCode.whisperTargetNotFound, `${to ?? '(nobody)'} is not online`, seq);
    this.msg.chatMessage(ChatChannel.Whisper, s.entity, s.identity.name, text);
    const e = this.out.store(this.msg.bytes, this.msg.start, this.msg.length);
    this.out.link(target, e, false);
    if (target !== s) this.out.link(s, e, false);
    this.scheduleFlush();
  }

  /** Cluster: a whisper from a player of another node to `to`; false when nobody of that name is online here. */
  whisperHere(to: string, fromEntity: number, fromName: string, text: string): boolean {
    const target = this.registry.findByName(to);
    if (!target || target.state === SessionState.closed) return false;
    this.msg.chatMessage(ChatChannel.Whisper, fromEntity, fromName, text);
    this.stageBuilt(target, false);
    this.scheduleFlush();
    return true;
  }

  /** Cluster: the whisper `s` sent reached its target on another node; `s` gets its copy. */
  whisperEcho(s: Session, text: string): void {
    if (s.state === SessionState.closed) return;
    this.msg.chatMessage(ChatChannel.Whisper, s.entity, s.identity.name, text);
    this.stageBuilt(s, false);
    this.scheduleFlush();
  }

  /** Cluster: no node has a player called `to`. */
  whisperNotFound(s: Session, to: string, seq: number): void {
    if (s.state !== SessionState.closed) this.errorTo(s, ErrorCode.whisperTargetNotFound, `${to} is not online`, seq);
  }

  // ================================================================ zone records

  record(zone: number, type: number, session: number, data: Uint8Array, offset: number, length: number): void {
    const s = this.registry.get(session);
    switch (type) {
      case FromZone.outDelta:
        if (!s) return;
        if (s.state === SessionState.zombie) {
          // Nobody reads a zombie's positions until it resumes, and then a Snapshot supersedes
          // them all (onResume sends one for a session that dropped deltas): they are not kept
          // for replay. Kept, every dropped session held up to sessions.replayMaxBytes of pool
          // pages for zombieTtlMs, which an attacker dropping guest sessions turned into
          // 128 MiB of pool (the attack scenario's RSS criterion).
          s.lagging = true;
          this.m.coalesced.inc();
          return;
        }
        if (s.lagging && !this.unlag(s)) {
          this.m.coalesced.inc();
          return;
        }
        this.out.link(s, this.out.store(data, offset, length), false);
        return;
      case FromZone.out:
        if (s) this.out.link(s, this.out.store(data, offset, length), false);
        return;
      case FromZone.outUnsequenced:
        if (s && s.socket) this.out.link(s, this.out.store(data, offset, length), true);
        return;
      case FromZone.state:
        if (s && s.zone === zone) this.keepState(s, data, offset, length);
        return;
      case FromZone.joined:
        if (s) this.onJoined(s, zone, data, offset);
        return;
      case FromZone.joinFailed:
        if (s) {
          this.d.log.error({ session, zone, code: JoinFailedRecord.code(data, offset) }, 'zone refused a player');
          if (s.socket) this.kick(s.socket, CloseCode.zoneDown, 'the zone is full; retry later', CloseReason.kicked);
          this.endSession(s);
        }
        return;
      case FromZone.left:
        return this.onLeft(session, data, offset, length);
      case FromZone.handoff:
        if (s) this.onHandoff(s, zone, data, offset, length);
        return;
      case FromZone.bounce:
        if (s && s.zone !== zone) {
          const host = this.d.zones.hosts[s.zone];
          if (!host || !host.send(ToZone.input, s.id, data, offset, length)) this.m.inputsDropped.inc(InputDrop.zoneFull);
        }
        return;
      case FromZone.fenceAck:
        if (s) this.onFenceAck(s);
        return;
      case FromZone.writeThrough:
        if (s) this.onWriteThrough(s, data, offset, length);
        return;
      case FromZone.reconciled:
        this.d.log.info({ zone: this.d.zones.hosts[zone]?.def.id, removed: ReconciledRecord.removed(data, offset) }, 'zone reconciled after restart');
        return;
    }
  }

  private onJoined(s: Session, zone: number, data: Uint8Array, offset: number): void {
    if (s.zone !== zone) return;
    s.entity = JoinedRecord.entity(data, offset);
    if (s.pendingWelcome) {
      s.pendingWelcome = false;
      this.stageWelcome(s, false, 0);
    }
    if (s.pendingZoneChanged) {
      s.pendingZoneChanged = false;
      const def = this.d.zones.hosts[zone]!.def;
      const st = this.stateOf(s);
      this.msg.zoneChanged(def.id, def.name, st?.x ?? 0, st?.y ?? 0);
      this.stageBuilt(s, false);
    }
    if (s.state === SessionState.zombie) this.zoneSend(s, ToZone.linkDead, LINK_DEAD);
  }

  private onHandoff(s: Session, from: number, data: Uint8Array, offset: number, length: number): void {
    const target = HandoffRecord.target(data, offset);
    let to = this.d.zones.indexOf(target);
    this.keepState(s, data, offset + HandoffRecord.header, length - HandoffRecord.header);
    if (to < 0 || !this.d.zones.isUp(to)) {
      // The portal leads nowhere that is up: stay, at a spawn point of this zone.
      this.d.log.warn({ session: s.id, from: this.d.zones.hosts[from]!.def.id, target }, 'portal target zone is down; player stays');
      to = from;
    }
    this.m.handoffs.inc();
    this.zoneLoad[from]!--;
    this.zoneLoad[to]!++;
    s.zone = to;
    s.inTransit = true;
    s.fenceZone = from;
    s.pendingZoneChanged = to !== from;
    this.d.zones.hosts[from]!.send(ToZone.fence, s.id, null);
    this.sendJoin(s, JoinKind.handoff, 0);
  }

  private onFenceAck(s: Session): void {
    if (!s.inTransit) return;
    s.inTransit = false;
    const host = this.d.zones.hosts[s.zone];
    for (const b of s.held) if (!host || !host.send(ToZone.input, s.id, b)) this.m.inputsDropped.inc(InputDrop.zoneFull);
    s.held.length = 0;
  }

  private onWriteThrough(s: Session, data: Uint8Array, offset: number, length: number): void {
    const kind = WriteThroughRecord.kind(data, offset);
    const a = WriteThroughRecord.a(data, offset);
    const b = WriteThroughRecord.b(data, offset);
    const c = WriteThroughRecord.c(data, offset);
    this.keepState(s, data, offset + WriteThroughRecord.header, length - WriteThroughRecord.header);
    const state = this.stateOf(s);
    const done = (told: boolean) => {
      if (s.state === SessionState.closed) return;
      if (told) {
        if (kind === WriteThroughKind.levelUp) this.msg.levelUp(a, b);
        else this.msg.itemGained(a, b, c);
        this.stageBuilt(s, false);
      }
      this.zoneSend(s, ToZone.durable, DURABLE_ONE);
      this.scheduleFlush();
    };
    if (!state) return done(false);
    const data2: Record<string, number> = kind === WriteThroughKind.levelUp ? { level: a, xp: b } : { item: a, count: b, total: c };
    this.d.persistence.writeThrough({ playerId: s.playerId, kind: kind === WriteThroughKind.levelUp ? 'level_up' : 'item_gained', data: data2, state }).then(
      () => done(true),
      (err: unknown) => {
        // Not durable: the client is not told. The state is still saved by write-behind.
        this.d.log.error({ err, session: s.id, kind }, 'write-through failed; the client was not told');
        done(false);
      },
    );
  }

  private onLeft(session: number, data: Uint8Array, offset: number, length: number): void {
    const l = this.leaving.get(session);
    if (!l) return;
    this.leaving.delete(session);
    if (l.guest) return;
    const snap = length > 0 ? snapshotOf(data.subarray(0, offset + length), offset, l.playerId, l.accountId, this.d.zones.hosts[l.zone]!.def.id) : null;
    const fallback = l.stateLen > 0 ? snapshotOf(l.state, 0, l.playerId, l.accountId, this.d.zones.hosts[l.zone]!.def.id) : null;
    const final = snap ?? fallback;
    if (final) this.d.persistence.release(l.playerId, final);
  }

  /** Keeps the latest encoded state and marks the player for the write-behind queue (read when it writes). */
  private keepState(s: Session, data: Uint8Array, offset: number, length: number): void {
    if (length <= 0 || length > s.lastState.length) return;
    for (let i = 0; i < length; i++) s.lastState[i] = data[offset + i]!;
    s.lastStateLen = length;
    if (s.identity.guest) return;
    s.attachment ??= (): PlayerSnapshot | null => this.stateOf(s);
    this.d.persistence.markDirty(s.playerId, s.attachment as () => PlayerSnapshot | null);
  }

  /** The session's last known state as the persistence layer stores it. Cold path (saves). */
  private stateOf(s: Session): PlayerSnapshot | null {
    if (s.identity.guest || s.lastStateLen === 0) return null;
    const host = this.d.zones.hosts[s.zone];
    return snapshotOf(s.lastState.subarray(0, s.lastStateLen), 0, s.playerId, s.identity.accountId, host?.def.id ?? NO_ZONE);
  }

  // ================================================================ zone lifecycle

  restarted(zone: number): void {
    let n = 0;
    for (const s of this.registry.all()) {
      // A player on its way out of this zone waited for a fence the dead worker will never answer.
      if (s.inTransit && s.fenceZone === zone) this.onFenceAck(s);
      if (s.zone !== zone) continue;
      this.sendJoin(s, JoinKind.rejoin, s.entity);
      n++;
    }
    for (const [id, l] of this.leaving) {
      if (l.zone !== zone) continue;
      // Its leave was lost with the worker: save the last state we have.
      this.onLeft(id, EMPTY, 0, 0);
    }
    this.d.zones.hosts[zone]!.send(ToZone.reconcile, 0, null);
    this.d.log.info({ zone: this.d.zones.hosts[zone]!.def.id, players: n }, 'zone restarted; players rejoined');
  }

  /** The zone is gone for good: its players are saved and told `zone <name> <why>` (a cluster says which node is gone). */
  down(zone: number, why = 'is down after repeated crashes'): void {
    const def = this.d.zones.hosts[zone]!.def;
    for (const s of [...this.registry.all()]) {
      if (s.inTransit && s.fenceZone === zone) this.onFenceAck(s);
      if (s.zone !== zone) continue;
      if (s.socket) this.kick(s.socket, CloseCode.zoneDown, `zone ${def.name} ${why}; log in again to continue elsewhere`, CloseReason.kicked);
      this.endSession(s);
    }
    for (const [id, l] of this.leaving) if (l.zone === zone) this.onLeft(id, EMPTY, 0, 0);
  }

  // ================================================================ output

  /** Stages the message the builder just built for `s`. */
  private stageBuilt(s: Session, unsequenced: boolean): void {
    this.out.stageBuilt(s, this.msg, unsequenced);
  }

  private stageWelcome(s: Session, resumed: boolean, replayed: number): void {
    const def = this.d.zones.hosts[s.zone]?.def;
    this.msg.welcome({
      protocolVersion: PROTOCOL_VERSION,
      sessionId: s.id,
      resumeToken: s.token,
      entityId: s.entity,
      name: s.identity.name,
      zone: def?.id ?? 0,
      tickRate: this.d.tickHz,
      serverTime: Date.now(),
      resumed,
      replayed,
    });
    this.stageBuilt(s, true);
  }

  /** Welcome for a resume, sent at once (before the replayed frames). */
  private sendWelcomeNow(s: Session, ws: Socket, replayed: number): void {
    this.stageWelcome(s, true, replayed);
    this.drained();
  }

  private scheduleFlush(): void {
    this.out.schedule();
  }

  /** The zones' rings are drained: every session with staged messages gets its frame(s). */
  drained(): void {
    this.out.flush();
  }

  private errorTo(s: Session, code: number, reason: string, refSeq: number): void {
    this.msg.error(code, reason, refSeq);
    this.stageBuilt(s, false);
    this.scheduleFlush();
  }

  /** Operator kick (dashboard): ends the session (saved, out of the world) and closes its socket with 4103 kicked. False when unknown. */
  kickSession(id: number, reason: string): boolean {
    const s = this.registry.get(id);
    if (!s || s.state === SessionState.closed) return false;
    const ws = s.socket;
    this.endSession(s);
    if (ws && ws.getUserData().open) this.kick(ws, CloseCode.kicked, reason, CloseReason.kicked);
    return true;
  }

  /** Tells a socket why (Kicked), then closes it with `code`. */
  private kick(ws: Socket, code: number, reason: string, closeReason: CloseReasonIndex, metric: RejectedIndex | -1 = -1): void {
    if (!ws.getUserData().open) return;
    if (metric >= 0) this.m.verifyFailures.inc(metric);
    this.msg.kicked(code, reason);
    this.out.sendAlone(ws, this.msg);
    this.gateway!.closeSocket(ws, closeReason, code, reason.length > 120 ? reason.slice(0, 120) : reason);
  }

  /** A protocol violation: count it, log it (rate-limited, debug), close that socket only. */
  private refuse(ws: Socket, metric: RejectedIndex, code: number, reason: string, detail: string): void {
    this.m.verifyFailures.inc(metric);
    const log = this.d.log;
    if (log.isLevelEnabled('debug')) {
      const now = Date.now();
      if (now - this.lastVerifyLog >= 1000) {
        const f = metric === Rejected.malformed ? lastVerifyFailure() : null;
        log.debug({ conn: ws.getUserData().id, ip: ws.getUserData().ip, detail, at: f, suppressed: this.suppressedVerifyLogs }, 'protocol violation; socket closed');
        this.lastVerifyLog = now;
        this.suppressedVerifyLogs = 0;
      } else this.suppressedVerifyLogs++;
    }
    this.gateway!.closeSocket(ws, CloseReason.malformed, code, reason.length > 120 ? reason.slice(0, 120) : reason);
  }

  // ================================================================ zones

  private zoneSend(s: Session, type: number, payload: Uint8Array | null): void {
    this.d.zones.hosts[s.zone]?.send(type, s.id, payload);
  }

  /** Sends the player's last known state to its zone as a join of `kind`. */
  private sendJoin(s: Session, kind: number, hint: number): void {
    const host = this.d.zones.hosts[s.zone];
    if (!host) return;
    const len = JoinRecord.header + s.lastStateLen;
    const off = host.reserve(ToZone.join, s.id, len);
    if (off < 0) {
      this.d.log.error({ session: s.id, zone: host.def.id }, 'zone ring full: join not sent');
      return;
    }
    const d = host.inbound.data;
    JoinRecord.write(d, off, kind, hint);
    for (let i = 0; i < s.lastStateLen; i++) d[off + JoinRecord.header + i] = s.lastState[i]!;
    host.commit();
  }

  /** Ends a session: out of the registry now; out of its zone (and saved) when the zone answers. */
  private endSession(s: Session): void {
    if (s.state !== SessionState.closed) this.registry.end(s);
    if (s.inZoneLoad) {
      this.zoneLoad[s.zone]!--;
      s.inZoneLoad = false;
    }
    const host = this.d.zones.hosts[s.zone];
    const l: Leaving = {
      playerId: s.playerId,
      accountId: s.identity.accountId,
      guest: s.identity.guest,
      zone: s.zone,
      state: s.lastState,
      stateLen: s.lastStateLen,
    };
    this.leaving.set(s.id, l);
    s.replay?.clear();
    if (!host || !host.send(ToZone.leave, s.id, null)) this.onLeft(s.id, EMPTY, 0, 0);
  }

  /** The zone that is up with the fewest players (ties: the first). -1 when none is up. */
  private sweep(): void {
    const now = performance.now();
    this.registry.sweep(now, (s) => this.endSession(s));
    this.helloDeadline.sweep(now);
  }

  /** Shutdown: every player leaves its zone and is saved; resolves when all are, or at the deadline. */
  async shutdown(deadlineMs: number): Promise<{ saved: number; unsaved: number }> {
    this.shuttingDown = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.ackTimer) clearInterval(this.ackTimer);
    const all = [...this.registry.all()];
    for (const s of all) this.endSession(s);
    const end = Date.now() + deadlineMs;
    while (this.leaving.size > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
    const unsaved = this.leaving.size;
    for (const id of [...this.leaving.keys()]) this.onLeft(id, EMPTY, 0, 0);
    return { saved: all.length - unsaved, unsaved };
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }
}

/** Longest an accepted input waits for a frame to carry its acknowledgement (two ticks at 20 Hz). */
/** Constant payloads (send() copies them into the ring). */
const payload = (size: number, write: (d: Uint8Array) => void): Uint8Array => {
  const d = new Uint8Array(size);
  write(d);
  return d;
};
const LINK_DEAD = payload(LinkDeadRecord.size, (d) => LinkDeadRecord.write(d, 0, true));
const LINK_BACK = payload(LinkDeadRecord.size, (d) => LinkDeadRecord.write(d, 0, false));
const DURABLE_ONE = payload(DurableRecord.size, (d) => DurableRecord.write(d, 0, 1));
const EMPTY = new Uint8Array(0);
