// The peers' bot on the Colyseus peer (peers/colyseus-server.ts) over the
// lean engine's connection instead of the Colyseus SDK, so bench:compare
// drives Colyseus with bots as cheap as the ones it drives our server with.
// Colyseus 0.17's client protocol, as its SDK speaks it (@colyseus/sdk
// Client.ts and Room.ts):
//
//   1. matchmaking: POST /matchmake/joinOrCreate/<room> {} -> a seat
//      reservation {sessionId, roomId, processId, ...} (JSON; once per bot)
//   2. WebSocket to /<processId>/<roomId>?sessionId=<sessionId>
//   3. server: [10 JOIN_ROOM][len][reconnection token][len][serializer id][handshake]
//      client: [10] (acknowledges the join)
//   4. byte messages both ways: [17 ROOM_DATA_BYTES][0xa1 fixstr of 1][type char][payload]
//      (types of the peer room: m move, p ping, c chat, a attack; h hello,
//      d state, c chat echo, o pong from the server)
//   5. leaving: close code 4000 (CONSENTED)
//
// No reconnection (the peers keep no sessions): a lost socket ends the bot.

import http from 'node:http';
import type { BotHost } from '../swarm/bot.js';
import { PeerBot } from '../peers/bots.js';
import { PeerMsg, SIZES } from '../peers/wire.js';
import { LeanConn, type ConnOwner } from './conn.js';

const JOIN_ROOM = 10;
const ROOM_DATA_BYTES = 17;
const FIXSTR_1 = 0xa1;
const CONSENTED = 4000;
const TYPE_OF: Record<number, number> = {
  [PeerMsg.move]: 'm'.charCodeAt(0),
  [PeerMsg.ping]: 'p'.charCodeAt(0),
  [PeerMsg.chat]: 'c'.charCodeAt(0),
  [PeerMsg.attack]: 'a'.charCodeAt(0),
};
const T_HELLO = 'h'.charCodeAt(0);
const T_PONG = 'o'.charCodeAt(0);

interface Seat {
  sessionId: string;
  roomId: string;
  processId?: string;
}

/** POST /matchmake/joinOrCreate/<room>: the seat reservation. Cold path (once per bot). */
function reserveSeat(host: string, port: number, room: string, timeoutMs: number): Promise<Seat> {
  return new Promise((resolve, reject) => {
    const body = '{}';
    const req = http.request(
      { host, port, method: 'POST', path: `/matchmake/joinOrCreate/${room}`, headers: { 'content-type': 'application/json', accept: 'application/json', 'content-length': body.length }, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            const j = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Seat & { error?: string };
            if (res.statusCode !== 200 || typeof j.sessionId !== 'string' || typeof j.roomId !== 'string') reject(new Error(`matchmaking answered ${res.statusCode}: ${j.error ?? 'no seat'}`));
            else resolve(j);
          } catch (e) {
            reject(e as Error);
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('matchmaking timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

export class LeanColyseusBot extends PeerBot implements ConnOwner {
  private conn: LeanConn | null = null;
  private joined = false;
  /** [17][0xa1][type][payload]: the payload is copied in behind the 3-byte prefix. */
  private readonly scratch = new Uint8Array(3 + Math.max(SIZES.move, SIZES.ping, SIZES.chat, SIZES.attack));
  private static readonly ACK = Uint8Array.of(JOIN_ROOM);

  constructor(
    host: BotHost,
    index: number,
    private readonly target: { host: string; port: number },
    private readonly room: string,
  ) {
    super(host, index, undefined);
    this.scratch[0] = ROOM_DATA_BYTES;
    this.scratch[1] = FIXSTR_1;
  }

  start(): void {
    this.begin();
    reserveSeat(this.target.host, this.target.port, this.room, this.host.behaviour.handshakeTimeoutMs).then(
      (seat) => {
        if (this.leaving) return this.lost();
        const path = `${seat.processId ? `/${seat.processId}` : ''}/${seat.roomId}?sessionId=${encodeURIComponent(seat.sessionId)}`;
        this.conn = new LeanConn(this, { host: this.target.host, port: this.target.port, path }, undefined, () => this.host.random());
        this.conn.connect();
      },
      (e: Error) => {
        const key = `colyseus:${e.message.slice(0, 40)}`;
        this.host.errorCodes[key] = (this.host.errorCodes[key] ?? 0) + 1;
        this.lost();
      },
    );
  }

  override step(now: number): void {
    super.step(now);
    this.conn?.flush();
  }

  protected send(bytes: Uint8Array): boolean {
    const c = this.conn;
    if (!c || !this.joined) return false;
    const s = this.scratch;
    s[2] = TYPE_OF[bytes[0]!] ?? TYPE_OF[PeerMsg.attack]!;
    s.set(bytes, 3);
    return c.queue(s, 0, 3 + bytes.length);
  }

  protected close(): void {
    if (this.conn) this.conn.close(CONSENTED);
    else this.leaving = true;
  }

  onConnOpen(): void {}

  onConnMessage(bytes: Buffer, offset: number, length: number): void {
    if (this.phase === 'closed' || length < 1) return;
    const code = bytes[offset];
    if (code === JOIN_ROOM) {
      this.joined = true;
      this.conn!.queue(LeanColyseusBot.ACK, 0, 1);
      return;
    }
    if (code !== ROOM_DATA_BYTES || length < 3 || bytes[offset + 1] !== FIXSTR_1) return;
    // Counted as the SDK-based bot counts them: the payload plus the 3-byte prefix.
    this.received(length);
    const type = bytes[offset + 2];
    const p = offset + 3;
    if (type === T_HELLO && length >= 3 + 12) this.welcomed(bytes.readFloatLE(p + 4), bytes.readFloatLE(p + 8));
    else if (type === T_PONG && length >= 3 + 16) this.pong(bytes.readDoubleLE(p + 8));
  }

  onConnClosed(): void {
    if (this.phase !== 'closed') this.lost();
  }
}
