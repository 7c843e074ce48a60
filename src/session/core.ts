// The hot half of the session layer: the owner of a set of sessions, on the
// thread that serves their sockets (a gateway thread, or the main thread at
// net.gatewayThreads 1). It is the gateway's SocketHandler there:
//
//   socket ─▶ verify ─▶ no session yet: the service (Hello, Resume: ControlPort.message)
//                    └▶ in a session: dedupe by input seq ─▶ rate limits ─▶ its zone's ring
//   zone ring (this owner's) ─▶ stage per session ─▶ flush: one frame per session, kept for
//                               replay, sent corked (SessionFlusher)
//
// What it does not decide it asks the service (ports.ts): who may log in or
// resume, which zone a portal leads to, whom a whisper reaches, when a zombie
// expires. The service's answers arrive as CorePort calls.
//
// Contract for a session's records (why nothing is lost or doubled):
// - Everything between a session and its zone passes its owner: the owner
//   writes its inputs and the service's ToZone records for it into the
//   owner's ring to the zone, in one order; the zone writes everything about
//   it into the owner's ring from the zone (zone/runtime.ts keeps each
//   session's owner), and the owner forwards what the service handles.
// - Portal: the old zone hands the player off (FromZone.handoff) and bounces
//   inputs it still gets; the owner stops sending to it at once, fences it,
//   and sends the bounced inputs, then the held ones, to the new zone once
//   the fence is answered and the service has named that zone.
// - Migration to another owner (a resume on another thread): the owner
//   writes ToZone.rebind after its last input, the zone answers
//   FromZone.moved as its last record to this owner and writes to the new
//   owner from then on; only then is the session exported (its numbers,
//   replay frames and held inputs) and the new owner, which kept the zone's
//   records for it (expect), adopts it and replays what the client missed.
//
// Allocation: none per input or per staged message in steady state (copies
// are made only for inputs held during a portal crossing).

import type { ByteBuffer } from 'flatbuffers';
import type { Logger } from '../log/logger.js';
import type { Socket, SocketData, SocketHandler } from '../net/gateway.js';
import { CloseReason, type CloseReasonIndex, type NetStats } from '../net/stats.js';
import { CloseCode } from '../protocol/close-codes.js';
import { ErrorCode, describeVerifyError } from '../protocol/codes.js';
import { PROTOCOL_VERSION } from '../protocol/version.js';
import { verifyClientMessage, type VerifyLimits } from '../protocol/verify.js';
import { rebindByteBuffer, reusableByteBuffer } from '../protocol/read.js';
import { ServerMessageBuilder } from '../protocol/build.js';
import { ClientMessage } from '../protocol/generated/mmo/client-message.js';
import { ClientBody } from '../protocol/generated/mmo/client-body.js';
import { Chat } from '../protocol/generated/mmo/chat.js';
import { Ack } from '../protocol/generated/mmo/ack.js';
import { Ping } from '../protocol/generated/mmo/ping.js';
import { ChatChannel } from '../protocol/generated/mmo/chat-channel.js';
import type { BufferPool } from '../pool/index.js';
import { FromZone, ToZone, JoinedRecord, LinkDeadRecord, RebindRecord } from '../zone/records.js';
import { SessionFlusher, ACK_SWEEP_MS } from './flusher.js';
import { OwnedSession, type OwnedIdentity, type OwnedLimits } from './owned.js';
import { ReplayBuffer, type ReplayLimits } from './replay.js';
import { Rejected, InputDrop, ResumeOutcome, type SessionMetrics, type RejectedIndex } from './metrics.js';
import { SocketRefusals, type SocketCloser } from './refusals.js';
import { SessionExport, encodeBegin, decodeBegin, encodeFrame, frameSeq, encodeHeld, heldWasBounced, FRAME_HEADER, HELD_HEADER } from './export.js';
import { get16, put16 } from '../ring/le.js';
import type { ControlPort, CorePort, ZoneLinks, ZoneName } from './ports.js';

export interface CoreConfig {
  replay: ReplayLimits;
  limits: OwnedLimits;
  /** Refused inputs (net of accepted ones) before the socket is closed for flooding. */
  floodStrikes: number;
  /** Inputs held for a player between zones; beyond it the oldest are dropped. */
  heldInputsMax: number;
  /** Bytes buffered on a socket past which its position deltas are dropped until it drains (then a snapshot). */
  lagBytes: number;
  /** Bytes buffered past which the socket is closed as a slow consumer. */
  closeBytes: number;
  /** Replay bytes a zombie keeps (sessions.zombieReplayBytes); absent: replay.maxBytes. */
  zombieReplayBytes?: number;
}

/** The address and account budgets an input spends (Admission on the main thread, InputBudget on a gateway thread). */
export interface InputAdmission {
  spendInput(address: string, accountId: number, chat: boolean, nowMs: number, addressKey: number): boolean;
  /** The key a connection keeps for spendInput; -1 when there is none. Cold path. */
  addressKey(address: string): number;
}

export interface CoreDeps {
  /** This owner's index: its ring at each zone (the zones' last ring is the main thread's). */
  owner: number;
  cfg: CoreConfig;
  verify: VerifyLimits;
  zones: ZoneLinks;
  zoneNames: readonly ZoneName[];
  pool: BufferPool;
  stats: NetStats;
  metrics: SessionMetrics;
  admission: InputAdmission;
  close: SocketCloser;
  log: Logger;
  tickHz: number;
}

/** Per-socket state of the owner (SocketData.attachment on the socket's thread). */
export interface CoreConn {
  session: OwnedSession | null;
  /** The address's key in the shared admission table (-1: none). */
  addressKey: number;
}

const EMPTY = new Uint8Array(0);
/** ToZone.linkDead payloads (send() copies them into the ring). */
const linkDead = (dead: boolean): Uint8Array => {
  const d = new Uint8Array(LinkDeadRecord.size);
  LinkDeadRecord.write(d, 0, dead);
  return d;
};
const LINK_DEAD = linkDead(true);
const LINK_BACK = linkDead(false);

export class SessionCore implements SocketHandler, CorePort {
  /** Set once, before any socket opens (the service, or its link). */
  control!: ControlPort;
  readonly sessions = new Map<number, OwnedSession>();
  /** This owner's open sockets by connection id (CorePort names connections by id). */
  private readonly conns = new Map<number, Socket>();
  /** Sessions being handed to this owner (expect): zone records that arrive first, copied, in order. */
  private readonly expected = new Map<number, Uint8Array[]>();
  /** Sessions of `adopt` being assembled. */
  private readonly adopting = new Map<number, OwnedSession>();
  private readonly out: SessionFlusher;
  private readonly msg = new ServerMessageBuilder();
  private readonly bb: ByteBuffer = reusableByteBuffer();
  private readonly cm = new ClientMessage();
  private readonly chat = new Chat();
  private readonly ack = new Ack();
  private readonly ping = new Ping();
  private exportBuf = new Uint8Array(16 * 1024);
  private ackTimer: ReturnType<typeof setInterval> | null = null;
  private readonly refusals: SocketRefusals;
  /** Records that named a session this owner does not have (late after an end or a move). */
  strays = 0;

  constructor(private readonly d: CoreDeps) {
    this.refusals = new SocketRefusals(d.log, d.metrics, d.close);
    this.out = new SessionFlusher({
      stats: d.stats,
      lagBytes: d.cfg.lagBytes,
      closeBytes: d.cfg.closeBytes,
      frameBytes: d.metrics.frameBytes,
      slowConsumer: (_s, ws) => this.kick(ws, CloseCode.slowConsumer, 'too far behind: reconnect to resume', CloseReason.slowConsumer),
    });
  }

  /** Starts the owed-ack sweep. */
  start(): void {
    this.ackTimer ??= setInterval(() => this.out.flushAcks(), ACK_SWEEP_MS);
    this.ackTimer.unref();
  }

  stop(): void {
    if (this.ackTimer) clearInterval(this.ackTimer);
    this.ackTimer = null;
  }

  get owner(): number {
    return this.d.owner;
  }

  // ================================================================ sockets (SocketHandler)

  open(ws: Socket): void {
    const u = ws.getUserData();
    const conn: CoreConn = { session: null, addressKey: this.d.admission.addressKey(u.ip) };
    u.attachment = conn;
    this.conns.set(u.id, ws);
    this.control.open(ws);
  }

  message(ws: Socket, bytes: Uint8Array, offset: number, length: number, isBinary: boolean): void {
    const u = ws.getUserData(); // one call: on a uWS socket it crosses into native code
    const conn = u.attachment as CoreConn;
    const s = conn.session;
    // No session yet: Hello or Resume, the service's to judge.
    if (s === null) return this.control.message(ws, bytes, offset, length, isBinary);
    if (!isBinary) return this.refuse(ws, Rejected.textFrame, CloseCode.textFrame, 'text frames are not part of the protocol', 'text frame');
    const code = verifyClientMessage(bytes, offset, length, this.d.verify);
    if (code !== 0) return this.refuse(ws, Rejected.malformed, CloseCode.malformed, `malformed message: ${describeVerifyError(code)}`, describeVerifyError(code));
    const m = ClientMessage.getRootAsClientMessage(rebindByteBuffer(this.bb, bytes, offset), this.cm);
    const type = m.bodyType();
    // Anything a client sends after a resume's Welcome shows it holds the new token.
    if (s.confirmPending) {
      s.confirmPending = false;
      this.control.tokenConfirmed(s.id);
    }
    switch (type) {
      case ClientBody.Move:
      case ClientBody.Attack:
      case ClientBody.Interact:
      case ClientBody.Chat:
      case ClientBody.Custom: // a game's own input: opaque here, the zone's content onInput reads it
        return this.onInput(ws, u, conn, s, m, type, bytes, offset, length);
      case ClientBody.Ping: {
        if (s.inTransit || !this.d.zones.isUp(s.zone) || !this.d.zones.send(s.zone, ToZone.input, s.id, bytes, offset, length)) {
          // The zone cannot answer now: the owner does, so RTT probes keep working.
          const p = m.body(this.ping) as Ping;
          this.msg.pong(p.clientTime(), Date.now());
          this.out.stageBuilt(s, this.msg, true);
          this.out.schedule();
        }
        return;
      }
      case ClientBody.Ack: {
        const seq = (m.body(this.ack) as Ack).lastSeq();
        if (seq > s.clientSeq && seq <= s.outSeq) {
          s.clientSeq = seq;
          s.replay.ackThrough(seq);
        }
        return;
      }
      default:
        return this.refuse(ws, Rejected.unexpected, CloseCode.unexpectedMessage, 'already in a session', 'hello or resume in session');
    }
  }

  drain(ws: Socket): void {
    const s = (ws.getUserData().attachment as CoreConn).session;
    if (s && s.lagging && s.socket === ws) this.unlag(s);
  }

  close(ws: Socket, code: number, reason: CloseReasonIndex): void {
    const u = ws.getUserData();
    this.conns.delete(u.id);
    const conn = u.attachment as CoreConn | null;
    const s = conn?.session ?? null;
    if (conn) conn.session = null;
    if (s && s.socket === ws) {
      s.socket = null;
      s.lagging = false;
      // A deliberate logout: the service ends the session. Otherwise a zombie, which keeps less: every
      // dropped session holds its replay for zombieTtlMs, and dropping sessions must not let anyone make
      // the server hold replayMaxBytes for each.
      if (!(reason === CloseReason.client && code === CloseCode.normal)) {
        s.replay.setByteCap(this.d.cfg.zombieReplayBytes ?? Infinity);
        this.toZone(s.id, ToZone.linkDead, LINK_DEAD, 0, LinkDeadRecord.size);
      }
    }
    this.control.close(ws, code, reason);
  }

  /**
   * A lagging socket that has drained below half the threshold gets its
   * deltas back, starting from a snapshot. Checked on uWS's drain event and on
   * every delta that would otherwise be dropped, so recovery never depends on
   * the event alone (uWS may flush a backlog without one).
   */
  private unlag(s: OwnedSession): boolean {
    const ws = s.socket;
    if (ws && ws.getBufferedAmount() >= this.d.cfg.lagBytes / 2) return false;
    s.lagging = false;
    this.toZone(s.id, ToZone.resync, null, 0, 0);
    return true;
  }

  // ================================================================ inputs

  private onInput(ws: Socket, u: SocketData, conn: CoreConn, s: OwnedSession, m: ClientMessage, type: number, bytes: Uint8Array, offset: number, length: number): void {
    const seq = m.seq();
    if (seq <= s.inSeq) {
      this.d.metrics.duplicates.inc();
      return;
    }
    s.inSeq = seq;
    const now = performance.now();
    if (!s.inputBucket.take(now) || !this.d.admission.spendInput(u.ip, s.identity.accountId, type === ClientBody.Chat, now, conn.addressKey)) {
      this.d.metrics.inputsDropped.inc(InputDrop.rate);
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
      if (channel === ChatChannel.Whisper) return this.control.whisper(s.id, bytes, offset, length);
      if (channel === ChatChannel.System) return this.errorTo(s, ErrorCode.channelNotAllowed, 'players cannot send on System', seq);
    }
    if (s.inTransit) return this.hold(s, s.held, bytes, offset, length);
    if (!this.d.zones.send(s.zone, ToZone.input, s.id, bytes, offset, length)) this.d.metrics.inputsDropped.inc(this.d.zones.isUp(s.zone) ? InputDrop.zoneFull : InputDrop.noZone);
  }

  /** Keeps a copy of an input while the player crosses a portal (bounded: the oldest goes first). */
  private hold(s: OwnedSession, list: Uint8Array[], bytes: Uint8Array, offset: number, length: number): void {
    if (s.bounced.length + s.held.length >= this.d.cfg.heldInputsMax) {
      (s.bounced.length > 0 ? s.bounced : s.held).shift();
      this.d.metrics.inputsDropped.inc(InputDrop.inTransit);
    }
    list.push(bytes.slice(offset, offset + length));
  }

  private errorTo(s: OwnedSession, code: number, reason: string, refSeq: number): void {
    this.msg.error(code, reason, refSeq);
    this.out.stageBuilt(s, this.msg, false);
    this.out.schedule();
  }

  // ================================================================ zone records

  /**
   * A record from a zone's ring to this owner. Hot: output for the session's
   * next frame. The payload is valid only during the call.
   */
  zoneRecord(zone: number, type: number, session: number, data: Uint8Array, offset: number, length: number): void {
    const s = this.sessions.get(session);
    if (s === undefined || s.awaitingMoved) {
      if (type === FromZone.moved) return this.onMoved(session);
      const early = s !== undefined ? s.early : this.expected.get(session);
      if (early !== undefined) {
        early.push(recordCopy(zone, type, data, offset, length));
        return;
      }
      // Records the service handles reach it whoever owns the session now (a left after an end).
      if (isServiceRecord(type)) return this.control.zoneRecord(zone, type, session, data, offset, length);
      this.strays++;
      return;
    }
    switch (type) {
      case FromZone.outDelta:
        if (s.socket === null) {
          // Nobody reads a zombie's positions until it resumes, and then a Snapshot supersedes
          // them all (resume sends one for a session that dropped deltas): they are not kept for
          // replay. Kept, every dropped session held up to sessions.replayMaxBytes of pool pages
          // for zombieTtlMs, which an attacker dropping guest sessions turned into 128 MiB of pool.
          s.lagging = true;
          this.d.metrics.coalesced.inc();
          return;
        }
        if (s.lagging && !this.unlag(s)) {
          this.d.metrics.coalesced.inc();
          return;
        }
        this.out.link(s, this.out.store(data, offset, length), false);
        return;
      case FromZone.out:
        this.out.link(s, this.out.store(data, offset, length), false);
        return;
      case FromZone.outUnsequenced:
        if (s.socket !== null) this.out.link(s, this.out.store(data, offset, length), true);
        return;
      case FromZone.joined:
        this.onJoined(s, zone, data, offset);
        return this.control.zoneRecord(zone, type, session, data, offset, length);
      case FromZone.handoff:
        this.onHandoff(s, zone);
        return this.control.zoneRecord(zone, type, session, data, offset, length);
      case FromZone.bounce:
        if (s.inTransit && zone === s.fenceZone) return this.hold(s, s.bounced, data, offset, length);
        // Bounced by a zone the player is not in: send it where the player is.
        if (zone !== s.zone && !s.inTransit && this.d.zones.send(s.zone, ToZone.input, s.id, data, offset, length)) return;
        this.d.metrics.inputsDropped.inc(InputDrop.zoneFull);
        return;
      case FromZone.fenceAck:
        if (s.inTransit && zone === s.fenceZone) {
          s.fenceDone = true;
          this.release(s);
        }
        return;
      case FromZone.moved:
        return this.onMoved(session);
      default:
        return this.control.zoneRecord(zone, type, session, data, offset, length);
    }
  }

  /**
   * A record from the ring of an owner whose thread died, which this owner
   * drains now: older than anything the zone wrote here for the session, so
   * it is handled at once; its `moved` releases what was kept meanwhile.
   */
  oldOwnerRecord(zone: number, type: number, session: number, data: Uint8Array, offset: number, length: number): void {
    if (type === FromZone.moved) return this.onMoved(session);
    const s = this.sessions.get(session);
    if (s === undefined || !s.awaitingMoved) return this.zoneRecord(zone, type, session, data, offset, length);
    s.awaitingMoved = false;
    try {
      this.zoneRecord(zone, type, session, data, offset, length);
    } finally {
      s.awaitingMoved = true;
    }
  }

  /** Every zone's ring has been drained for this wake-up: time to flush. */
  drained(): void {
    this.flush();
  }

  /** Publishes the inputs written (so an ack never precedes its input's publication), then sends what is staged. */
  flush(): void {
    this.d.zones.commit();
    this.out.flush();
  }

  private onJoined(s: OwnedSession, zone: number, data: Uint8Array, offset: number): void {
    if (s.zone !== zone) return;
    s.entity = JoinedRecord.entity(data, offset);
    if (s.pendingWelcome) {
      s.pendingWelcome = false;
      this.stageWelcome(s, false, 0);
    }
    if (s.pendingZoneChanged) {
      s.pendingZoneChanged = false;
      const def = this.d.zoneNames[zone];
      this.msg.zoneChanged(def?.id ?? 0, def?.name ?? '', s.arrivalX, s.arrivalY);
      this.out.stageBuilt(s, this.msg, false);
    }
    if (s.socket === null) this.toZone(s.id, ToZone.linkDead, LINK_DEAD, 0, LinkDeadRecord.size);
  }

  /** The zone handed the player off through a portal: stop feeding it, fence it; the service names the next zone. */
  private onHandoff(s: OwnedSession, from: number): void {
    if (s.zone !== from) return;
    s.inTransit = true;
    s.fenceZone = from;
    s.fenceDone = false;
    s.targetKnown = false;
    if (!this.d.zones.send(from, ToZone.fence, s.id, null, 0, 0)) {
      // The zone cannot take the fence (its ring is full, or it went down): nothing more of it will come back.
      s.fenceDone = true;
    }
  }

  /** Both halves of a crossing are done: bounced inputs, then held ones, go to the new zone. */
  private release(s: OwnedSession): void {
    if (!s.inTransit || !s.fenceDone || !s.targetKnown) return;
    s.inTransit = false;
    s.fenceZone = -1;
    const z = s.zone;
    for (const list of [s.bounced, s.held]) {
      for (const b of list) if (!this.d.zones.send(z, ToZone.input, s.id, b, 0, b.length)) this.d.metrics.inputsDropped.inc(InputDrop.zoneFull);
      list.length = 0;
    }
    if (s.migrateTo >= 0) {
      const to = s.migrateTo;
      s.migrateTo = -1;
      this.migrate(s.id, to);
    }
  }

  // ================================================================ the service's calls (CorePort)

  login(conn: number, id: number, identity: OwnedIdentity, zone: number, token: Uint8Array, join: Uint8Array, joinOffset: number, joinLength: number): void {
    const ws = this.conns.get(conn);
    const s = this.create(id, identity, zone, token);
    if (ws && ws.getUserData().open) this.bind(s, ws);
    s.pendingWelcome = true;
    if (!this.d.zones.send(zone, ToZone.join, id, join, joinOffset, joinLength)) {
      this.d.log.error({ session: id, zone }, 'zone ring full: join not sent');
    }
  }

  resume(conn: number, id: number, lastSeq: number, token: Uint8Array): void {
    const s = this.sessions.get(id);
    const ws = this.conns.get(conn);
    if (!s || !ws || !ws.getUserData().open) return;
    // What is staged becomes frames in the replay buffer before the socket is bound: sent now, a frame
    // would reach the client before its Welcome and make the client skip the replayed frames before it.
    this.out.flushOne(s);
    this.takeSocket(s, ws, 'the session resumed on another connection');
    s.token = token;
    s.confirmPending = true;
    // Deltas dropped while it lagged or was a zombie: the replay below lacks them, a Snapshot follows it.
    const owesSnapshot = s.lagging;
    s.replay.setByteCap(Infinity);
    s.lagging = false;
    this.toZone(id, ToZone.linkDead, LINK_BACK, 0, LinkDeadRecord.size);
    const replay = s.replay;
    replay.expire(performance.now());
    if (s.seqUnknown) {
      // Adopted without its frames (its thread died): continue the client's numbering, and give it a snapshot.
      s.seqUnknown = false;
      if (lastSeq > s.outSeq) s.outSeq = lastSeq;
      replay.clear();
    }
    if (lastSeq <= s.outSeq && replay.covers(lastSeq, s.outSeq)) {
      const n = s.outSeq - lastSeq;
      this.stageWelcome(s, true, n);
      this.out.flush();
      replay.forEachAfter(lastSeq, (bytes, offset, length) => this.out.sendFrame(s, ws, bytes, offset, length, 1));
      replay.ackThrough(lastSeq);
      if (lastSeq > s.clientSeq) s.clientSeq = lastSeq;
      this.d.metrics.resumeOutcome.inc(ResumeOutcome.replayed);
      this.d.metrics.replayedFrames.inc(0, n);
      if (owesSnapshot) this.toZone(id, ToZone.resync, null, 0, 0);
    } else {
      // The gap no longer fits: a fresh snapshot replaces what was missed.
      this.stageWelcome(s, true, 0);
      this.out.flush();
      replay.clear();
      s.clientSeq = s.outSeq;
      this.toZone(id, ToZone.resync, null, 0, 0);
      this.d.metrics.resumeOutcome.inc(ResumeOutcome.snapshot);
    }
  }

  takeover(conn: number, id: number, token: Uint8Array): void {
    const s = this.sessions.get(id);
    const ws = this.conns.get(conn);
    if (!s || !ws || !ws.getUserData().open) return;
    this.takeSocket(s, ws, 'another login to this account took over the session');
    s.token = token;
    s.confirmPending = false;
    s.seqUnknown = false;
    s.replay.setByteCap(Infinity);
    // A new client numbers its inputs from 1 and has seen no frame.
    s.inSeq = 0;
    s.ackSent = 0;
    s.clientSeq = s.outSeq;
    s.replay.clear();
    s.lagging = false;
    this.toZone(id, ToZone.linkDead, LINK_BACK, 0, LinkDeadRecord.size);
    this.stageWelcome(s, false, 0);
    this.toZone(id, ToZone.resync, null, 0, 0);
    this.out.schedule();
  }

  end(id: number, code: number, reason: CloseReasonIndex, text: string): void {
    const s = this.sessions.get(id) ?? this.adopting.get(id);
    this.expected.delete(id);
    if (!s) {
      // Not here (any more): the service still waits for the zone's answer.
      this.control.zoneRecord(-1, FromZone.left, id, EMPTY, 0, 0);
      return;
    }
    const ws = this.unbind(s);
    this.forget(s);
    if (ws && code !== 0) this.kick(ws, code, text, reason);
    if (!this.d.zones.send(s.zone, ToZone.leave, id, null, 0, 0)) this.control.zoneRecord(s.zone, FromZone.left, id, EMPTY, 0, 0);
  }

  stage(id: number, bytes: Uint8Array, offset: number, length: number, unsequenced: boolean): void {
    const s = this.sessions.get(id);
    if (!s) return;
    if (unsequenced && s.socket === null) return;
    this.out.link(s, this.out.store(bytes, offset, length), unsequenced);
    this.out.schedule();
  }

  toZone(id: number, type: number, bytes: Uint8Array | null, offset: number, length: number): void {
    const s = this.sessions.get(id);
    if (s) this.d.zones.send(s.zone, type, id, bytes, offset, length);
  }

  moveZone(id: number, zone: number, x: number, y: number, join: Uint8Array, offset: number, length: number): void {
    const s = this.sessions.get(id);
    if (!s) return;
    if (!s.inTransit) {
      // Handed off without this owner seeing it first (the old zone restarted meanwhile): nothing to fence.
      s.inTransit = true;
      s.fenceDone = true;
      s.fenceZone = s.zone;
    }
    s.pendingZoneChanged = zone !== s.fenceZone;
    s.arrivalX = x;
    s.arrivalY = y;
    s.zone = zone;
    s.targetKnown = true;
    if (!this.d.zones.send(zone, ToZone.join, id, join, offset, length)) this.d.log.error({ session: id, zone }, 'zone ring full: join not sent');
    this.release(s);
  }

  rejoin(id: number, join: Uint8Array, offset: number, length: number): void {
    const s = this.sessions.get(id);
    if (!s) return;
    if (!this.d.zones.send(s.zone, ToZone.join, id, join, offset, length)) this.d.log.error({ session: id, zone: s.zone }, 'zone ring full: rejoin not sent');
  }

  rejoinBarrier(zone: number): void {
    this.d.zones.commit();
    this.control.rejoined(zone);
  }

  mute(id: number, on: boolean): void {
    const s = this.sessions.get(id);
    if (s) s.muted = on;
  }

  fencesLost(zone: number): void {
    for (const s of this.sessions.values()) {
      if (s.inTransit && s.fenceZone === zone && !s.fenceDone) {
        s.fenceDone = true;
        this.release(s);
      }
    }
  }

  // ================================================================ migration

  migrate(id: number, to: number): void {
    const s = this.sessions.get(id);
    if (!s) {
      // Gone meanwhile: the service learns it from the zone's left.
      return;
    }
    if (s.inTransit) {
      s.migrateTo = to;
      return;
    }
    if (s.migrating) return;
    s.migrating = true;
    const ws = this.unbind(s);
    if (ws) this.kick(ws, CloseCode.takenOver, 'the session continues on another connection', CloseReason.takenOver);
    // After every input this owner wrote to the zone: the zone answers `moved` as its last record here.
    if (!this.d.zones.send(s.zone, ToZone.rebind, id, rebindTo(to), 0, RebindRecord.size)) {
      // The zone cannot be told (down, or its ring full): nothing more of it comes here; export now.
      this.onMoved(id);
    }
  }

  /** The zone will write nothing more about `id` here: export it (old owner) or release what was kept (new owner). */
  private onMoved(id: number): void {
    const s = this.sessions.get(id);
    if (!s) return;
    if (s.awaitingMoved) {
      s.awaitingMoved = false;
      this.replayEarly(s, s.early);
      return;
    }
    if (!s.migrating) return;
    this.exportSession(s);
  }

  expect(id: number): void {
    if (!this.sessions.has(id) && !this.expected.has(id)) this.expected.set(id, []);
  }

  cancel(id: number): void {
    this.expected.delete(id);
    const s = this.adopting.get(id);
    if (s) this.forget(s);
  }

  /** Writes `s` out as SessionExport records (ControlPort.exported) and forgets it. */
  exportSession(s: OwnedSession): void {
    this.out.flushOne(s);
    const c = this.control;
    const begin = encodeBegin(s);
    c.exported(SessionExport.begin, s.id, begin, 0, begin.length);
    s.replay.forEachAfter(s.replay.oldest - 1, (bytes, offset, length, seq) => {
      if (this.exportBuf.length < length + FRAME_HEADER) this.exportBuf = new Uint8Array(length + FRAME_HEADER);
      const n = encodeFrame(this.exportBuf, seq, bytes, offset, length);
      c.exported(SessionExport.frame, s.id, this.exportBuf, 0, n);
    });
    for (const list of [s.bounced, s.held]) {
      for (const b of list) {
        const rec = encodeHeld(b, list === s.bounced);
        c.exported(SessionExport.held, s.id, rec, 0, rec.length);
      }
    }
    c.exported(SessionExport.end, s.id, EMPTY, 0, 0);
    this.forget(s);
  }

  /** Exports every session (this owner's thread is dying: the main thread parks them). */
  exportAll(): number {
    let n = 0;
    for (const s of [...this.sessions.values()]) {
      this.unbind(s);
      this.exportSession(s);
      n++;
    }
    return n;
  }

  adopt(type: number, id: number, data: Uint8Array, offset: number, length: number): void {
    switch (type) {
      case SessionExport.begin: {
        const e = decodeBegin(data, offset, length);
        if (!e) return;
        const s = this.newSession(id, { name: e.name, accountId: e.accountId, guest: e.guest }, e.zone, e.token);
        s.entity = e.entity;
        s.inSeq = e.inSeq;
        s.outSeq = e.outSeq;
        s.clientSeq = e.clientSeq;
        s.ackSent = e.ackSent;
        s.lagging = e.lagging;
        s.muted = e.muted;
        s.seqUnknown = e.seqUnknown;
        s.confirmPending = e.confirmPending;
        s.inTransit = e.inTransit;
        s.fenceZone = e.fenceZone;
        s.fenceDone = e.fenceDone;
        s.targetKnown = e.targetKnown;
        s.pendingWelcome = e.pendingWelcome;
        s.pendingZoneChanged = e.pendingZoneChanged;
        s.arrivalX = e.arrivalX;
        s.arrivalY = e.arrivalY;
        this.adopting.set(id, s);
        return;
      }
      case SessionExport.frame: {
        const s = this.adopting.get(id);
        if (!s || length < FRAME_HEADER) return;
        s.replay.push(frameSeq(data, offset), data.subarray(offset + FRAME_HEADER, offset + length), performance.now());
        return;
      }
      case SessionExport.held: {
        const s = this.adopting.get(id);
        if (!s || length < HELD_HEADER) return;
        (heldWasBounced(data, offset) ? s.bounced : s.held).push(data.slice(offset + HELD_HEADER, offset + length));
        return;
      }
      case SessionExport.end: {
        const s = this.adopting.get(id);
        if (!s) return;
        this.adopting.delete(id);
        this.sessions.set(id, s);
        if (s.inSeq > s.ackSent) this.out.owesAck(s, performance.now());
        const early = this.expected.get(id);
        this.expected.delete(id);
        if (early) this.replayEarly(s, early);
        return;
      }
    }
  }

  /**
   * Parks a session of a thread that died without exporting it (or whose
   * export did not arrive): its frames are lost, so its resume gets a
   * snapshot numbered after what the client saw. Then claim() it.
   */
  park(id: number, identity: OwnedIdentity, zone: number, entity: number, token: Uint8Array): void {
    if (this.sessions.has(id)) return;
    const s = this.create(id, identity, zone, token);
    s.entity = entity;
    s.seqUnknown = true;
    s.lagging = true;
  }

  /**
   * Session `id`, here now, was its dead owner's: its zone is told to write
   * to this owner's ring (a rebind on it), and the zone's records that come
   * here are kept until its `moved` is read from the dead owner's ring,
   * which this owner drains (oldOwnerRecord).
   */
  claim(id: number): void {
    const s = this.sessions.get(id);
    if (!s) return;
    s.awaitingMoved = true;
    this.d.zones.send(s.zone, ToZone.rebind, id, rebindTo(this.d.owner), 0, RebindRecord.size);
  }

  /** Sessions adopted from a dead owner whose zone has not yet answered `moved`. */
  awaitingMoved(): number {
    let n = 0;
    for (const s of this.sessions.values()) if (s.awaitingMoved) n++;
    return n;
  }

  /** Gives up waiting for those answers (the dead owner's thread restarts): what was kept is handled now. */
  stopAwaiting(): void {
    for (const s of this.sessions.values()) {
      if (!s.awaitingMoved) continue;
      s.awaitingMoved = false;
      this.replayEarly(s, s.early);
    }
  }

  private replayEarly(s: OwnedSession, early: Uint8Array[]): void {
    for (const r of early) this.zoneRecord(get16(r, 0), get16(r, 2), s.id, r, EARLY_HEADER, r.length - EARLY_HEADER);
    early.length = 0;
    this.out.schedule();
  }

  // ================================================================ helpers

  private newSession(id: number, identity: OwnedIdentity, zone: number, token: Uint8Array): OwnedSession {
    return new OwnedSession(id, identity, zone, token, new ReplayBuffer(this.d.pool, this.d.cfg.replay), this.d.cfg.limits, performance.now());
  }

  private create(id: number, identity: OwnedIdentity, zone: number, token: Uint8Array): OwnedSession {
    const s = this.newSession(id, identity, zone, token);
    this.sessions.set(id, s);
    return s;
  }

  private bind(s: OwnedSession, ws: Socket): void {
    s.socket = ws;
    (ws.getUserData().attachment as CoreConn).session = s;
  }

  /** Parts `s` from its socket, if it has one (which then carries no session); returns that socket. */
  private unbind(s: OwnedSession): Socket | null {
    const ws = s.socket;
    if (ws === null) return null;
    const conn = ws.getUserData().attachment as CoreConn | null;
    if (conn && conn.session === s) conn.session = null;
    s.socket = null;
    return ws;
  }

  /** Binds `ws` to `s`, telling a previous socket why it lost the session. */
  private takeSocket(s: OwnedSession, ws: Socket, why: string): void {
    const prev = s.socket;
    if (prev && prev !== ws) {
      this.unbind(s);
      this.kick(prev, CloseCode.takenOver, why, CloseReason.takenOver);
    }
    this.bind(s, ws);
  }

  /** Drops `s` from this owner: its staged messages and replay frames go. */
  private forget(s: OwnedSession): void {
    s.gone = true;
    s.socket = null;
    s.replay.clear();
    s.bounced.length = 0;
    s.held.length = 0;
    if (this.sessions.get(s.id) === s) this.sessions.delete(s.id);
    if (this.adopting.get(s.id) === s) this.adopting.delete(s.id);
  }

  private stageWelcome(s: OwnedSession, resumed: boolean, replayed: number): void {
    const def = this.d.zoneNames[s.zone];
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
    this.out.stageBuilt(s, this.msg, true);
  }

  /** Tells a socket why (Kicked), then closes it with `code`. */
  kick(ws: Socket, code: number, reason: string, closeReason: CloseReasonIndex): void {
    this.refusals.kick(ws, code, reason, closeReason);
  }

  private refuse(ws: Socket, metric: RejectedIndex, code: number, reason: string, detail: string): void {
    this.refusals.refuse(ws, metric, code, reason, detail);
  }
}

/** Records of a zone the service handles (the owner forwards them). */
function isServiceRecord(type: number): boolean {
  return (
    type === FromZone.joined ||
    type === FromZone.joinFailed ||
    type === FromZone.left ||
    type === FromZone.state ||
    type === FromZone.handoff ||
    type === FromZone.writeThrough ||
    type === FromZone.reconciled
  );
}

/** A zone record kept for later: u16 zone | u16 type | payload. Cold path (a session moving between owners). */
const EARLY_HEADER = 4;
function recordCopy(zone: number, type: number, data: Uint8Array, offset: number, length: number): Uint8Array {
  const r = new Uint8Array(EARLY_HEADER + length);
  put16(r, 0, zone);
  put16(r, 2, type);
  r.set(data.subarray(offset, offset + length), EARLY_HEADER);
  return r;
}

/** A ToZone.rebind payload. Cold path (a session moving). */
function rebindTo(owner: number): Uint8Array {
  const d = new Uint8Array(RebindRecord.size);
  RebindRecord.write(d, 0, owner);
  return d;
}

