// The session layer's service: the half of it that must be one for the
// process (main thread). It answers Hello and Resume, keeps the registry of
// sessions (ids, tokens, zombie timers, one session per account), loads and
// saves players, decides where a portal leads and whom a whisper reaches,
// and supervises what happens when a zone restarts or goes down.
//
// Everything hot is done by each session's owner, a SessionCore (core.ts):
// the sockets, inputs, acks and pings, the frames and the replay buffer.
// The service talks to owners through CorePort and hears from them through
// ControlPort (ports.ts): directly at one gateway thread, over the link
// rings with several. A session is served by the owner of the thread its
// socket is on; a resume or a second login that lands on another thread
// moves the session there first (CorePort.migrate → exported → adopt), and
// calls for a session that is moving wait until it has arrived (whenSettled),
// so the new owner gets them after the session.

import type { ByteBuffer } from 'flatbuffers';
import type { Registry } from 'prom-client';
import type { Logger } from '../log/logger.js';
import type { GatewayLike, Socket, UpgradeGate } from '../net/gateway.js';
import type { HttpRequest } from '../net/uws.js';
import { CloseReason, type CloseReasonIndex, type NetStats } from '../net/stats.js';
import { CloseCode } from '../protocol/close-codes.js';
import { ErrorCode, describeVerifyError } from '../protocol/codes.js';
import { PROTOCOL_VERSION, MIN_PROTOCOL_VERSION } from '../protocol/version.js';
import { verifyClientMessage, type VerifyLimits } from '../protocol/verify.js';
import { rebindByteBuffer, reusableByteBuffer, stringField, fieldSlot } from '../protocol/read.js';
import { ServerMessageBuilder } from '../protocol/build.js';
import { ClientMessage } from '../protocol/generated/mmo/client-message.js';
import { ClientBody } from '../protocol/generated/mmo/client-body.js';
import { Hello } from '../protocol/generated/mmo/hello.js';
import { Resume } from '../protocol/generated/mmo/resume.js';
import { Chat } from '../protocol/generated/mmo/chat.js';
import { ChatChannel } from '../protocol/generated/mmo/chat-channel.js';
import type { BufferPool } from '../pool/index.js';
import type { Persistence } from '../persist/persistence.js';
import type { Accounts, TokenClaims } from '../persist/accounts.js';
import type { PlayerRecord } from '../persist/types.js';
import type { PlayerSnapshot } from '../persist/write-queue.js';
import { FromZone, ToZone, JoinKind, WriteThroughKind, JoinRecord, JoinedRecord, JoinFailedRecord, ReconciledRecord, HandoffRecord, WriteThroughRecord, DurableRecord, RebindRecord } from '../zone/records.js';
import type { ZoneSet, ZoneEvents } from '../zone/host.js';
import { SessionRegistry, ResumeResult, RESUME_RESULT_NAMES } from './registry.js';
import { Session, SessionState, type SessionIdentity } from './session.js';
import { Admission, type AdmissionConfig } from './admission.js';
import type { SharedAdmission } from './shared-admission.js';
import { SocketRefusals, type SocketCloser } from './refusals.js';
import { createSessionMetrics, registerSessionGauges, Rejected, LoginResult, SessionMove, type SessionMetrics, type RejectedIndex } from './metrics.js';
import type { ReplayLimits } from './replay.js';
import { encodeRecord, snapshotOf, NO_ZONE } from './player.js';
import { HelloDeadline } from './hello-deadline.js';
import { placeNewPlayer } from './placement.js';
import { SessionCore } from './core.js';
import { SessionExport } from './export.js';
import type { CorePort } from './ports.js';
import type { CoreConfig } from './core.js';
import type { ThreadSessions } from '../net/threaded-gateway.js';
import { PLAYER_STATE_MAX_BYTES } from '../world/index.js';

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
  /**
   * The owners on gateway threads (net.gatewayThreads >= 2), by thread index:
   * the service reaches them through these, and connection ids say which
   * thread a socket is on. Absent or empty: the main thread's own owner
   * serves every socket.
   */
  threadOwners?: readonly CorePort[];
  /** Which owner serves connection `id` (with threadOwners). */
  ownerOfConn?: (id: number) => number;
  /** Whether gateway thread `i` is up (its owner reads its rings); absent: always. */
  threadAlive?: (i: number) => boolean;
}

/** Per-socket state of the service (SocketData.service). */
interface Conn {
  session: Session | null;
  /** 0 new, 1 authenticating (waiting for the database), 2 in a session, 3 closed. */
  phase: number;
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

/** A session on its way between owners: the exported records go to `to`. */
interface Moving {
  session: Session;
  to: number;
  /** The old owner's thread died: the new owner (the main thread's) drains its rings and waits for the zone's `moved`. */
  parked: boolean;
}

const CHAT_TEXT = fieldSlot('Chat.text');
const CHAT_TO = fieldSlot('Chat.to');
const HELLO_TOKEN = fieldSlot('Hello.token');
const HELLO_GUEST = fieldSlot('Hello.guest_name');

export class SessionService implements UpgradeGate, ThreadSessions {
  readonly registry: SessionRegistry;
  readonly admission: Admission;
  /** The main thread's owner: every session at one gateway thread; the sessions of a dead thread with several. */
  readonly core: SessionCore;
  /** Owners by index: the gateway threads' (when there are several), then the main thread's last. */
  readonly owners: CorePort[];
  /** Index of the main thread's owner in `owners` (its ring at each zone is the zone's last). */
  readonly mainOwner: number;
  /** Each gateway thread's replay pool figures (metrics.ts PoolFigure), added to the main thread's in the gauges. */
  readonly threadPools: Float64Array[] = [];
  /** What every owner is configured with (the gateway threads' get it in their workerData). */
  readonly coreConfig: CoreConfig;
  private gateway: GatewayLike | null = null;
  private readonly msg = new ServerMessageBuilder();
  private readonly bb: ByteBuffer = reusableByteBuffer();
  private readonly cm = new ClientMessage();
  private readonly hello = new Hello();
  private readonly resume = new Resume();
  private readonly chat = new Chat();
  private readonly leaving = new Map<number, Leaving>();
  /** Logins of an account waiting for its previous session's final state (its zone's `left`), by account id. */
  private readonly leftWaiters = new Map<number, Array<() => void>>();
  private readonly moving = new Map<number, Moving>();
  /**
   * Cluster: sessions in another node's zone whose records from it go to an
   * owner other than Session.owner: the one they are moving to, from the
   * moment the old owner's rebind passed here (its `moved` answer went to the
   * old owner first). Cleared when the move completes.
   */
  private readonly remoteRoutes = new Map<number, number>();
  /** Zone restarts waiting for every owner's rejoin barrier: owners still to answer. */
  private readonly rejoinWaits = new Map<number, number>();
  private readonly joinBuf = new Uint8Array(JoinRecord.header + PLAYER_STATE_MAX_BYTES);
  private readonly ownerOfConn: (id: number) => number;
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
  /** Live sessions per zone, kept as they join, cross and leave: new players go to the emptiest zone. */
  private readonly zoneLoad: Int32Array;
  private sweepTimer: ReturnType<typeof setInterval> | null = null;
  private shuttingDown = false;
  private readonly refusals: SocketRefusals;

  // Metrics.
  readonly m: SessionMetrics;
  private readonly helloDeadline: HelloDeadline<Socket>;

  constructor(private readonly d: SessionServiceDeps) {
    const c = d.cfg;
    this.registry = new SessionRegistry({ zombieTtlMs: c.zombieTtlMs });
    this.admission = new Admission(d.admission, performance.now(), d.sharedAdmission ?? null);
    this.zoneLoad = new Int32Array(d.zones.count);
    this.m = createSessionMetrics(d.registry);
    const close: SocketCloser = (ws, reason, code, text) => this.gateway!.closeSocket(ws, reason, code, text);
    this.refusals = new SocketRefusals(d.log, this.m, close);
    const threads = d.threadOwners ?? [];
    this.mainOwner = threads.length;
    this.ownerOfConn = threads.length > 0 && d.ownerOfConn ? d.ownerOfConn : () => this.mainOwner;
    this.coreConfig = {
      replay: c.replay,
      limits: { chatPerSec: c.chatPerSec, chatBurst: c.chatBurst, inputsPerSec: c.inputsPerSec, inputBurst: c.inputBurst },
      floodStrikes: c.floodStrikes,
      heldInputsMax: c.heldInputsMax,
      lagBytes: c.lagBytes,
      closeBytes: c.closeBytes,
      zombieReplayBytes: c.zombieReplayBytes,
    };
    this.core = new SessionCore({
      owner: this.mainOwner,
      cfg: this.coreConfig,
      verify: d.verify,
      zones: {
        send: (zone, type, session, src, offset, length) => {
          const h = d.zones.hosts[zone];
          if (!h) return false;
          // Another node's zone: the owner's move is answered here (the zone there knows no owners of this node).
          if (!h.local && type === ToZone.rebind && src) return this.remoteRebind(zone, session, RebindRecord.owner(src, offset));
          return h.send(type, session, src, offset, length);
        },
        isUp: (zone) => d.zones.isUp(zone),
        commit: () => d.zones.commitPending(),
      },
      zoneNames: d.zones.hosts.map((h) => ({ id: h.def.id, name: h.def.name })),
      pool: d.pool,
      stats: d.stats,
      metrics: this.m,
      admission: this.admission,
      close,
      log: d.log,
      tickHz: d.tickHz,
    });
    this.core.control = this;
    this.owners = [...threads, this.core];
    const shared = d.sharedAdmission ?? null;
    if (shared) this.registry.onLive = (id, live) => shared.noteSession(id, live);
    registerSessionGauges(d.registry, this.registry, d.pool, () => (shared ? shared.stats : this.admission.stats), this.threadPools);
    this.helloDeadline = new HelloDeadline<Socket>(c.helloDeadlineMs ?? 0, {
      isPending: (ws) => {
        const u = ws.getUserData();
        const conn = u.service as Conn | null;
        return u.open && conn !== null && conn.phase === PHASE_NEW && conn.session === null;
      },
      expire: (ws) => this.kick(ws, CloseCode.helloTimeout, `no Hello within ${c.helloDeadlineMs} ms`, CloseReason.refused),
    }, d.registry);
  }

  /** The gateway calls back into the service to close sockets; set once, before listening. */
  attach(gateway: GatewayLike): void {
    this.gateway = gateway;
    this.sweepTimer = setInterval(() => this.sweep(), 250);
    this.sweepTimer.unref();
    this.core.start();
  }

  /** What the zone set reports to the session layer: the main thread's ring of each zone goes to the main thread's owner. */
  zoneEvents(): ZoneEvents {
    return {
      record: (zone, type, session, data, offset, length) => this.record(zone, type, session, data, offset, length),
      drained: () => this.drained(),
      restarted: (zone) => this.restarted(zone),
      down: (zone) => this.down(zone),
    };
  }

  // ================================================================ upgrade

  admit(ip: string, req: HttpRequest): number {
    const claim = req.getQuery('resume');
    const resume = claim !== '' && this.registry.get(Number(claim)) !== undefined;
    return this.admission.admit(ip, resume, performance.now());
  }

  // ================================================================ connections (ControlPort)

  open(ws: Socket): void {
    const conn: Conn = { session: null, phase: PHASE_NEW };
    ws.getUserData().service = conn;
    this.helloDeadline.add(ws, performance.now());
  }

  /** A message from a connection with no session: Hello or Resume. */
  message(ws: Socket, bytes: Uint8Array, offset: number, length: number, isBinary: boolean): void {
    const conn = ws.getUserData().service as Conn | null;
    if (!conn || conn.phase !== PHASE_NEW) return; // a second Hello while the first is being answered: ignored
    if (!isBinary) return this.refuse(ws, Rejected.textFrame, CloseCode.textFrame, 'text frames are not part of the protocol', 'text frame');
    const code = verifyClientMessage(bytes, offset, length, this.d.verify);
    if (code !== 0) return this.refuse(ws, Rejected.malformed, CloseCode.malformed, `malformed message: ${describeVerifyError(code)}`, describeVerifyError(code));
    const m = ClientMessage.getRootAsClientMessage(rebindByteBuffer(this.bb, bytes, offset), this.cm);
    const type = m.bodyType();
    if (type === ClientBody.Hello) return this.onHello(ws, conn, m);
    if (type === ClientBody.Resume) return this.onResume(ws, conn, m);
    return this.refuse(ws, Rejected.unexpected, CloseCode.unexpectedMessage, 'say Hello or Resume first', 'input before hello');
  }

  close(ws: Socket, code: number, reason: CloseReasonIndex): void {
    const conn = ws.getUserData().service as Conn | null;
    if (!conn) return;
    conn.phase = PHASE_CLOSED;
    const s = conn.session;
    conn.session = null;
    if (!s || s.socket !== ws || s.state !== SessionState.connected) return;
    if (reason === CloseReason.client && code === CloseCode.normal) {
      // A deliberate logout: save and leave now rather than linger as a zombie.
      this.endSession(s, 0, CloseReason.client, '');
      return;
    }
    // Its owner capped its replay and told the zone; the zombie timer runs here.
    this.registry.toZombie(s, performance.now());
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
    // The account's previous session is still leaving its zone: its final state is not saved yet, and
    // loading now would start from an older one. Wait for the zone's answer (bounded: a zone that is
    // down or restarting answers through onLeft too, and this never waits past LEFT_WAIT_MS).
    if (!claims.guest && this.isLeaving(claims.accountId)) {
      let done = false;
      const go = (): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (conn.phase !== PHASE_CLOSED) this.loadLogin(ws, conn, claims, identity);
      };
      const timer = setTimeout(go, LEFT_WAIT_MS);
      const list = this.leftWaiters.get(claims.accountId);
      if (list) list.push(go);
      else this.leftWaiters.set(claims.accountId, [go]);
      return;
    }
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
    const owner = this.ownerOfConn(ws.getUserData().id);
    const s = this.registry.create(identity, ws, zone, owner);
    s.playerId = record.id;
    s.lastStateLen = encodeRecord(record, s.lastState, atSpawn);
    if (s.lastStateLen < 0) {
      this.registry.end(s);
      this.m.logins.inc(LoginResult.failed);
      return this.kick(ws, CloseCode.authFailed, 'this character cannot be loaded', CloseReason.refused);
    }
    this.zoneLoad[zone]!++;
    s.inZoneLoad = true;
    conn.session = s;
    conn.phase = PHASE_IN;
    this.m.logins.inc(LoginResult.ok);
    const n = this.joinPayload(s, JoinKind.login, 0);
    this.owners[owner]!.login(ws.getUserData().id, s.id, { name: identity.name, accountId: identity.accountId, guest: identity.guest }, zone, s.token, this.joinBuf, 0, n);
  }

  /** Cluster: a login to this account on node `by` takes over; this node's session of it ends as in a takeover (saved on leaving). Its player id, or -1. */
  takenOverElsewhere(accountId: number, by: string): number {
    const s = this.registry.findByIdentity({ accountId, name: '', guest: false });
    if (!s || s.state === SessionState.closed) return -1;
    this.endSession(s, CloseCode.takenOver, CloseReason.takenOver, `another login to this account (on node ${by}) took over the session`);
    return s.playerId;
  }

  /** A second login to a live session's account: the new socket takes the session, the old one is told and closed (by the owner). */
  private takeOver(s: Session, ws: Socket, conn: Conn): void {
    const prev = s.socket;
    if (prev && prev !== ws) (prev.getUserData().service as Conn).session = null;
    this.registry.bind(s, ws);
    s.rotateToken();
    conn.session = s;
    conn.phase = PHASE_IN;
    this.m.takeovers.inc();
    this.m.logins.inc(LoginResult.ok);
    const connId = ws.getUserData().id;
    const token = s.token;
    this.onOwner(s, this.ownerOfConn(connId), (core) => core.takeover(connId, s.id, token));
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
    if (prev && prev !== ws) (prev.getUserData().service as Conn).session = null;
    conn.session = s;
    conn.phase = PHASE_IN;
    const connId = ws.getUserData().id;
    const lastSeq = r.lastSeq();
    const newToken = s.token;
    this.onOwner(s, this.ownerOfConn(connId), (core) => core.resume(connId, s.id, lastSeq, newToken));
  }

  // ================================================================ owners

  /**
   * Runs `call` on the owner `to` of session `s`, moving the session there
   * first when another owner has it (a resume or login that landed on another
   * gateway thread). Calls made while it moves run in order once it is there.
   */
  private onOwner(s: Session, to: number, call: (core: CorePort) => void): void {
    if (s.moving) {
      s.pending.push(() => this.onOwner(s, to, call));
      return;
    }
    if (s.owner !== to) {
      s.moving = true;
      this.moving.set(s.id, { session: s, to, parked: false });
      this.owners[to]!.expect(s.id);
      this.owners[s.owner]!.migrate(s.id, to);
      s.pending.push(() => this.onOwner(s, to, call));
      return;
    }
    call(this.owners[to]!);
  }

  /** Runs `call` on the session's owner now, or once it has finished moving. */
  private whenSettled(s: Session, call: (core: CorePort) => void): void {
    if (s.moving) s.pending.push(() => this.whenSettled(s, call));
    else call(this.owners[s.owner]!);
  }

  exported(type: number, id: number, data: Uint8Array, offset: number, length: number): void {
    let mv = this.moving.get(id);
    if (!mv) {
      // Not asked to move: its owner's thread is dying and hands its sessions over. The main thread's owner keeps them.
      const s = this.registry.get(id);
      if (!s || type !== SessionExport.begin) return;
      mv = { session: s, to: this.mainOwner, parked: true };
      s.moving = true;
      this.moving.set(id, mv);
    }
    this.owners[mv.to]!.adopt(type, id, data, offset, length);
    if (type === SessionExport.end) this.arrived(mv);
  }

  private arrived(mv: Moving): void {
    const s = mv.session;
    this.moving.delete(s.id);
    this.remoteRoutes.delete(s.id);
    s.owner = mv.to;
    s.moving = false;
    this.m.moves.inc(mv.parked ? SessionMove.parked : SessionMove.migrated);
    if (mv.parked) this.core.claim(s.id);
    const calls = s.pending.splice(0);
    for (const c of calls) c();
  }

  /**
   * Owner `owner`'s thread died; what it exported is parked already. Its
   * other sessions (it died without handing them over) are parked with no
   * frames: their resume gets a snapshot. Returns how many of those.
   */
  ownerDied(owner: number): number {
    for (const mv of [...this.moving.values()]) {
      // A move to or from the dead owner that did not finish: called off; the main thread's owner takes the session below.
      const s = mv.session;
      if (mv.to !== owner && s.owner !== owner) continue;
      this.moving.delete(s.id);
      s.moving = false;
      if (mv.to !== owner) this.owners[mv.to]!.cancel(s.id);
      s.owner = owner;
    }
    let n = 0;
    for (const s of this.registry.all()) {
      if (s.owner !== owner || s.moving) continue;
      this.core.park(s.id, { name: s.identity.name, accountId: s.identity.accountId, guest: s.identity.guest }, s.zone, s.entity, s.token);
      s.owner = this.mainOwner;
      this.core.claim(s.id);
      this.m.moves.inc(SessionMove.parked);
      n++;
      const calls = s.pending.splice(0);
      for (const c of calls) c();
    }
    return n;
  }

  deadRecord(zone: number, type: number, session: number, data: Uint8Array, offset: number, length: number): void {
    this.core.oldOwnerRecord(zone, type, session, data, offset, length);
  }

  deadDrained(): void {
    this.core.flush();
  }

  awaitingMoved(): number {
    return this.core.awaitingMoved();
  }

  stopAwaiting(): void {
    this.core.stopAwaiting();
  }

  // ================================================================ from owners (ControlPort)

  whisper(id: number, data: Uint8Array, offset: number, length: number): void {
    const s = this.registry.get(id);
    if (!s || s.state === SessionState.closed) return;
    const m = ClientMessage.getRootAsClientMessage(rebindByteBuffer(this.bb, data, offset), this.cm);
    const c = m.body(this.chat) as Chat | null;
    if (!c) return;
    const seq = m.seq();
    const to = stringField(c, CHAT_TO);
    const text = stringField(c, CHAT_TEXT);
    if (!text) return this.errorTo(s, ErrorCode.badText, 'empty whisper', seq);
    const target = to ? this.registry.findByName(to) : undefined;
    if (!target && to && this.remoteWhisper?.(s, to, text, seq)) return;
    if (!target) return this.errorTo(s, ErrorCode.whisperTargetNotFound, `${to ?? '(nobody)'} is not online`, seq);
    this.msg.chatMessage(ChatChannel.Whisper, s.entity, s.identity.name, text);
    this.stageBuilt(target, false);
    if (target !== s) this.stageBuilt(s, false);
  }

  tokenConfirmed(id: number): void {
    this.registry.get(id)?.confirmTokens();
  }

  rejoined(zone: number): void {
    const left = (this.rejoinWaits.get(zone) ?? 0) - 1;
    if (left > 0) {
      this.rejoinWaits.set(zone, left);
      return;
    }
    this.rejoinWaits.delete(zone);
    this.d.zones.hosts[zone]?.send(ToZone.reconcile, 0, null);
  }

  /** Cluster: a whisper from a player of another node to `to`; false when nobody of that name is online here. */
  whisperHere(to: string, fromEntity: number, fromName: string, text: string): boolean {
    const target = this.registry.findByName(to);
    if (!target || target.state === SessionState.closed) return false;
    this.msg.chatMessage(ChatChannel.Whisper, fromEntity, fromName, text);
    this.stageBuilt(target, false);
    return true;
  }

  /** Cluster: the whisper `s` sent reached its target on another node; `s` gets its copy. */
  whisperEcho(s: Session, text: string): void {
    if (s.state === SessionState.closed) return;
    this.msg.chatMessage(ChatChannel.Whisper, s.entity, s.identity.name, text);
    this.stageBuilt(s, false);
  }

  /** Cluster: no node has a player called `to`. */
  whisperNotFound(s: Session, to: string, seq: number): void {
    if (s.state !== SessionState.closed) this.errorTo(s, ErrorCode.whisperTargetNotFound, `${to} is not online`, seq);
  }

  // ================================================================ zone records

  /**
   * A record read on the main thread from a zone's ring to it (the main
   * thread's owner's), or in a cluster from another node's zone (for the
   * session's owner, wherever it is).
   */
  record(zone: number, type: number, session: number, data: Uint8Array, offset: number, length: number): void {
    if (session === 0) return this.zoneRecord(zone, type, session, data, offset, length);
    const h = this.d.zones.hosts[zone];
    const owner = h && !h.local ? this.remoteRoute(session) : this.mainOwner;
    if (owner === this.mainOwner) this.core.zoneRecord(zone, type, session, data, offset, length);
    else this.owners[owner]!.zoneRecord(zone, type, session, data, offset, length);
  }

  /** Cluster: a gateway thread's record for another node's zone goes there (its owner's moves are answered here). */
  remoteZone(zone: number, type: number, id: number, data: Uint8Array, offset: number, length: number): void {
    const h = this.d.zones.hosts[zone];
    if (!h || h.local) return;
    if (type === ToZone.rebind) {
      if (length >= RebindRecord.size) this.remoteRebind(zone, id, RebindRecord.owner(data, offset));
      return;
    }
    h.send(type, id, data, offset, length);
  }

  /** Which owner gets another node's zone's records for session `id`. */
  private remoteRoute(id: number): number {
    return this.remoteRoutes.get(id) ?? this.registry.get(id)?.owner ?? this.mainOwner;
  }

  /**
   * Cluster: session `id` moves to owner `to` while in another node's zone.
   * That zone knows nothing of this node's owners, so the move is answered
   * here: `moved` goes to the old owner (after every record of the zone
   * relayed to it so far), and what comes from the zone after goes to `to`.
   */
  private remoteRebind(zone: number, id: number, to: number): boolean {
    const from = this.remoteRoute(id);
    if (from === this.mainOwner) this.core.zoneRecord(zone, FromZone.moved, id, EMPTY, 0, 0);
    else if (this.d.threadAlive && !this.d.threadAlive(from)) this.core.oldOwnerRecord(zone, FromZone.moved, id, EMPTY, 0, 0);
    else this.owners[from]!.zoneRecord(zone, FromZone.moved, id, EMPTY, 0, 0);
    if (to !== from) this.remoteRoutes.set(id, to);
    return true;
  }

  /** A zone's record the service handles, forwarded by the session's owner. */
  zoneRecord(zone: number, type: number, session: number, data: Uint8Array, offset: number, length: number): void {
    const s = this.registry.get(session);
    switch (type) {
      case FromZone.state:
        if (s && s.zone === zone) this.keepState(s, data, offset, length);
        return;
      case FromZone.joined:
        if (s && s.zone === zone) s.entity = JoinedRecord.entity(data, offset);
        return;
      case FromZone.joinFailed:
        if (s) {
          this.d.log.error({ session, zone, code: JoinFailedRecord.code(data, offset) }, 'zone refused a player');
          this.endSession(s, CloseCode.zoneDown, CloseReason.kicked, 'the zone is full; retry later');
        }
        return;
      case FromZone.left:
        return this.onLeft(session, data, offset, length);
      case FromZone.handoff:
        if (s) this.onHandoff(s, zone, data, offset, length);
        return;
      case FromZone.writeThrough:
        if (s) this.onWriteThrough(s, data, offset, length);
        return;
      case FromZone.reconciled:
        this.d.log.info({ zone: this.d.zones.hosts[zone]?.def.id, removed: ReconciledRecord.removed(data, offset) }, 'zone reconciled after restart');
        return;
    }
  }

  /** The player walked through a portal: it goes to the target zone if that is up, else back to a spawn point of this one. */
  private onHandoff(s: Session, from: number, data: Uint8Array, offset: number, length: number): void {
    if (s.zone !== from) return;
    const target = HandoffRecord.target(data, offset);
    let to = this.d.zones.indexOf(target);
    this.keepState(s, data, offset + HandoffRecord.header, length - HandoffRecord.header);
    if (to < 0 || !this.d.zones.isUp(to)) {
      this.d.log.warn({ session: s.id, from: this.d.zones.hosts[from]!.def.id, target }, 'portal target zone is down; player stays');
      to = from;
    }
    this.m.handoffs.inc();
    if (s.inZoneLoad) {
      this.zoneLoad[from]!--;
      this.zoneLoad[to]!++;
    }
    s.zone = to;
    const st = this.stateOf(s);
    const x = st?.x ?? 0;
    const y = st?.y ?? 0;
    const n = this.joinPayload(s, JoinKind.handoff, 0);
    const join = this.joinBuf.slice(0, n);
    this.whenSettled(s, (core) => core.moveZone(s.id, to, x, y, join, 0, n));
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
      this.whenSettled(s, (core) => core.toZone(s.id, ToZone.durable, DURABLE_ONE, 0, DURABLE_ONE.length));
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
    // A login of this account waiting for the final state loads now (the queue serves it before it is written).
    const waiters = this.leftWaiters.get(l.accountId);
    if (waiters && !this.isLeaving(l.accountId)) {
      this.leftWaiters.delete(l.accountId);
      for (const w of waiters) w();
    }
  }

  /** A session of this account is leaving its zone: its final state is on its way. */
  private isLeaving(accountId: number): boolean {
    for (const l of this.leaving.values()) if (!l.guest && l.accountId === accountId) return true;
    return false;
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

  /** Writes the player's join of `kind` (its last known state) into joinBuf; returns its length. */
  private joinPayload(s: Session, kind: number, hint: number): number {
    const d = this.joinBuf;
    JoinRecord.write(d, 0, kind, hint);
    d.set(s.lastState.subarray(0, s.lastStateLen), JoinRecord.header);
    return JoinRecord.header + s.lastStateLen;
  }

  // ================================================================ zone lifecycle

  restarted(zone: number): void {
    let n = 0;
    for (const o of this.owners) o.fencesLost(zone);
    for (const s of this.registry.all()) {
      if (s.zone !== zone) continue;
      const len = this.joinPayload(s, JoinKind.rejoin, s.entity);
      const join = this.joinBuf.slice(0, len);
      this.whenSettled(s, (core) => core.rejoin(s.id, join, 0, len));
      n++;
    }
    for (const [id, l] of this.leaving) {
      if (l.zone !== zone) continue;
      // Its leave was lost with the worker: save the last state we have.
      this.onLeft(id, EMPTY, 0, 0);
    }
    // The zone reconciles once every owner has written its rejoins.
    this.rejoinWaits.set(zone, this.owners.length);
    for (const o of this.owners) o.rejoinBarrier(zone);
    this.d.log.info({ zone: this.d.zones.hosts[zone]!.def.id, players: n }, 'zone restarted; players rejoined');
  }

  /** The zone is gone for good: its players are saved and told `zone <name> <why>` (a cluster says which node is gone). */
  down(zone: number, why = 'is down after repeated crashes'): void {
    const def = this.d.zones.hosts[zone]!.def;
    for (const o of this.owners) o.fencesLost(zone);
    for (const s of [...this.registry.all()]) {
      if (s.zone !== zone) continue;
      this.endSession(s, CloseCode.zoneDown, CloseReason.kicked, `zone ${def.name} ${why}; log in again to continue elsewhere`);
    }
    for (const [id, l] of this.leaving) if (l.zone === zone) this.onLeft(id, EMPTY, 0, 0);
  }

  // ================================================================ output

  /** The main thread's zone rings are drained: its owner flushes. */
  drained(): void {
    this.core.drained();
  }

  /** Stages the message the builder just built for `s`, on its owner. */
  private stageBuilt(s: Session, unsequenced: boolean): void {
    if (!s.moving) {
      this.owners[s.owner]!.stage(s.id, this.msg.bytes, this.msg.start, this.msg.length, unsequenced);
      return;
    }
    const copy = this.msg.bytes.slice(this.msg.start, this.msg.start + this.msg.length);
    this.whenSettled(s, (core) => core.stage(s.id, copy, 0, copy.length, unsequenced));
  }

  private errorTo(s: Session, code: number, reason: string, refSeq: number): void {
    this.msg.error(code, reason, refSeq);
    this.stageBuilt(s, false);
  }

  /** Operator kick (dashboard): ends the session (saved, out of the world) and closes its socket with 4103 kicked. False when unknown. */
  kickSession(id: number, reason: string): boolean {
    const s = this.registry.get(id);
    if (!s || s.state === SessionState.closed) return false;
    this.endSession(s, CloseCode.kicked, CloseReason.kicked, reason);
    return true;
  }

  /** Operator mute (dashboard): its chat is refused with ErrorCode.muted. False when unknown. */
  muteSession(id: number, on: boolean): boolean {
    const s = this.registry.get(id);
    if (!s || s.state === SessionState.closed) return false;
    s.muted = on;
    this.whenSettled(s, (core) => core.mute(id, on));
    return true;
  }

  /** Tells a socket with no session why (Kicked), then closes it with `code`. */
  private kick(ws: Socket, code: number, reason: string, closeReason: CloseReasonIndex, metric: RejectedIndex | -1 = -1): void {
    this.refusals.kick(ws, code, reason, closeReason, metric);
  }

  private refuse(ws: Socket, metric: RejectedIndex, code: number, reason: string, detail: string): void {
    this.refusals.refuse(ws, metric, code, reason, detail);
  }

  // ================================================================ ending

  /**
   * Ends a session: out of the registry now; its owner closes its socket
   * (telling it `text`, unless `code` is 0) and takes it out of its zone; it
   * is saved when the zone answers.
   */
  private endSession(s: Session, code: number, reason: CloseReasonIndex, text: string): void {
    if (s.state !== SessionState.closed) this.registry.end(s);
    const ws = s.socket;
    if (ws) {
      const conn = ws.getUserData().service as Conn | null;
      if (conn && conn.session === s) conn.session = null;
    }
    if (s.inZoneLoad) {
      this.zoneLoad[s.zone]!--;
      s.inZoneLoad = false;
    }
    this.leaving.set(s.id, {
      playerId: s.playerId,
      accountId: s.identity.accountId,
      guest: s.identity.guest,
      zone: s.zone,
      state: s.lastState,
      stateLen: s.lastStateLen,
    });
    this.whenSettled(s, (core) => core.end(s.id, code, reason, text));
  }

  private sweep(): void {
    const now = performance.now();
    this.registry.sweep(now, (s) => this.endSession(s, 0, CloseReason.client, ''));
    this.helloDeadline.sweep(now);
  }

  /** Shutdown: every player leaves its zone and is saved; resolves when all are, or at the deadline. */
  async shutdown(deadlineMs: number): Promise<{ saved: number; unsaved: number }> {
    this.shuttingDown = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.core.stop();
    const all = [...this.registry.all()];
    for (const s of all) this.endSession(s, 0, CloseReason.shutdown, '');
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

/** Constant payloads (send() copies them into the ring). */
const DURABLE_ONE = ((): Uint8Array => {
  const d = new Uint8Array(DurableRecord.size);
  DurableRecord.write(d, 0, 1);
  return d;
})();
const EMPTY = new Uint8Array(0);
/** Longest a login waits for the account's previous session to leave its zone (a zone answers in ticks). */
const LEFT_WAIT_MS = 2000;
