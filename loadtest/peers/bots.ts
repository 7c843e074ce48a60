// Bots for the peer servers (bench:compare): the same rates and message sizes
// as our SDK bots (a move every moveIntervalMs at the same speed toward
// waypoints, a ping every pingIntervalMs, a chat line every chatIntervalMs,
// an attack every attackIntervalMs) over each peer's own client: plain `ws`
// for the bare uWebSockets.js server, the Colyseus SDK for Colyseus.

import { WebSocket } from 'ws';
import type { BotHost } from '../swarm/bot.js';
import type { BotKind } from '../swarm/protocol.js';
import type { SwarmBot } from '../swarm/worker.js';
import { PeerEncoder, PeerOut } from './wire.js';

type Phase = 'connecting' | 'playing' | 'closed';

/** A peer bot's player behaviour; subclasses bring the transport (here: ws, Colyseus; loadtest/lean/raw-bot.ts: the lean engine). */
export abstract class PeerBot implements SwarmBot {
  phase: Phase = 'connecting';
  client: { connected: boolean } | null = { connected: false };
  protected readonly enc = new PeerEncoder();
  protected px = 0;
  protected py = 0;
  private wx = 0;
  private wy = 0;
  private lastMoveAt = 0;
  private seq = 1;
  private nextPingAt = 0;
  private nextChatAt = 0;
  private nextAttackAt = 0;
  private startedAt = 0;
  protected leaving = false;
  private readonly pings = new Map<number, number>();

  constructor(
    protected readonly host: BotHost,
    readonly index: number,
    protected readonly localAddress: string | undefined,
  ) {}

  abstract start(): void;
  protected abstract send(bytes: Uint8Array): boolean;
  protected abstract close(): void;

  protected begin(): void {
    const b = this.host.behaviour;
    const now = performance.now();
    this.startedAt = now;
    this.nextPingAt = now + this.host.random() * b.pingIntervalMs;
    this.nextChatAt = now + this.host.random() * b.chatIntervalMs * 2;
    this.nextAttackAt = now + this.host.random() * b.attackIntervalMs;
  }

  /** The server accepted us at (x, y). */
  protected welcomed(x: number, y: number): void {
    this.px = x;
    this.py = y;
    this.pickWaypoint();
    this.phase = 'playing';
    this.client!.connected = true;
    this.lastMoveAt = performance.now();
    this.host.counters.connects++;
    this.host.connectTime.recordValue(Math.max(1, Math.round((performance.now() - this.startedAt) * 1000)));
  }

  protected received(bytes: number): void {
    this.host.counters.msgsIn++;
    this.host.counters.bytesIn += bytes;
  }

  protected pong(t: number): void {
    const sent = this.pings.get(t);
    if (sent === undefined) return;
    this.pings.delete(t);
    this.host.counters.pongs++;
    this.host.rtt.recordValue(Math.max(1, Math.round((performance.now() - sent) * 1000)));
  }

  protected lost(): void {
    const was = this.phase;
    this.phase = 'closed';
    this.client!.connected = false;
    if (!this.leaving) {
      if (was === 'playing') {
        this.host.counters.unexpectedDisconnects++;
        this.host.counters.gaveUp++;
      } else this.host.counters.connectFailures++;
    }
    this.host.retire(this);
  }

  private out(bytes: Uint8Array): void {
    if (this.send(bytes)) {
      this.host.counters.msgsOut++;
      this.host.counters.bytesOut += bytes.length;
    }
  }

  step(now: number): void {
    if (this.phase !== 'playing') return;
    const b = this.host.behaviour;
    const k = this.host.counters;
    const dx = this.wx - this.px;
    const dy = this.wy - this.py;
    const dist = Math.sqrt(dx * dx + dy * dy);
    const dt = Math.max(0, now - this.lastMoveAt) / 1000;
    this.lastMoveAt = now;
    if (dist <= 1) this.pickWaypoint();
    else {
      const step = Math.min(b.speed * dt, b.maxStep, dist);
      this.px += (dx / dist) * step;
      this.py += (dy / dist) * step;
      this.out(this.enc.encodeMove(this.seq++, this.px, this.py));
      k.moves++;
    }
    if (now >= this.nextAttackAt) {
      this.nextAttackAt = now + b.attackIntervalMs * (0.5 + this.host.random());
      this.out(this.enc.encodeAttack(Math.floor(this.host.random() * 1000)));
      k.attacks++;
    }
    if (now >= this.nextChatAt) {
      this.nextChatAt = now + b.chatIntervalMs * (0.5 + this.host.random());
      this.out(this.enc.encodeChat(0));
      k.chats++;
    }
    if (now >= this.nextPingAt) {
      this.nextPingAt = now + b.pingIntervalMs * (0.75 + 0.5 * this.host.random());
      let t = now;
      while (this.pings.has(t)) t += 1e-6;
      this.pings.set(t, t);
      if (this.pings.size > 64) this.pings.delete(this.pings.keys().next().value!);
      this.out(this.enc.encodePing(t));
      k.pings++;
    }
  }

  leave(): void {
    if (this.phase === 'closed') return;
    this.leaving = true;
    this.host.counters.leaves++;
    this.close();
  }

  drop(): boolean {
    return false; // storms are for our server only
  }

  audit(): void {}

  private pickWaypoint(): void {
    const s = this.host.behaviour.zoneSize;
    const r = () => this.host.random();
    if (r() < 0.8) {
      this.wx = Math.min(s - 32, Math.max(32, this.px + (r() - 0.5) * 120));
      this.wy = Math.min(s - 32, Math.max(32, this.py + (r() - 0.5) * 120));
    } else {
      this.wx = 32 + r() * (s - 64);
      this.wy = 32 + r() * (s - 64);
    }
  }
}

/** Plain `ws` to the bare uWebSockets.js peer. */
class RawBot extends PeerBot {
  private ws: WebSocket | null = null;

  start(): void {
    this.begin();
    const ws = new WebSocket(this.host.url, { perMessageDeflate: false, ...(this.localAddress ? { localAddress: this.localAddress } : {}) });
    this.ws = ws;
    ws.binaryType = 'arraybuffer';
    ws.on('message', (data: ArrayBuffer) => {
      this.received(data.byteLength);
      const v = new DataView(data);
      const type = v.getUint8(0);
      if (type === PeerOut.hello) this.welcomed(v.getFloat32(4, true), v.getFloat32(8, true));
      else if (type === PeerOut.pong) this.pong(v.getFloat64(8, true));
    });
    ws.on('error', () => undefined);
    ws.on('close', () => this.lost());
  }

  protected send(bytes: Uint8Array): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(bytes);
    return true;
  }

  protected close(): void {
    this.ws?.close(1000);
  }
}

interface ColyseusRoomLike {
  onMessage(type: string, cb: (payload: Uint8Array) => void): unknown;
  onLeave(cb: (code: number) => void): unknown;
  sendBytes(type: string, bytes: Uint8Array): void;
  leave(consented?: boolean): Promise<number>;
  connection: { isOpen: boolean };
}

/** The Colyseus SDK: matchmaking over HTTP, then the room's WebSocket. */
class ColyseusBot extends PeerBot {
  private room: ColyseusRoomLike | null = null;

  start(): void {
    this.begin();
    void import('@colyseus/sdk').then(
      async ({ Client }) => {
        try {
          const client = new Client(this.host.url);
          const room = (await client.joinOrCreate('world')) as unknown as ColyseusRoomLike;
          this.room = room;
          room.onMessage('h', (p) => {
            this.received(p.byteLength + 3);
            const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
            this.welcomed(v.getFloat32(4, true), v.getFloat32(8, true));
          });
          room.onMessage('d', (p) => this.received(p.byteLength + 3));
          room.onMessage('c', (p) => this.received(p.byteLength + 3));
          room.onMessage('o', (p) => {
            this.received(p.byteLength + 3);
            this.pong(new DataView(p.buffer, p.byteOffset, p.byteLength).getFloat64(8, true));
          });
          room.onLeave(() => this.lost());
          if (this.leaving) void room.leave(true);
        } catch (e) {
          this.host.errorCodes[`colyseus:${(e as Error).message.slice(0, 40)}`] = (this.host.errorCodes[`colyseus:${(e as Error).message.slice(0, 40)}`] ?? 0) + 1;
          this.lost();
        }
      },
      () => this.lost(),
    );
  }

  protected send(bytes: Uint8Array): boolean {
    const r = this.room;
    if (!r || !r.connection.isOpen) return false;
    const type = bytes[0] === 1 ? 'm' : bytes[0] === 2 ? 'p' : bytes[0] === 3 ? 'c' : 'a';
    r.sendBytes(type, bytes);
    return true;
  }

  protected close(): void {
    void this.room?.leave(true).catch(() => undefined);
  }
}

export function createPeerBot(kind: BotKind, host: BotHost, index: number, localAddress: string | undefined, _peer: Record<string, unknown>): SwarmBot {
  if (kind === 'raw') return new RawBot(host, index, localAddress);
  if (kind === 'colyseus') return new ColyseusBot(host, index, undefined);
  throw new Error(`no peer bot for kind ${kind}`);
}
