// A lean bot: the SDK bot's player (loadtest/swarm/bot.ts) without the SDK.
// It walks toward waypoints at a legal speed, attacks what is near (and loots),
// chats on every channel, pings for the round trip, acknowledges frames about
// once a second, and on a lost socket resumes its session with its token and
// the last seq it processed, re-sending the moves the server had not
// acknowledged (paced as they were walked). It counts gaps and duplicates in the frames' seq, and the
// same counters as the SDK bots, into its worker's Counters.
//
// What it gives up: a world model. It knows its own position (from the
// server's SelfState, Snapshot.self, Respawn, ZoneChanged and MoveRejected)
// and, when an attack is due, picks the nearest entity from the next Delta's
// enters and updates instead of from a model. Sends go out once per wheel
// step, gathered (LeanConn.flush).

import { ClientMessageBuilder } from '../../src/protocol/build.js';
import { isRetryable } from '../../src/protocol/close-codes.js';
import { MoveReject } from '../../src/protocol/codes.js';
import { PROTOCOL_VERSION } from '../../src/protocol/version.js';
import { ServerBody } from '../../src/protocol/generated/mmo/server-body.js';
import { ChatChannel } from '../../src/protocol/generated/mmo/chat-channel.js';
import { EntityKind } from '../../src/protocol/generated/mmo/entity-kind.js';
import { InteractAction } from '../../src/protocol/generated/mmo/interact-action.js';
import { fullJitterDelay, retryHintFromReason } from '../../src/client/backoff.js';
import type { BotHost } from '../swarm/bot.js';
import type { SwarmBot } from '../swarm/worker.js';
import { LeanConn, type ConnOwner, type ConnTarget } from './conn.js';
import { FramePeek } from './peek.js';

/** One builder and one peek per worker thread (bots of a thread run one at a time). */
const builder = new ClientMessageBuilder();
const peek = new FramePeek();
const CHAT_LINES = [
  'anyone seen the bears near the river?',
  'lf group for wolves',
  'selling pelts, cheap',
  'brb',
  'that wall is in the way again',
  'gg',
  'how do I get to Stonereach?',
  'heal pls',
].map((s) => new TextEncoder().encode(s));
/** Unacknowledged moves kept for a resume (a power of two; the SDK keeps 256 inputs of any kind). */
const MOVE_RING = 64;
/** No data for this long: the link is dead (the SDK's silenceTimeoutMs). */
const SILENCE_MS = 10_000;
const ACK_EVERY_MS = 1000;
const Q = 1 / 16; // wire position unit

type Phase = 'connecting' | 'playing' | 'closed';

export class LeanBot implements SwarmBot, ConnOwner {
  phase: Phase = 'connecting';
  /** Welcomed on a live socket. */
  connected = false;
  readonly client = this;
  readonly name: string;
  private readonly nameBytes: Uint8Array;
  private whisperTo: Uint8Array;
  private readonly conn: LeanConn;

  // Session.
  private sessionId = 0;
  private entityId = 0;
  private readonly token = new Uint8Array(64);
  private tokenLen = 0;
  private lastSeq = 0;
  private ackedOut = 0;
  private ackedAt = 0;
  private ackIn = 0;
  private nextInput = 1;
  private readonly moveSeq = new Float64Array(MOVE_RING);
  private readonly moveX = new Float64Array(MOVE_RING);
  private readonly moveY = new Float64Array(MOVE_RING);
  private moveHead = 0;
  /** After a resume: the unacknowledged moves still to re-send, [resendAt, resendEnd) of the ring, one per step. */
  private resendAt = 0;
  private resendEnd = 0;
  private attempt = 0;
  private reconnecting = false;
  private leaving = false;
  private droppedAt = 0;
  private startedAt = 0;
  private heardAt = 0;
  private silenced = false;
  private timer: NodeJS.Timeout | null = null;

  // Movement and fighting.
  private positioned = false;
  private dead = false;
  private px = 0;
  private py = 0;
  private wx = 0;
  private wy = 0;
  private lastMoveAt = 0;
  private huntUntil = 0;
  private hunting = false;
  private tx = 0;
  private ty = 0;
  private orbit = 0;
  /** An attack is due: look at the next Delta for a target. */
  private wantTarget = false;
  private wantPlayer = false;
  /** Chosen from a Delta, sent at the next step. */
  private pendingAttack = 0;
  private pendingLoot = 0;

  private nextPingAt = 0;
  private nextChatAt = 0;
  private nextAttackAt = 0;
  private pingT = 0;

  constructor(
    private readonly host: BotHost,
    readonly index: number,
    target: ConnTarget,
    localAddress: string | undefined,
  ) {
    this.name = `${host.behaviour.namePrefix}${index}`;
    this.nameBytes = new TextEncoder().encode(this.name);
    this.whisperTo = new TextEncoder().encode(`${host.behaviour.namePrefix}${Math.max(0, index - 1)}`);
    this.conn = new LeanConn(this, target, localAddress, () => host.random());
  }

  start(): void {
    const b = this.host.behaviour;
    const now = performance.now();
    this.startedAt = now;
    this.nextPingAt = now + this.host.random() * b.pingIntervalMs;
    this.nextChatAt = now + this.host.random() * b.chatIntervalMs * 2;
    this.nextAttackAt = now + this.host.random() * b.attackIntervalMs;
    this.open();
  }

  leave(): void {
    if (this.phase === 'closed') return;
    this.leaving = true;
    this.host.counters.leaves++;
    this.clearTimer();
    this.conn.close(1000);
    this.finish();
  }

  drop(kill: boolean): boolean {
    if (this.phase !== 'playing' || !this.connected) return false;
    this.droppedAt = performance.now();
    this.host.counters.plannedDrops++;
    if (kill) this.conn.kill();
    return true;
  }

  /** No world model to audit: the full SDK bots of the run do that. */
  audit(): void {}

  step(now: number): void {
    if (this.phase !== 'playing' || !this.connected) return;
    const b = this.host.behaviour;
    if (now - this.heardAt > SILENCE_MS) {
      this.silenced = true;
      this.conn.kill();
      return;
    }
    if (this.resendAt < this.resendEnd) {
      // Re-walk the moves the server lost, at the pace they were made: sent together they
      // would cover seconds of walking at once (a speed refusal). No other input meanwhile:
      // a later seq accepted first would make the server drop these as duplicates.
      const r = this.resendAt++ & (MOVE_RING - 1);
      this.send(builder.move(this.moveSeq[r]!, this.moveX[r]!, this.moveY[r]!));
      this.lastMoveAt = now;
    } else {
      if (this.positioned && !this.dead) this.walk(now, b.speed, b.maxStep, b.reach);
      this.inputs(now);
    }
    if (now >= this.nextPingAt) {
      this.nextPingAt = now + b.pingIntervalMs * (0.75 + 0.5 * this.host.random());
      this.host.counters.pings++;
      this.pingT = now;
      this.send(builder.ping(now));
    }
    if (this.lastSeq > this.ackedOut && now - this.ackedAt >= ACK_EVERY_MS) {
      this.ackedAt = now;
      this.ackedOut = this.lastSeq;
      this.send(builder.ack(this.lastSeq));
    }
    this.conn.flush();
  }

  /** Attacks, loot and chat due at this step. */
  private inputs(now: number): void {
    const b = this.host.behaviour;
    const k = this.host.counters;
    if (this.pendingLoot !== 0) {
      this.send(builder.interact(this.nextInput++, this.pendingLoot, InteractAction.Loot));
      k.interacts++;
      this.pendingLoot = 0;
    } else if (this.pendingAttack !== 0) {
      this.send(builder.attack(this.nextInput++, this.pendingAttack));
      k.attacks++;
      this.pendingAttack = 0;
    }
    if (now >= this.nextAttackAt) {
      this.nextAttackAt = now + b.attackIntervalMs * (0.5 + this.host.random());
      if (!this.dead) {
        this.wantTarget = true;
        this.wantPlayer = this.host.random() < b.pvpShare;
      }
    }
    if (now >= this.nextChatAt) {
      this.nextChatAt = now + b.chatIntervalMs * (0.5 + this.host.random());
      this.talk();
    }
  }

  // ------------------------------------------------------------ behaviour

  private walk(now: number, speed: number, maxStep: number, reach: number): void {
    if (this.hunting) {
      if (now > this.huntUntil) {
        this.hunting = false;
        this.pickWaypoint();
      } else {
        this.orbit += 0.6;
        this.wx = this.tx + Math.cos(this.orbit) * reach * 0.6;
        this.wy = this.ty + Math.sin(this.orbit) * reach * 0.6;
      }
    }
    const dx = this.wx - this.px;
    const dy = this.wy - this.py;
    const dist = Math.sqrt(dx * dx + dy * dy);
    if (dist <= 0.05 || (!this.hunting && dist <= 1)) {
      if (!this.hunting) this.pickWaypoint();
      this.lastMoveAt = now;
      return;
    }
    const dt = Math.max(0, now - this.lastMoveAt) / 1000;
    this.lastMoveAt = now;
    const step = Math.min(speed * dt, maxStep, dist);
    if (step <= 0.01) return;
    this.px += (dx / dist) * step;
    this.py += (dy / dist) * step;
    const seq = this.nextInput++;
    const r = this.moveHead++ & (MOVE_RING - 1);
    this.moveSeq[r] = seq;
    this.moveX[r] = this.px;
    this.moveY[r] = this.py;
    this.send(builder.move(seq, this.px, this.py));
    this.host.counters.moves++;
  }

  private talk(): void {
    const r = this.host.random();
    const text = CHAT_LINES[Math.floor(this.host.random() * CHAT_LINES.length)]!;
    const b = this.host.behaviour;
    const seq = this.nextInput++;
    if (r < b.zoneChatShare) this.send(builder.chat(seq, ChatChannel.Zone, text));
    else if (r < b.zoneChatShare + b.globalChatShare) this.send(builder.chat(seq, ChatChannel.Global, text));
    else if (r < 0.9) this.send(builder.chat(seq, ChatChannel.Say, text));
    else this.send(builder.chat(seq, ChatChannel.Whisper, text, this.whisperTo));
    this.host.counters.chats++;
  }

  /** The nearest target in this Delta (enters carry kinds; updates are taken as foes of either kind). */
  private chooseTarget(t: number): void {
    this.wantTarget = false;
    const reach = this.host.behaviour.reach;
    const px = this.px;
    const py = this.py;
    let best = 0;
    let bestD = Infinity;
    let bx = 0;
    let by = 0;
    const en = peek.deltaEnters(t);
    const ne = peek.vectorLength(en);
    for (let i = 0; i < ne; i++) {
      const e = peek.enter(en, i);
      const id = peek.enterId(e);
      if (id === this.entityId || (peek.enterFlags(e) & 1) !== 0) continue;
      const x = peek.enterX(e) * Q;
      const y = peek.enterY(e) * Q;
      const d = Math.hypot(x - px, y - py);
      const kind = peek.enterKind(e);
      if (kind === EntityKind.Loot) {
        if (d <= reach) {
          this.pendingLoot = id;
          return;
        }
        continue;
      }
      if ((kind === EntityKind.Player) !== this.wantPlayer) continue;
      if (d < bestD) {
        bestD = d;
        best = id;
        bx = x;
        by = y;
      }
    }
    const up = peek.deltaUpdates(t);
    const nu = peek.vectorLength(up);
    for (let i = 0; i < nu; i++) {
      const id = peek.updateId(up, i);
      if (id === this.entityId || (peek.updateFlags(up, i) & 1) !== 0) continue;
      const x = peek.updateX(up, i) * Q;
      const y = peek.updateY(up, i) * Q;
      const d = Math.hypot(x - px, y - py);
      if (d < bestD) {
        bestD = d;
        best = id;
        bx = x;
        by = y;
      }
    }
    if (best === 0) return;
    if (bestD <= reach) this.pendingAttack = best;
    if (bestD < 40 && (!this.hunting || bestD <= reach)) {
      this.hunting = true;
      this.tx = bx;
      this.ty = by;
      this.huntUntil = performance.now() + 10_000 + this.host.random() * 10_000;
    }
  }

  private pickWaypoint(): void {
    const s = this.host.behaviour.zoneSize;
    if (this.host.random() < 0.8) {
      this.wx = clamp(this.px + (this.host.random() - 0.5) * 120, 32, s - 32);
      this.wy = clamp(this.py + (this.host.random() - 0.5) * 120, 32, s - 32);
    } else {
      this.wx = 32 + this.host.random() * (s - 64);
      this.wy = 32 + this.host.random() * (s - 64);
    }
  }

  private placeAt(x: number, y: number): void {
    this.px = x;
    this.py = y;
    this.positioned = true;
    this.hunting = false;
    this.lastMoveAt = performance.now();
    this.pickWaypoint();
  }

  // ------------------------------------------------------------ connection

  /** Queues the message the worker's builder just built (read from builder.bytes, not from the view it returned). */
  private send(_built: Uint8Array): void {
    const len = builder.length;
    if (this.conn.queue(builder.bytes, builder.start, len)) {
      this.host.counters.msgsOut++;
      this.host.counters.bytesOut += len;
    }
  }

  private open(): void {
    this.conn.connect();
    this.armTimer(this.host.behaviour.handshakeTimeoutMs, () => {
      this.timer = null;
      this.conn.kill();
    });
  }

  private armTimer(ms: number, fn: () => void): void {
    this.clearTimer();
    this.timer = setTimeout(fn, ms);
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  onConnOpen(): void {
    this.heardAt = performance.now();
    if (this.sessionId !== 0 && this.tokenLen > 0) this.send(builder.resume(PROTOCOL_VERSION, this.sessionId, this.token.subarray(0, this.tokenLen), this.lastSeq));
    else this.send(builder.hello(PROTOCOL_VERSION, null, this.nameBytes, 'mmo-loadtest lean bot'));
  }

  onConnClosed(code: number, reason: string, hintMs: number): void {
    this.connected = false;
    this.pingT = 0;
    if (this.phase === 'closed') return;
    const k = this.host.counters;
    if (this.silenced) {
      this.silenced = false;
      reason = 'no data from the server';
    }
    if (!isRetryable(code)) return this.giveUp(code);
    this.attempt++;
    if (this.attempt > this.host.behaviour.maxAttempts) return this.giveUp(code);
    const first = !this.reconnecting;
    this.reconnecting = true;
    if (this.droppedAt === 0 && this.phase === 'playing' && first) {
      k.unexpectedDisconnects++;
      const key = reason === 'no data from the server' ? `close:${code}:silence` : `close:${code}`;
      this.host.errorCodes[key] = (this.host.errorCodes[key] ?? 0) + 1;
    }
    const b = this.host.behaviour;
    const hint = Math.max(hintMs, code === 4200 ? retryHintFromReason(reason) : 0);
    this.armTimer(hint + fullJitterDelay(this.attempt - 1, b.backoffBaseMs, b.backoffCapMs, () => this.host.random()), () => {
      this.timer = null;
      if (this.phase !== 'closed') this.open();
    });
  }

  private giveUp(code: number): void {
    const k = this.host.counters;
    const was = this.phase;
    if (this.sessionId === 0) k.connectFailures++;
    else k.gaveUp++;
    this.host.errorCodes[`final:${code}`] = (this.host.errorCodes[`final:${code}`] ?? 0) + 1;
    if (was === 'playing' && !this.reconnecting && this.droppedAt === 0) k.unexpectedDisconnects++;
    this.finish();
  }

  private finish(): void {
    this.phase = 'closed';
    this.connected = false;
    this.clearTimer();
    this.host.retire(this);
  }

  onConnMessage(bytes: Buffer, offset: number, length: number, binary: boolean): void {
    if (this.phase === 'closed') return;
    const k = this.host.counters;
    k.msgsIn++;
    k.bytesIn += length;
    this.heardAt = performance.now();
    if (!binary || !peek.read(bytes, offset, length)) return this.malformed(binary ? 'malformed frame' : 'text frame');
    const seq = peek.seq;
    const ack = peek.ack;
    if (ack > this.ackIn) this.ackIn = ack;
    if (seq !== 0) {
      if (seq <= this.lastSeq) {
        k.seqDuplicates++;
        return;
      }
      if (this.host.behaviour.checkSeq && this.lastSeq !== 0 && seq > this.lastSeq + 1) k.seqGaps++;
    }
    const n = peek.count;
    for (let i = 0; i < n; i++) {
      this.onBody(peek.type(i), peek.body(i));
      if (peek.bad) return this.malformed('malformed frame');
    }
    if (seq !== 0 && this.connected) this.lastSeq = seq;
  }

  private malformed(reason: string): void {
    this.host.counters.malformedFrames++;
    this.host.errorCodes[`lean:${reason}`] = (this.host.errorCodes[`lean:${reason}`] ?? 0) + 1;
    this.conn.kill();
  }

  private onBody(type: number, t: number): void {
    const k = this.host.counters;
    switch (type) {
      case ServerBody.Delta: {
        const dm = peek.vectorLength(peek.deltaDamages(t));
        if (dm > 0) k.damageSeen += dm;
        const dv = peek.deltaDeaths(t);
        const nd = peek.vectorLength(dv);
        for (let i = 0; i < nd; i++) {
          k.deaths++;
          if (peek.deathEntity(dv, i) === this.entityId) this.dead = true;
        }
        if (this.wantTarget && this.positioned) this.chooseTarget(t);
        return;
      }
      case ServerBody.SelfState:
        if (!this.positioned) this.placeAt(peek.selfX(t), peek.selfY(t));
        return;
      case ServerBody.Pong: {
        const ct = peek.pongClientTime(t);
        if (this.pingT !== 0 && ct === this.pingT) {
          this.pingT = 0;
          k.pongs++;
          this.host.rtt.recordValue(Math.max(1, Math.round((performance.now() - ct) * 1000)));
        }
        return;
      }
      case ServerBody.Welcome:
        return this.onWelcome(t);
      case ServerBody.Snapshot: {
        k.snapshots++;
        const s = peek.snapshotSelf(t);
        if (s !== 0) this.placeAt(peek.selfX(s), peek.selfY(s));
        return;
      }
      case ServerBody.ChatMessage:
        k.chatsReceived++;
        return;
      case ServerBody.MoveRejected: {
        const r = peek.rejectReason(t);
        if (r === MoveReject.obstacle) k.moveRejectedObstacle++;
        else if (r === MoveReject.dead || r === MoveReject.immobile) k.moveRejectedState++;
        else {
          k.moveRejectedIllegal++;
          this.host.errorCodes[`move:${r}`] = (this.host.errorCodes[`move:${r}`] ?? 0) + 1;
        }
        this.placeAt(peek.rejectX(t), peek.rejectY(t));
        return;
      }
      case ServerBody.Respawn:
        k.respawns++;
        this.dead = false;
        this.placeAt(peek.respawnX(t), peek.respawnY(t));
        return;
      case ServerBody.ZoneChanged:
        k.zoneChanges++;
        this.placeAt(peek.zoneX(t), peek.zoneY(t));
        return;
      case ServerBody.Error: {
        const c = peek.errorCode(t);
        if (c >= 100 && c < 400) k.gameRefusals++;
        else {
          k.serverErrors++;
          this.host.errorCodes[`error:${c}`] = (this.host.errorCodes[`error:${c}`] ?? 0) + 1;
        }
        return;
      }
      case ServerBody.Kicked: {
        const c = peek.kickedCode(t);
        k.kicked++;
        this.host.errorCodes[`kicked:${c}`] = (this.host.errorCodes[`kicked:${c}`] ?? 0) + 1;
        return;
      }
      case ServerBody.LevelUp:
        k.levelUps++;
        return;
      case ServerBody.ItemGained:
        k.items++;
        return;
      default:
        return;
    }
  }

  private onWelcome(t: number): void {
    const k = this.host.counters;
    const now = performance.now();
    const resumed = peek.welcomeResumed(t);
    const sid = peek.welcomeSession(t);
    const pid = peek.welcomePlayer(t);
    const n = peek.welcomeToken(t, this.token);
    if (n < 0) return this.malformed('resume token over 64 bytes');
    this.tokenLen = n;
    this.clearTimer();
    this.attempt = 0;
    this.reconnecting = false;
    if (resumed) {
      k.resumes++;
      k.replayed += peek.welcomeReplayed(t);
      if (this.droppedAt !== 0) {
        if (sid === this.sessionId && pid === this.entityId) {
          k.backOwn++;
          this.host.backTime.recordValue(Math.max(1, Math.round((now - this.droppedAt) * 1000)));
        } else k.lostSessions++;
        this.droppedAt = 0;
      }
    } else {
      if (this.sessionId !== 0) {
        k.lostSessions++;
        this.droppedAt = 0;
      } else {
        k.connects++;
        this.host.connectTime.recordValue(Math.max(1, Math.round((now - this.startedAt) * 1000)));
      }
      // A new session: frame numbering restarts; the position comes with its Snapshot.
      this.lastSeq = 0;
      this.ackedOut = 0;
      this.ackIn = 0;
      this.positioned = false;
      this.moveHead = 0;
      // Others' names follow the pattern of ours (the server may add a guest prefix).
      const name = peek.welcomeName(t);
      if (name !== '' && name !== this.name) this.whisperTo = new TextEncoder().encode(name.replace(this.name, `${this.host.behaviour.namePrefix}${Math.max(0, this.index - 1)}`));
    }
    this.sessionId = sid;
    this.entityId = pid;
    this.phase = 'playing';
    this.connected = true;
    this.lastMoveAt = now;
    // Moves the server has not acknowledged go again, in order, one per step (see step()).
    this.resendAt = this.resendEnd = this.moveHead;
    if (resumed) {
      let i = Math.max(0, this.moveHead - MOVE_RING);
      while (i < this.moveHead && this.moveSeq[i & (MOVE_RING - 1)]! <= this.ackIn) i++;
      this.resendAt = i;
    }
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
