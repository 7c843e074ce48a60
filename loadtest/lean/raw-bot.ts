// The peers' bot (peers/bots.ts: same moves, pings, chat and attacks, same
// sizes, the wire format of peers/wire.ts) over the lean engine's connection,
// so bench:compare drives the bare uWebSockets.js peer with bots as cheap as
// the ones it drives our server with. The peers keep no sessions: a lost
// socket is the end of the bot, as with the ws-based RawBot.

import type { BotHost } from '../swarm/bot.js';
import { PeerBot } from '../peers/bots.js';
import { PeerOut } from '../peers/wire.js';
import { LeanConn, type ConnOwner, type ConnTarget } from './conn.js';

export class LeanRawBot extends PeerBot implements ConnOwner {
  private readonly conn: LeanConn;

  constructor(host: BotHost, index: number, target: ConnTarget, localAddress: string | undefined) {
    super(host, index, localAddress);
    this.conn = new LeanConn(this, target, localAddress, () => host.random());
  }

  start(): void {
    this.begin();
    this.conn.connect();
  }

  override step(now: number): void {
    super.step(now);
    this.conn.flush();
  }

  protected send(bytes: Uint8Array): boolean {
    return this.conn.queue(bytes, 0, bytes.length);
  }

  protected close(): void {
    this.conn.close(1000);
  }

  onConnOpen(): void {}

  onConnMessage(bytes: Buffer, offset: number, length: number): void {
    if (this.phase === 'closed') return;
    this.received(length);
    if (length < 16) return;
    const type = bytes[offset];
    if (type === PeerOut.hello) this.welcomed(bytes.readFloatLE(offset + 4), bytes.readFloatLE(offset + 8));
    else if (type === PeerOut.pong) this.pong(bytes.readDoubleLE(offset + 8));
  }

  onConnClosed(): void {
    if (this.phase !== 'closed') this.lost();
  }
}
