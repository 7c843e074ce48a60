// TEST DOUBLE. A tiny protocol-speaking WebSocket server for the client SDK's
// tests, until the real gateway speaks the protocol. It is not the gateway and
// shares none of its code beyond the protocol modules: `ws` on 127.0.0.1, an
// ephemeral port, sessions in a Map, every frame kept for replay.
//
// What it does: Hello -> Welcome (unsequenced frame) + Snapshot; Resume ->
// Welcome{resumed} + the frames after last_seq (optionally overlapping);
// Ping -> Pong (unsequenced); inputs are acknowledged by seq, duplicates
// (seq <= ack) counted and dropped, and answered with a sequenced frame:
// Move -> Delta update of the player, Attack -> Delta damage, Interact ->
// ItemGained, Chat -> ChatMessage echo. Tests can refuse upgrades (429/503 with
// retry headers), drop or close every socket, push frames to a session while
// it is disconnected, and send raw bytes.

import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { ByteBuffer } from 'flatbuffers';
import { DeltaBuilder, ServerMessageBuilder, SnapshotBuilder } from '../../src/protocol/build.js';
import { FrameWriter } from '../../src/protocol/frame.js';
import { clientVerifyLimits, verifyClientMessage } from '../../src/protocol/verify.js';
import { CloseCode } from '../../src/protocol/close-codes.js';
import { MIN_PROTOCOL_VERSION, PROTOCOL_VERSION } from '../../src/protocol/version.js';
import * as G from '../../src/protocol/generated/mmo_generated.js';

export interface FakeSession {
  id: number;
  token: Buffer;
  entityId: number;
  name: string;
  /** Highest input seq accepted. */
  ack: number;
  /** ack as written into frames (differs from `ack` while acks are frozen). */
  frameAck: number;
  nextSeq: number;
  /** Every sequenced frame sent, for replay. */
  log: { seq: number; bytes: Uint8Array }[];
  ws: WebSocket | null;
  x: number;
  y: number;
  /** Highest frame seq the client acknowledged with an Ack. */
  clientAck: number;
}

export interface ReceivedInput {
  session: number;
  seq: number;
  type: 'move' | 'attack' | 'interact' | 'chat';
}

export class FakeServer {
  readonly sessions = new Map<number, FakeSession>();
  /** Inputs accepted (duplicates excluded), in arrival order. */
  readonly inputs: ReceivedInput[] = [];
  duplicates = 0;
  /** Upgrades accepted / refused. */
  upgrades = 0;
  refusedUpgrades = 0;
  /** Remote addresses of accepted sockets. */
  readonly remoteAddresses: string[] = [];
  /** On resume, also replay this many frames at or before last_seq (the client must ignore them). */
  replayOverlap = 0;
  /** Frames carry the ack value frozen when this was set (inputs are still accepted). */
  freezeAcks = false;
  /** Refuse resumes (close 4101). */
  refuseResume = false;

  private refuse: { n: number; status: number; headers: Record<string, string> } = { n: 0, status: 0, headers: {} };
  private nextSession = 1;
  private readonly msg = new ServerMessageBuilder();
  private readonly delta = new DeltaBuilder();
  private readonly snap = new SnapshotBuilder();
  private readonly fw = new FrameWriter();
  private readonly limits = clientVerifyLimits();

  private constructor(
    private readonly wss: WebSocketServer,
    readonly url: string,
  ) {}

  static async start(): Promise<FakeServer> {
    let self: FakeServer | null = null;
    const wss = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      perMessageDeflate: false,
      verifyClient: (_info, cb) => {
        const r = self!.refuse;
        if (r.n > 0) {
          r.n--;
          self!.refusedUpgrades++;
          cb(false, r.status, r.status === 429 ? 'Too Many Requests' : 'Service Unavailable', r.headers);
          return;
        }
        cb(true);
      },
    });
    await once(wss, 'listening');
    const port = (wss.address() as AddressInfo).port;
    self = new FakeServer(wss, `ws://127.0.0.1:${port}/ws`);
    wss.on('connection', (ws, req) => self!.onConnection(ws, req.socket.remoteAddress ?? ''));
    return self;
  }

  /** The next `n` upgrades get HTTP `status` with these headers. */
  refuseNext(n: number, status = 429, headers: Record<string, string> = {}): void {
    this.refuse = { n, status, headers };
  }

  /** Network failure: every socket is destroyed without a close frame (clients see 1006). */
  dropAll(): void {
    for (const c of this.wss.clients) c.terminate();
  }

  closeAll(code: number, reason = ''): void {
    for (const c of this.wss.clients) c.close(code, reason);
  }

  /** Sends Kicked then closes with `code`, to every socket. */
  kickAll(code: number, reason: string): void {
    for (const s of this.sessions.values()) {
      if (!s.ws) continue;
      this.sendFrame(s, 0, [this.msg.kicked(code, reason).slice()]);
      s.ws.close(code, reason);
    }
  }

  sendRaw(data: Uint8Array | string): void {
    for (const c of this.wss.clients) c.send(data);
  }

  /** A sequenced frame of these finished ServerMessages (logged for replay even when the session has no socket). */
  push(session: FakeSession, messages: Uint8Array[]): void {
    this.sendFrame(session, session.nextSeq++, messages);
  }

  /** A sequenced frame of ChatMessages. */
  pushChat(session: FakeSession, texts: string[]): void {
    this.push(
      session,
      texts.map((t) => this.msg.chatMessage(2, 0, 'server', t).slice()),
    );
  }

  get onlySession(): FakeSession {
    if (this.sessions.size !== 1) throw new Error(`${this.sessions.size} sessions`);
    return this.sessions.values().next().value!;
  }

  async stop(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  // ------------------------------------------------------------ internals

  private sendFrame(s: FakeSession, seq: number, messages: Uint8Array[]): void {
    const fw = this.fw;
    fw.begin(seq, s.frameAck);
    for (const m of messages) fw.add(m, 0, m.length);
    const bytes = fw.finish().slice();
    if (seq !== 0) s.log.push({ seq, bytes });
    if (s.ws && s.ws.readyState === s.ws.OPEN) s.ws.send(bytes);
  }

  private onConnection(ws: WebSocket, remote: string): void {
    this.upgrades++;
    this.remoteAddresses.push(remote);
    let session: FakeSession | null = null;
    ws.on('message', (data, isBinary) => {
      if (!isBinary) {
        ws.close(CloseCode.textFrame, 'binary only');
        return;
      }
      const buf = data as Buffer;
      const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
      if (verifyClientMessage(bytes, 0, bytes.length, this.limits) !== 0) {
        ws.close(CloseCode.malformed, 'malformed');
        return;
      }
      const m = G.ClientMessage.getRootAsClientMessage(new ByteBuffer(bytes));
      if (!session) {
        session = this.handshake(ws, m);
        return;
      }
      this.onMessage(session, m);
    });
    ws.on('close', () => {
      if (session && session.ws === ws) session.ws = null;
    });
  }

  private handshake(ws: WebSocket, m: G.ClientMessage): FakeSession | null {
    const type = m.bodyType();
    if (type === G.ClientBody.Hello) {
      const h = m.body(new G.Hello()) as G.Hello;
      const v = h.protocolVersion();
      if (v < MIN_PROTOCOL_VERSION || v > PROTOCOL_VERSION) {
        ws.close(CloseCode.versionMismatch, `protocol ${v} not supported`);
        return null;
      }
      const id = this.nextSession++;
      const s: FakeSession = { id, token: randomBytes(16), entityId: 1000 + id, name: h.guestName() ?? 'player', ack: 0, frameAck: 0, nextSeq: 1, log: [], ws, x: 10, y: 10, clientAck: 0 };
      this.sessions.set(id, s);
      this.sendWelcome(s, false, 0);
      const sb = this.snap;
      sb.begin(1, 3, s.entityId);
      sb.addEntity(s.entityId, 0, s.x, s.y, 100, 100, 1, s.name, 0);
      sb.addEntity(7, 1, 20, 20, 50, 50, 3, 'wolf', 0);
      sb.setSelf(100, 100, 1, 0, s.x, s.y);
      sb.addItem(1, 2);
      this.sendFrame(s, s.nextSeq++, [sb.finish().slice()]);
      return s;
    }
    if (type === G.ClientBody.Resume) {
      const r = m.body(new G.Resume()) as G.Resume;
      const s = this.sessions.get(r.sessionId());
      const tok = r.tokenArray();
      if (this.refuseResume || !s || !tok || !s.token.equals(tok)) {
        ws.close(CloseCode.resumeRefused, 'resume refused');
        return null;
      }
      if (s.ws && s.ws !== ws) s.ws.terminate();
      s.ws = ws;
      s.token = randomBytes(16);
      const last = r.lastSeq();
      const replay = s.log.filter((f) => f.seq > last - this.replayOverlap);
      this.sendWelcome(s, true, replay.filter((f) => f.seq > last).length);
      for (const f of replay) ws.send(f.bytes);
      return s;
    }
    ws.close(CloseCode.unexpectedMessage, 'hello first');
    return null;
  }

  private sendWelcome(s: FakeSession, resumed: boolean, replayed: number): void {
    const w = this.msg.welcome({
      protocolVersion: PROTOCOL_VERSION,
      sessionId: s.id,
      resumeToken: s.token,
      entityId: s.entityId,
      name: s.name,
      zone: 3,
      tickRate: 20,
      serverTime: Date.now(),
      resumed,
      replayed,
    });
    this.sendFrame(s, 0, [w.slice()]);
  }

  private onMessage(s: FakeSession, m: G.ClientMessage): void {
    const type = m.bodyType();
    if (type === G.ClientBody.Ping) {
      const p = m.body(new G.Ping()) as G.Ping;
      this.sendFrame(s, 0, [this.msg.pong(p.clientTime(), Date.now()).slice()]);
      return;
    }
    if (type === G.ClientBody.Ack) {
      s.clientAck = Math.max(s.clientAck, (m.body(new G.Ack()) as G.Ack).lastSeq());
      return;
    }
    if (type === G.ClientBody.Hello || type === G.ClientBody.Resume) {
      s.ws?.close(CloseCode.unexpectedMessage, 'already in session');
      return;
    }
    const seq = m.seq();
    if (seq <= s.ack) {
      this.duplicates++;
      return;
    }
    s.ack = seq;
    if (!this.freezeAcks) s.frameAck = seq;
    let out: Uint8Array;
    switch (type) {
      case G.ClientBody.Move: {
        const v = m.body(new G.Move()) as G.Move;
        s.x = v.x();
        s.y = v.y();
        this.inputs.push({ session: s.id, seq, type: 'move' });
        const d = this.delta;
        d.begin(seq);
        d.addUpdate(s.entityId, s.x, s.y, 100, 8, 0);
        out = d.finish();
        break;
      }
      case G.ClientBody.Attack: {
        const a = m.body(new G.Attack()) as G.Attack;
        this.inputs.push({ session: s.id, seq, type: 'attack' });
        const d = this.delta;
        d.begin(seq);
        d.addDamage(s.entityId, a.target(), 10, 40);
        out = d.finish();
        break;
      }
      case G.ClientBody.Interact: {
        this.inputs.push({ session: s.id, seq, type: 'interact' });
        out = this.msg.itemGained(5, 1, 1);
        break;
      }
      default: {
        const c = m.body(new G.Chat()) as G.Chat;
        this.inputs.push({ session: s.id, seq, type: 'chat' });
        out = this.msg.chatMessage(c.channel(), s.entityId, s.name, c.text());
      }
    }
    this.sendFrame(s, s.nextSeq++, [out.slice()]);
  }
}
