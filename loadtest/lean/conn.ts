// One lean bot's WebSocket connection over a raw node:net socket, bound to
// one of many 127.0.x.y source addresses. Reads land in one buffer per worker
// thread (net's `onread`: no Buffer per read) and are parsed in place by the
// connection's WsReader; every complete frame of a read is handled in that
// read's callback (a batch). Sends are gathered per bot in its out buffer and
// written with one socket.write per flush (the bot flushes once per wheel
// step), masked as RFC 6455 requires of clients.
//
// A connection object is reused across reconnects: open() starts a new
// socket, and the callbacks of an older one are ignored (generation check).

import net from 'node:net';
import { WsReader, WsOp, acceptFor, makeKey, maskedFrameSize, parseUpgradeAnswer, upgradeRequest, writeMaskedFrame, type WsSink } from './ws.js';
import { retryHintFromHeaders } from '../../src/client/backoff.js';

/** What the connection tells its bot. */
export interface ConnOwner {
  /** The upgrade succeeded: send the first message. */
  onConnOpen(): void;
  /** A binary or text message; bytes valid only during the call. */
  onConnMessage(bytes: Buffer, offset: number, length: number, binary: boolean): void;
  /** The socket is gone (once per open()): the close code seen (1006 without a close frame), a reason, a retry hint from a refused upgrade. */
  onConnClosed(code: number, reason: string, hintMs: number): void;
}

/** One read buffer per thread: reads are handled synchronously, one socket at a time. 64 KiB: libuv's own read size. */
const READ_BUF = Buffer.allocUnsafe(64 * 1024);

export interface ConnTarget {
  host: string;
  port: number;
  path: string;
}

/** ws://host:port/path to its parts. Cold path. */
export function parseWsUrl(url: string): ConnTarget {
  const u = new URL(url);
  if (u.protocol !== 'ws:') throw Object.assign(new Error(`the lean bots speak ws:// only, got ${url}`), { code: 'MMO_ERR_LOADTEST_OPTIONS' });
  return { host: u.hostname === 'localhost' ? '127.0.0.1' : u.hostname, port: Number(u.port || 80), path: `${u.pathname}${u.search}` };
}

export class LeanConn implements WsSink {
  private socket: net.Socket | null = null;
  private gen = 0;
  /** 0 closed, 1 upgrading, 2 open, 3 closing (our close frame sent). */
  private state = 0;
  private readonly reader: WsReader;
  private hs: Buffer = Buffer.allocUnsafe(0);
  private hsLen = 0;
  private closeCode = 1006;
  private closeReason = '';
  private hintMs = 0;
  private out: Buffer;
  private outLen = 0;
  private maskState: number;
  /** Writes that did not complete at once (the out buffer then went with them; counted for the report). */
  stalledWrites = 0;
  private readonly key: string;
  private readonly accept: string;

  constructor(
    private readonly owner: ConnOwner,
    private readonly target: ConnTarget,
    private readonly localAddress: string | undefined,
    random: () => number,
    maxMessage = 1 << 22,
  ) {
    this.reader = new WsReader(this, maxMessage);
    this.out = Buffer.allocUnsafe(512);
    this.maskState = (Math.floor(random() * 0xffffffff) | 1) >>> 0;
    this.key = makeKey(random);
    this.accept = acceptFor(this.key);
  }

  get open(): boolean {
    return this.state === 2;
  }

  /** Starts a new connection (the previous socket, if any, is destroyed first). */
  connect(): void {
    this.destroySocket();
    const gen = ++this.gen;
    this.state = 1;
    this.hsLen = 0;
    this.closeCode = 1006;
    this.closeReason = '';
    this.hintMs = 0;
    this.outLen = 0;
    this.reader.reset();
    const s = net.connect({
      host: this.target.host,
      port: this.target.port,
      noDelay: true,
      ...(this.localAddress ? { localAddress: this.localAddress } : {}),
      onread: {
        buffer: READ_BUF,
        callback: (n: number, buf: Uint8Array) => {
          if (gen === this.gen) this.onRead(buf as Buffer, n);
          return true;
        },
      },
    });
    this.socket = s;
    s.on('connect', () => {
      if (gen !== this.gen) return;
      s.write(upgradeRequest(`${this.target.host}:${this.target.port}`, this.target.path, this.key));
    });
    s.on('error', (e: Error) => {
      if (gen === this.gen && this.closeReason === '') this.closeReason = e.message;
    });
    s.on('close', () => {
      if (gen !== this.gen) return;
      this.socket = null;
      this.state = 0;
      this.owner.onConnClosed(this.closeCode, this.closeReason, this.hintMs);
    });
  }

  /** Drops the socket at once, without a close frame (a network failure, a storm). 'closed' follows with 1006. */
  kill(): void {
    this.socket?.destroy();
  }

  /** Sends a close frame with `code` and ends the socket; 'closed' follows when the server closes. */
  close(code = 1000): void {
    const s = this.socket;
    if (!s) return;
    if (this.state === 2) {
      this.outLen = 0;
      this.reserve(8);
      const p = this.outLen;
      this.out[p] = 0x80 | WsOp.close;
      this.out[p + 1] = 0x80 | 2;
      this.nextMask();
      const m = this.maskState;
      this.out[p + 2] = m >>> 24;
      this.out[p + 3] = (m >>> 16) & 0xff;
      this.out[p + 4] = (m >>> 8) & 0xff;
      this.out[p + 5] = m & 0xff;
      this.out[p + 6] = (code >>> 8) ^ (m >>> 24);
      this.out[p + 7] = (code & 0xff) ^ ((m >>> 16) & 0xff);
      this.outLen += 8;
      this.state = 3;
      this.flush();
      s.end();
      // A server that never answers the close must not hold the socket forever.
      const t = setTimeout(() => s.destroy(), 5000);
      t.unref();
      s.once('close', () => clearTimeout(t));
    } else s.destroy();
  }

  /** Queues a binary message (masked into the out buffer); flush() writes it. False when not open. */
  queue(payload: Uint8Array, off: number, len: number): boolean {
    if (this.state !== 2) return false;
    this.queueFrame(WsOp.binary, payload, off, len);
    return true;
  }

  private queueFrame(op: number, payload: Uint8Array, off: number, len: number): void {
    this.reserve(maskedFrameSize(len));
    this.nextMask();
    this.outLen += writeMaskedFrame(this.out, this.outLen, op, payload, off, len, this.maskState);
  }

  /** Bytes queued and not yet written. */
  get queued(): number {
    return this.outLen;
  }

  /**
   * Writes what was queued with one socket.write (one Buffer view: the only
   * allocation of a send). A write the kernel did not take at once keeps a
   * reference to the out buffer, so the connection moves to a fresh one.
   */
  flush(): void {
    const s = this.socket;
    if (this.outLen === 0 || !s) return;
    s.write(this.out.subarray(0, this.outLen));
    this.outLen = 0;
    if (s.writableLength > 0) {
      this.stalledWrites++;
      this.out = Buffer.allocUnsafe(this.out.length);
    }
  }

  private reserve(n: number): void {
    if (this.outLen + n <= this.out.length) return;
    let size = this.out.length * 2;
    while (size < this.outLen + n) size *= 2;
    const b = Buffer.allocUnsafe(size);
    this.out.copy(b, 0, 0, this.outLen);
    this.out = b;
  }

  /** xorshift32: a fresh masking key per frame (RFC 6455 wants unpredictable keys from browsers; a load generator needs only that they vary). */
  private nextMask(): void {
    let x = this.maskState;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.maskState = x >>> 0;
  }

  private destroySocket(): void {
    const s = this.socket;
    if (!s) return;
    this.socket = null;
    this.gen++;
    s.destroy();
  }

  private onRead(buf: Buffer, n: number): void {
    if (this.state === 1) {
      // The upgrade answer, then perhaps the first frames in the same read.
      if (this.hsLen + n > this.hs.length) {
        if (this.hsLen + n > 16 * 1024) {
          this.closeReason = 'upgrade answer over 16 KiB';
          this.socket?.destroy();
          return;
        }
        const b = Buffer.allocUnsafe(Math.max(1024, (this.hsLen + n) * 2));
        this.hs.copy(b, 0, 0, this.hsLen);
        this.hs = b;
      }
      buf.copy(this.hs, this.hsLen, 0, n);
      this.hsLen += n;
      let a;
      try {
        a = parseUpgradeAnswer(this.hs, this.hsLen);
      } catch (e) {
        this.closeReason = (e as Error).message;
        this.socket?.destroy();
        return;
      }
      if (a === null) return;
      if (a.status !== 101 || a.headers.get('sec-websocket-accept') !== this.accept) {
        this.closeReason = a.status !== 101 ? `upgrade refused: HTTP ${a.status}` : 'upgrade answer with a wrong Sec-WebSocket-Accept';
        this.hintMs = retryHintFromHeaders((h) => a.headers.get(h));
        this.socket?.destroy();
        return;
      }
      this.state = 2;
      const gen = this.gen;
      this.owner.onConnOpen();
      if (gen !== this.gen || this.state !== 2) return;
      if (a.end < this.hsLen) this.reader.feed(this.hs, a.end, this.hsLen);
      this.hs = EMPTY;
      this.flush();
      return;
    }
    if (this.state === 0) return;
    this.reader.feed(buf, 0, n);
    // Pongs to the server's pings, and whatever the messages made the bot queue.
    this.flush();
  }

  // ------------------------------------------------------------ WsSink

  onWsMessage(bytes: Buffer, offset: number, length: number, binary: boolean): void {
    if (this.state === 2) this.owner.onConnMessage(bytes, offset, length, binary);
  }

  onWsPing(bytes: Buffer, offset: number, length: number): void {
    if (this.state === 2) this.queueFrame(WsOp.pong, bytes, offset, length);
  }

  onWsPong(): void {
    // We send no WebSocket pings: the game's own Ping/Pong measures RTT.
  }

  onWsClose(code: number, bytes: Buffer, offset: number, length: number): void {
    this.closeCode = code;
    this.closeReason = bytes.toString('utf8', offset, offset + length);
    if (this.state === 2) {
      // Echo the close (RFC 6455 5.5.1), then let the server close the TCP connection.
      const echo = CLOSE_ECHO;
      echo[0] = code >>> 8;
      echo[1] = code & 0xff;
      this.queueFrame(WsOp.close, echo, 0, code === 1005 ? 0 : 2);
      this.flush();
    }
    this.state = 3;
    this.socket?.end();
  }

  onWsError(reason: string): void {
    this.closeReason = `protocol error: ${reason}`;
    this.closeCode = 1006;
    this.socket?.destroy();
  }
}

const EMPTY = Buffer.allocUnsafe(0);
const CLOSE_ECHO = Buffer.allocUnsafe(2);
