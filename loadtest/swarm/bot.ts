// One bot: a player driven through the client SDK. It walks toward random
// waypoints at a legal speed, hunts and attacks NPCs (and now and then a
// player), loots, chats on every channel now and then, and pings to measure
// the round trip. It counts what happens to it into its worker's Counters.
//
// The bot does not own a timer: its worker calls step() for a slice of its
// bots every few tens of ms (a timer wheel), so 10,000 bots cost a handful of
// timers, not 10,000.

import { WebSocket as WsWebSocket } from 'ws';
import type { ByteBuffer } from 'flatbuffers';
import { connect, type MmoClient, type WebSocketConstructor, type WelcomeEvent } from '../../src/client/index.js';
import { ChatChannel, EntityKind, InteractAction } from '../../src/client/index.js';
import { MoveReject } from '../../src/protocol/codes.js';
import { ServerFrame } from '../../src/protocol/generated/mmo/server-frame.js';
import { binaryMessageBytes, rebindByteBuffer, reusableByteBuffer } from '../../src/protocol/read.js';
import type { Counters, Histogram } from './counters.js';

export interface BotBehaviour {
  /** A move every this many ms (the worker's wheel turns every stepMs; this is a multiple of it). */
  moveIntervalMs: number;
  /** Walking speed, units/s. The server allows 8 (+10 % tolerance); 6.4 stays clear of it under jitter. */
  speed: number;
  /** Longest single move, units (a late timer must not turn into a speed violation). */
  maxStep: number;
  /** Side of the zones (waypoints stay 32 units inside). */
  zoneSize: number;
  /** Mean ms between pings (each bot's first ping is at a random point in the first interval). */
  pingIntervalMs: number;
  /** Mean ms between chat lines. */
  chatIntervalMs: number;
  /**
   * Shares of chat lines on the zone and global channels (the rest: whisper
   * 10 %, say). Each such line reaches every player of the zone or server, so
   * the runner scales them to the swarm: about 2 zone and 1 global lines per
   * second in all, whatever the number of bots (a 10,000-player zone channel
   * with 15 % of all chat would be a million messages per second).
   */
  zoneChatShare: number;
  globalChatShare: number;
  /** Mean ms between looks for something to attack. */
  attackIntervalMs: number;
  /** Share of attacks aimed at players rather than NPCs. */
  pvpShare: number;
  /** Reach of an attack and of a loot pick-up (the server's attackRange / interactRange is 3). */
  reach: number;
  /** SDK reconnect backoff, ms. */
  backoffBaseMs: number;
  backoffCapMs: number;
  /** SDK: consecutive failed attempts before a bot gives up. */
  maxAttempts: number;
  handshakeTimeoutMs: number;
  /** Read each frame's seq to count gaps (a few field reads per frame). */
  checkSeq: boolean;
  /** Guest names are `${namePrefix}${index}` (1-10 letters, digits, _). */
  namePrefix: string;
}

export const DEFAULT_BEHAVIOUR: BotBehaviour = {
  moveIntervalMs: 250,
  speed: 6.4,
  maxStep: 2.5,
  zoneSize: 1024,
  pingIntervalMs: 2000,
  chatIntervalMs: 20_000,
  zoneChatShare: 0.15,
  globalChatShare: 0.05,
  attackIntervalMs: 2000,
  pvpShare: 0.2,
  reach: 2.5,
  backoffBaseMs: 250,
  backoffCapMs: 10_000,
  maxAttempts: 10,
  handshakeTimeoutMs: 10_000,
  checkSeq: true,
  namePrefix: 'b',
};

/** What a worker shares with its bots. */
export interface BotHost {
  readonly url: string;
  readonly behaviour: BotBehaviour;
  readonly counters: Counters;
  readonly errorCodes: Record<string, number>;
  readonly rtt: Histogram;
  readonly connectTime: Histogram;
  readonly backTime: Histogram;
  random(): number;
  /** The bot closed for good (left, or gave up): the worker forgets it. */
  retire(bot: { readonly index: number }): void;
}

const CHAT_LINES = [
  'anyone seen the bears near the river?',
  'lf group for wolves',
  'selling pelts, cheap',
  'brb',
  'that wall is in the way again',
  'gg',
  'how do I get to Stonereach?',
  'heal pls',
];

type Phase = 'connecting' | 'playing' | 'closed';

export class Bot {
  readonly name: string;
  client: MmoClient | null = null;
  phase: Phase = 'connecting';
  /** Session and player of the first Welcome: a resume must bring these back. */
  sessionId = 0;
  entityId = 0;
  /** The name the server gave us (a guest prefix may be added); others' names follow the same pattern. */
  serverName = '';
  /** performance.now() of the planned drop being recovered from, or 0. */
  droppedAt = 0;
  private startedAt = 0;
  /** Between a lost socket and the next Welcome. */
  private reconnecting = false;
  private malformedSeen = 0;
  private socket: WsWebSocket | null = null;
  private leaving = false;

  // Movement.
  private positioned = false;
  private dead = false;
  private px = 0;
  private py = 0;
  private wx = 0;
  private wy = 0;
  private lastMoveAt = 0;
  private huntId = 0;
  private huntUntil = 0;
  /** Angle around a hunted target: fighters keep circling it, so moves keep flowing. */
  private orbit = 0;

  // Timers of the wheel (performance.now() ms).
  private nextPingAt = 0;
  private nextChatAt = 0;
  private nextAttackAt = 0;

  private readonly bb: ByteBuffer = reusableByteBuffer();
  private readonly frame = new ServerFrame();

  constructor(
    private readonly host: BotHost,
    readonly index: number,
    private readonly localAddress: string | undefined,
  ) {
    this.name = `${host.behaviour.namePrefix}${index}`;
  }

  start(): void {
    const b = this.host.behaviour;
    const now = performance.now();
    this.startedAt = now;
    this.nextPingAt = now + this.host.random() * b.pingIntervalMs;
    this.nextChatAt = now + this.host.random() * b.chatIntervalMs * 2;
    this.nextAttackAt = now + this.host.random() * b.attackIntervalMs;
    const c = connect(this.host.url, {
      guestName: this.name,
      clientName: 'mmo-loadtest bot',
      backoffBaseMs: b.backoffBaseMs,
      backoffCapMs: b.backoffCapMs,
      maxAttempts: b.maxAttempts,
      handshakeTimeoutMs: b.handshakeTimeoutMs,
      WebSocket: this.socketFactory(),
      random: () => this.host.random(),
      ...(this.localAddress ? { localAddress: this.localAddress } : {}),
    });
    this.client = c;
    this.listen(c);
  }

  /** Leaves the game cleanly (soak and churn departures). */
  leave(): void {
    if (this.phase === 'closed') return;
    this.leaving = true;
    this.host.counters.leaves++;
    this.client?.close();
  }

  /**
   * Kills the socket without a close frame, as a network failure would; the
   * SDK then resumes. kill=false: only record that a drop made elsewhere (a
   * proxy cut) is planned. Returns whether a live socket was dropped.
   */
  drop(kill: boolean): boolean {
    const s = this.socket;
    if (this.phase !== 'playing' || !this.client?.connected || !s) return false;
    this.droppedAt = performance.now();
    this.host.counters.plannedDrops++;
    if (kill) s.terminate();
    return true;
  }

  /** Counts other entities that carry this bot's own name: a duplicate player left behind by a resume. */
  audit(): void {
    const c = this.client;
    if (!c || !c.connected || this.serverName === '') return;
    for (const e of c.entities.values()) {
      if (e.id !== c.entityId && e.kind === EntityKind.Player && e.name === this.serverName) this.host.counters.duplicateSelf++;
    }
  }

  /** One turn of the wheel for this bot: move, and whatever else is due. */
  step(now: number): void {
    const c = this.client;
    if (!c || this.phase !== 'playing' || !c.connected) return;
    const b = this.host.behaviour;
    if (this.positioned && !this.dead) this.walk(c, now, b);
    if (now >= this.nextAttackAt) {
      this.nextAttackAt = now + b.attackIntervalMs * (0.5 + this.host.random());
      if (!this.dead) this.fight(c);
    }
    if (now >= this.nextChatAt) {
      this.nextChatAt = now + b.chatIntervalMs * (0.5 + this.host.random());
      this.talk(c);
    }
    if (now >= this.nextPingAt) {
      this.nextPingAt = now + b.pingIntervalMs * (0.75 + 0.5 * this.host.random());
      this.host.counters.pings++;
      c.ping().then(
        (ms) => {
          this.host.counters.pongs++;
          this.host.rtt.recordValue(Math.max(1, Math.round(ms * 1000)));
        },
        () => undefined, // lost with its socket: not a latency
      );
    }
  }

  // ------------------------------------------------------------ behaviour

  private walk(c: MmoClient, now: number, b: BotBehaviour): void {
    if (this.huntId !== 0) {
      const t = c.entities.get(this.huntId);
      if (!t || (t.flags & 1) !== 0 || now > this.huntUntil) {
        this.huntId = 0;
        this.pickWaypoint();
      } else {
        // A point on a small circle around the target: close enough to hit, never standing still.
        this.orbit += 0.6;
        this.wx = t.x + Math.cos(this.orbit) * b.reach * 0.6;
        this.wy = t.y + Math.sin(this.orbit) * b.reach * 0.6;
      }
    }
    const dx = this.wx - this.px;
    const dy = this.wy - this.py;
    const dist = Math.sqrt(dx * dx + dy * dy);
    if (dist <= 0.05 || (this.huntId === 0 && dist <= 1)) {
      if (this.huntId === 0) this.pickWaypoint();
      this.lastMoveAt = now;
      return;
    }
    const dt = Math.max(0, now - this.lastMoveAt) / 1000;
    this.lastMoveAt = now;
    const step = Math.min(b.speed * dt, b.maxStep, dist);
    if (step <= 0.01) return;
    this.px += (dx / dist) * step;
    this.py += (dy / dist) * step;
    c.move(this.px, this.py);
    this.host.counters.moves++;
  }

  private fight(c: MmoClient): void {
    const b = this.host.behaviour;
    const wantPlayer = this.host.random() < b.pvpShare;
    let best = 0;
    let bestD = Infinity;
    let loot = 0;
    let lootD = Infinity;
    for (const e of c.entities.values()) {
      if (e.id === c.entityId || (e.flags & 1) !== 0) continue;
      const d = Math.hypot(e.x - this.px, e.y - this.py);
      if (e.kind === EntityKind.Loot) {
        if (d < lootD) {
          lootD = d;
          loot = e.id;
        }
        continue;
      }
      if ((e.kind === EntityKind.Player) !== wantPlayer) continue;
      if (d < bestD) {
        bestD = d;
        best = e.id;
      }
    }
    if (loot !== 0 && lootD <= b.reach) {
      c.interact(loot, InteractAction.Loot);
      this.host.counters.interacts++;
      return;
    }
    if (best === 0) return;
    if (bestD <= b.reach) {
      c.attack(best);
      this.host.counters.attacks++;
      if (this.huntId !== best) this.hunt(best);
    } else if (bestD < 40 && this.huntId === 0) {
      this.hunt(best); // walk over and fight it next time
    }
  }

  private talk(c: MmoClient): void {
    const r = this.host.random();
    const text = CHAT_LINES[Math.floor(this.host.random() * CHAT_LINES.length)]!;
    const b = this.host.behaviour;
    if (r < b.zoneChatShare) c.chat(ChatChannel.Zone, text);
    else if (r < b.zoneChatShare + b.globalChatShare) c.chat(ChatChannel.Global, text);
    else if (r < 0.9) c.chat(ChatChannel.Say, text);
    else {
      // Whisper someone in sight, or else a bot by its (predictable) name.
      let to: string | null = null;
      for (const e of c.entities.values()) {
        if (e.kind === EntityKind.Player && e.id !== c.entityId && e.name) {
          to = e.name;
          break;
        }
      }
      to ??= this.serverName.replace(this.name, `${this.host.behaviour.namePrefix}${Math.max(0, this.index - 1)}`);
      c.chat(ChatChannel.Whisper, text, to);
    }
    this.host.counters.chats++;
  }

  private hunt(id: number): void {
    this.huntId = id;
    this.huntUntil = performance.now() + 10_000 + this.host.random() * 10_000;
  }

  private pickWaypoint(): void {
    const s = this.host.behaviour.zoneSize;
    // Mostly short hops around the current spot, sometimes a long walk: players cluster but drift.
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
    this.huntId = 0;
    this.lastMoveAt = performance.now();
    this.pickWaypoint();
  }

  // ------------------------------------------------------------ events

  /** ws, created through the SDK's WebSocket option so the bot can count and kill its socket. */
  private socketFactory(): WebSocketConstructor {
    const bot = this;
    return function (url: string, protocols?: string | string[], options?: Record<string, unknown>) {
      const ws = new WsWebSocket(url, protocols, options);
      bot.bindSocket(ws);
      return ws;
    } as unknown as WebSocketConstructor;
  }

  private bindSocket(ws: WsWebSocket): void {
    this.socket = ws;
    // The SDK clears its onerror before closing; ws reports a close() during the handshake as an
    // 'error' event a tick later, which with no listener left is an uncaught exception (SDK issue,
    // reported). Errors reach the bot as close codes anyway.
    ws.on('error', () => undefined);
    const k = this.host.counters;
    const send = ws.send.bind(ws);
    ws.send = ((data: Uint8Array, ...rest: unknown[]) => {
      k.msgsOut++;
      k.bytesOut += data.byteLength;
      return (send as (...a: unknown[]) => void)(data, ...rest);
    }) as typeof ws.send;
    // Registered before the SDK's own handler, so it sees each frame first.
    ws.on('message', (data: ArrayBuffer | Buffer) => {
      const n = data.byteLength;
      k.msgsIn++;
      k.bytesIn += n;
      // Binary frames arrive as the SDK asked: Buffers (ws's 'nodebuffer'), ArrayBuffers elsewhere.
      if (!this.host.behaviour.checkSeq || n < 12) return;
      const bytes = binaryMessageBytes(data);
      if (bytes === null) return;
      try {
        const f = ServerFrame.getRootAsServerFrame(rebindByteBuffer(this.bb, bytes, 0), this.frame);
        const seq = f.seq();
        const c = this.client;
        // Only frames the SDK will process: after close() (a bot leaving) the
        // socket still receives until the closing handshake ends, and the SDK,
        // rightly, no longer reads them; counting those was the soak's "gaps".
        if (!c || !c.connected) return;
        const last = c.lastSeq;
        if (seq !== 0 && last !== 0 && seq > last + 1) k.seqGaps++;
      } catch {
        // malformed: the SDK counts and handles it
      }
    });
  }

  private listen(c: MmoClient): void {
    const k = this.host.counters;
    c.on('welcome', (w) => this.onWelcome(c, w));
    c.on('snapshot', (s) => {
      k.snapshots++;
      const me = s.entities.get(s.selfId) ?? s.entities.get(c.entityId);
      if (me) this.placeAt(me.x, me.y);
      else if (c.self) this.placeAt(c.self.x, c.self.y);
    });
    c.on('self', (s) => {
      if (!this.positioned) this.placeAt(s.x, s.y);
    });
    c.on('moveRejected', (r) => {
      if (r.reason === MoveReject.obstacle) k.moveRejectedObstacle++;
      else if (r.reason === MoveReject.dead || r.reason === MoveReject.immobile) k.moveRejectedState++;
      else {
        k.moveRejectedIllegal++;
        this.host.errorCodes[`move:${r.reason}`] = (this.host.errorCodes[`move:${r.reason}`] ?? 0) + 1;
      }
      this.placeAt(r.x, r.y);
    });
    c.on('chat', () => void k.chatsReceived++);
    c.on('damage', () => void k.damageSeen++);
    c.on('death', (d) => {
      k.deaths++;
      if (d.entity === c.entityId) this.dead = true;
      if (d.entity === this.huntId) this.huntId = 0;
    });
    c.on('respawn', (r) => {
      k.respawns++;
      this.dead = false;
      this.placeAt(r.x, r.y);
    });
    c.on('levelUp', () => void k.levelUps++);
    c.on('item', () => void k.items++);
    c.on('zone', (z) => {
      k.zoneChanges++;
      this.placeAt(z.x, z.y);
    });
    c.on('error', (e) => {
      if (e.code >= 100 && e.code < 400) k.gameRefusals++;
      else {
        k.serverErrors++;
        this.host.errorCodes[`error:${e.code}`] = (this.host.errorCodes[`error:${e.code}`] ?? 0) + 1;
      }
    });
    c.on('kicked', (e) => {
      k.kicked++;
      this.host.errorCodes[`kicked:${e.code}`] = (this.host.errorCodes[`kicked:${e.code}`] ?? 0) + 1;
    });
    c.on('reconnecting', (r) => {
      this.countMalformed(c);
      const first = !this.reconnecting;
      this.reconnecting = true;
      if (this.droppedAt !== 0) return; // the planned drop: counted when made
      if (this.phase === 'playing' && first) {
        k.unexpectedDisconnects++;
        // The SDK's dead-link detection closes with 1006 too: tell it apart from a lost socket.
        const key = r.reason.startsWith('no data from the server') ? `close:${r.code}:silence` : `close:${r.code}`;
        this.host.errorCodes[key] = (this.host.errorCodes[key] ?? 0) + 1;
      }
    });
    c.on('close', (e) => {
      const was = this.phase;
      this.phase = 'closed';
      this.countMalformed(c);
      if (!this.leaving) {
        if (this.sessionId === 0) k.connectFailures++;
        else k.gaveUp++;
        this.host.errorCodes[`final:${e.code}`] = (this.host.errorCodes[`final:${e.code}`] ?? 0) + 1;
        // Closed by the server without a reconnect attempt (a non-retryable code) is a disconnect too.
        if (was === 'playing' && !this.reconnecting && this.droppedAt === 0) k.unexpectedDisconnects++;
      }
      this.host.retire(this);
    });
  }

  private countMalformed(c: MmoClient): void {
    const m = c.stats.malformedFrames;
    if (m > this.malformedSeen) {
      this.host.counters.malformedFrames += m - this.malformedSeen;
      this.malformedSeen = m;
    }
  }

  private onWelcome(c: MmoClient, w: WelcomeEvent): void {
    const k = this.host.counters;
    const now = performance.now();
    this.reconnecting = false;
    if (w.resumed) {
      k.resumes++;
      k.replayed += w.replayed;
      if (this.droppedAt !== 0) {
        if (w.sessionId === this.sessionId && w.entityId === this.entityId) {
          k.backOwn++;
          this.host.backTime.recordValue(Math.max(1, Math.round((now - this.droppedAt) * 1000)));
        } else k.lostSessions++;
        this.droppedAt = 0;
      }
    } else if (this.sessionId !== 0) {
      // A fresh session after a loss: the old one was not resumed.
      k.lostSessions++;
      this.droppedAt = 0;
      this.positioned = false;
    } else {
      k.connects++;
      this.host.connectTime.recordValue(Math.max(1, Math.round((now - this.startedAt) * 1000)));
    }
    this.sessionId = w.sessionId;
    this.entityId = w.entityId;
    this.serverName = w.name;
    this.phase = 'playing';
    this.lastMoveAt = now;
    void c;
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
