// The cluster scenario's bots (loadtest/cluster.ts), of two kinds that keep
// the same books:
//
//   SdkClusterBot   the full client SDK (MmoClient): replay, resume, world
//                   model. About 31 us of CPU per message: a few of them
//                   audit a run.
//   LeanClusterBot  the lean engine's connection (loadtest/lean/conn.ts) and
//                   frame peek, no SDK: the bulk of a 1,500-bot run on 2
//                   cores. It gives up resuming (a lost socket is an
//                   unexpected disconnect and the end of the bot) and the
//                   world model (it knows its position, zone and the seq and
//                   ack of each frame).
//
// Both walk a lane east through portal after portal and say a numbered
// line on every say tick; each counts its own lines heard back (lost: a
// number skipped or never heard; doubled: a number heard again or out of
// order), its crossings (and those between nodes: ClusterBooks.ownerOf), the
// handoff time (first move inside a portal to ZoneChanged), the inputs the
// server never acknowledged, and frames whose seq went back or skipped.

import { connect, ChatChannel, type MmoClient } from '../src/client/index.js';
import { ClientMessageBuilder } from '../src/protocol/build.js';
import { PROTOCOL_VERSION } from '../src/protocol/version.js';
import { ServerBody } from '../src/protocol/generated/mmo/server-body.js';
import { LeanConn, parseWsUrl, type ConnOwner } from './lean/conn.js';
import { FramePeek } from './lean/peek.js';

/** What every bot of a run reports into. */
export class ClusterBooks {
  crossings = 0;
  crossNode = 0;
  unexpected = 0;
  readonly handoffs: number[] = [];
  constructor(readonly ownerOf: (zone: number) => number) {}
}

export abstract class ClusterBot {
  said = 0;
  heard = 0;
  lost = 0;
  doubled = 0;
  /** performance.now() of the first move sent inside a portal, 0 when none is pending. */
  portalAt = 0;
  x = 0;
  y = 0;
  zone = 0;
  /** Set once the bot is in the world (its first Snapshot). */
  ready = false;
  why: string | undefined;
  /** Frames whose seq was not the previous one + 1 (lean bots only; the SDK replays and hides them). */
  seqFaults = 0;

  constructor(
    readonly books: ClusterBooks,
    readonly index: number,
    /** Index of the gateway node the bot connected to. */
    readonly node: number,
    /** The row it walks along (inside the portals' 64-unit band). */
    readonly lane: number,
  ) {}

  abstract get connected(): boolean;
  /** Inputs sent that the server has not acknowledged. */
  abstract get pendingInputs(): number;
  /** Frames received plus inputs sent. */
  abstract get messages(): number;
  abstract move(x: number, y: number): void;
  abstract say(n: number): void;
  /** Sends what the step queued (lean bots gather a step's messages in one write). */
  flush(_now: number): void {}
  abstract close(): void;

  protected heardSay(n: number): void {
    if (n <= this.heard) this.doubled++;
    else {
      this.lost += n - this.heard - 1;
      this.heard = n;
    }
  }

  protected zoneChanged(zone: number, x: number, y: number): void {
    const b = this.books;
    b.crossings++;
    if (b.ownerOf(zone) !== b.ownerOf(this.zone || zone)) b.crossNode++;
    this.zone = zone;
    if (this.portalAt > 0) b.handoffs.push(performance.now() - this.portalAt);
    this.portalAt = 0;
    this.x = x;
    this.y = y;
  }

  protected dropped(why: string): void {
    if (this.why === undefined) this.books.unexpected++;
    this.why = why;
  }
}

export class SdkClusterBot extends ClusterBot {
  readonly c: MmoClient;
  private readonly name: string;

  constructor(books: ClusterBooks, index: number, node: number, lane: number, wsUrl: string, guestName: string, localAddress: string) {
    super(books, index, node, lane);
    this.name = `guest_${guestName}`;
    const c = (this.c = connect(wsUrl, { guestName, localAddress }));
    void c.once('snapshot').then(() => {
      this.zone = c.zone;
      this.x = c.self!.x;
      this.y = c.self!.y;
      this.ready = true;
    });
    c.on('chat', (m) => {
      if (m.channel === ChatChannel.Say && m.fromName === this.name) this.heardSay(Number(m.text));
    });
    c.on('zone', (z) => this.zoneChanged(z.zone, z.x, z.y));
    c.on('reconnecting', (r) => this.dropped(`reconnecting ${r.code} ${r.reason}`));
    c.on('close', (r) => this.dropped(`closed ${r.code} ${r.reason}`));
    c.on('kicked', (k) => (this.why = `kicked ${k.code} ${k.reason}`));
    c.on('moveRejected', (r) => {
      this.x = r.x;
      this.y = r.y;
    });
  }

  get connected(): boolean {
    return this.c.connected;
  }
  get pendingInputs(): number {
    return this.c.pendingInputs;
  }
  get messages(): number {
    return this.c.stats.framesReceived + this.c.stats.inputsSent;
  }
  move(x: number, y: number): void {
    this.c.move(x, y);
  }
  say(n: number): void {
    this.c.chat(ChatChannel.Say, String(n));
  }
  close(): void {
    this.c.close();
  }
}

/** One builder and one peek for every lean bot (they run one at a time on the driver's thread). */
const builder = new ClientMessageBuilder();
const peek = new FramePeek();
const ACK_EVERY_MS = 1000;

export class LeanClusterBot extends ClusterBot implements ConnOwner {
  private readonly conn: LeanConn;
  private open = false;
  private closing = false;
  private name: Uint8Array;
  private nextInput = 1;
  private ackIn = 0;
  private lastSeq = 0;
  private ackedOut = 0;
  private ackedAt = 0;
  private frames = 0;
  private inputs = 0;

  constructor(books: ClusterBooks, index: number, node: number, lane: number, wsUrl: string, private readonly guestName: string, localAddress: string) {
    super(books, index, node, lane);
    this.name = new TextEncoder().encode(`guest_${guestName}`);
    let seed = (index * 2654435761) >>> 0 || 1;
    const random = (): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 0x1_0000_0000;
    };
    this.conn = new LeanConn(this, parseWsUrl(wsUrl), localAddress, random);
    this.conn.connect();
  }

  get connected(): boolean {
    return this.open;
  }
  get pendingInputs(): number {
    return this.nextInput - 1 - this.ackIn;
  }
  get messages(): number {
    return this.frames + this.inputs;
  }

  move(x: number, y: number): void {
    this.queue(builder.move(this.nextInput++, x, y));
  }

  say(n: number): void {
    this.queue(builder.chat(this.nextInput++, ChatChannel.Say, String(n)));
  }

  override flush(now: number): void {
    if (this.lastSeq > this.ackedOut && now - this.ackedAt >= ACK_EVERY_MS) {
      this.ackedAt = now;
      this.ackedOut = this.lastSeq;
      this.queue(builder.ack(this.lastSeq));
      this.inputs--; // an ack is not an input
    }
    this.conn.flush();
  }

  close(): void {
    this.closing = true;
    this.conn.close(1000);
  }

  private queue(_built: Uint8Array): void {
    if (this.conn.queue(builder.bytes, builder.start, builder.length)) this.inputs++;
  }

  onConnOpen(): void {
    this.queue(builder.hello(PROTOCOL_VERSION, null, this.guestName, 'mmo-loadtest cluster bot'));
    this.inputs--; // a hello is not an input
  }

  onConnClosed(code: number, reason: string): void {
    this.open = false;
    if (!this.closing) this.dropped(`closed ${code} ${reason}`);
  }

  onConnMessage(bytes: Buffer, offset: number, length: number, binary: boolean): void {
    if (!binary || !peek.read(bytes, offset, length)) {
      this.why = 'malformed frame';
      this.conn.kill();
      return;
    }
    this.frames++;
    if (peek.ack > this.ackIn) this.ackIn = peek.ack;
    const seq = peek.seq;
    if (seq !== 0) {
      if (this.lastSeq !== 0 && seq !== this.lastSeq + 1) this.seqFaults++;
      if (seq > this.lastSeq) this.lastSeq = seq;
    }
    const n = peek.count;
    for (let i = 0; i < n; i++) {
      const t = peek.body(i);
      switch (peek.type(i)) {
        case ServerBody.Welcome: {
          this.open = true;
          // The server may prefix a guest's name: listen for the name it gave.
          const name = peek.welcomeName(t);
          if (name) this.name = new TextEncoder().encode(name);
          this.zone = peek.welcomeZone(t);
          break;
        }
        case ServerBody.Snapshot: {
          const s = peek.snapshotSelf(t);
          if (s !== 0) {
            this.x = peek.selfX(s);
            this.y = peek.selfY(s);
          }
          this.ready = true;
          break;
        }
        case ServerBody.ZoneChanged:
          this.zoneChanged(peek.zoneId(t), peek.zoneX(t), peek.zoneY(t));
          break;
        case ServerBody.MoveRejected:
          this.x = peek.rejectX(t);
          this.y = peek.rejectY(t);
          break;
        case ServerBody.ChatMessage:
          if (peek.chatChannel(t) === ChatChannel.Say && peek.chatFromIs(t, this.name)) {
            const k = peek.chatNumber(t);
            if (k > 0) this.heardSay(k);
          }
          break;
        case ServerBody.Kicked:
          this.why = `kicked ${peek.kickedCode(t)}`;
          break;
        default:
          break;
      }
      if (peek.bad) {
        this.why = 'malformed frame';
        this.conn.kill();
        return;
      }
    }
  }
}
