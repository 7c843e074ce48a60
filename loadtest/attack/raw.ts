// Raw TCP connections for the attacks: no WebSocket library between the
// attacker and the server, so it can send what no well-behaved client would
// (bytes one at a time, bad keys, unmasked or fragmented frames, lies about
// lengths), never answers pings unless told to, and records how the server
// ended each connection: an HTTP status, a WebSocket close code, or a bare
// FIN/RST.

import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { ByteBuffer } from 'flatbuffers';
import { ServerFrame } from '../../src/protocol/generated/mmo/server-frame.js';
import { ServerBody } from '../../src/protocol/generated/mmo/server-body.js';
import { Welcome } from '../../src/protocol/generated/mmo/welcome.js';
import { serverVerifyLimits, verifyServerFrame } from '../../src/protocol/verify.js';
import type { Outcome } from './types.js';

export const WsOp = { cont: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** A client WebSocket frame (masked, as RFC 6455 requires of clients unless `unmasked`). */
export function wsFrame(op: number, payload: Uint8Array, opts: { fin?: boolean; unmasked?: boolean; claimedLength?: number } = {}): Buffer {
  const len = opts.claimedLength ?? payload.length;
  const masked = !opts.unmasked;
  const head = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const b = Buffer.allocUnsafe(head + (masked ? 4 : 0) + payload.length);
  b[0] = (opts.fin === false ? 0 : 0x80) | (op & 0x0f);
  if (len < 126) b[1] = (masked ? 0x80 : 0) | len;
  else if (len < 65536) {
    b[1] = (masked ? 0x80 : 0) | 126;
    b.writeUInt16BE(len, 2);
  } else {
    b[1] = (masked ? 0x80 : 0) | 127;
    b.writeBigUInt64BE(BigInt(len), 2);
  }
  let o = head;
  if (masked) {
    const mask = randomBytes(4);
    mask.copy(b, o);
    o += 4;
    for (let i = 0; i < payload.length; i++) b[o + i] = payload[i]! ^ mask[i & 3]!;
  } else Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).copy(b, o);
  return b;
}

export function upgradeRequest(path: string, host: string, opts: { key?: string | null; version?: string; extra?: string } = {}): string {
  const key = opts.key === undefined ? randomBytes(16).toString('base64') : opts.key;
  return (
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    (key === null ? '' : `Sec-WebSocket-Key: ${key}\r\n`) +
    `Sec-WebSocket-Version: ${opts.version ?? '13'}\r\n${opts.extra ?? ''}\r\n`
  );
}

const serverLimits = serverVerifyLimits();

export interface WelcomeInfo {
  sessionId: number;
  token: Uint8Array;
}

/**
 * One attacker connection. It reads what the server sends (unless paused):
 * the HTTP status line, then, after a 101, WebSocket frames, of which it
 * keeps the close code and, if asked, the Welcome.
 */
export class RawConn {
  readonly socket: net.Socket;
  status = 0;
  closeCode = 0;
  outcome: Outcome | null = null;
  welcome: WelcomeInfo | null = null;
  /** Bytes received after the HTTP head (WebSocket frames). */
  bytesIn = 0;
  private buf: Buffer = Buffer.alloc(0);
  private inWs = false;
  private reset = false;
  private refused = false;
  private byUs = false;
  readonly closed: Promise<Outcome>;
  readonly connected: Promise<boolean>;
  private readonly waiters: Array<() => void> = [];

  constructor(host: string, port: number, localAddress: string, private readonly keepWelcome = false) {
    this.socket = net.connect({ host, port, localAddress });
    this.socket.setNoDelay(true);
    this.connected = new Promise((resolve) => {
      this.socket.once('connect', () => resolve(true));
      this.socket.once('close', () => resolve(false));
    });
    this.socket.on('data', (d: Buffer) => this.onData(d));
    this.socket.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE') this.reset = true;
      else if (e.code === 'ECONNREFUSED' || e.code === 'EADDRNOTAVAIL' || e.code === 'ETIMEDOUT') this.refused = true;
    });
    this.closed = new Promise((resolve) => {
      this.socket.once('close', () => {
        this.outcome = this.byUs
          ? 'open-at-end'
          : this.closeCode > 0
            ? `ws:${this.closeCode}`
            : this.status > 0 && this.status !== 101
              ? `http:${this.status}`
              : this.refused
                ? 'tcp:refused'
                : this.reset
                  ? 'tcp:reset'
                  : 'tcp:fin';
        this.wake();
        resolve(this.outcome);
      });
    });
  }

  get open(): boolean {
    return this.outcome === null;
  }

  get upgraded(): boolean {
    return this.inWs;
  }

  write(data: string | Uint8Array): boolean {
    if (this.outcome !== null || this.socket.destroyed) return false;
    return this.socket.write(data);
  }

  /** Stops reading (a slow reader): the kernel's buffers fill, then the server's. */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /** Waits until pred() or the socket closes or timeoutMs passes. */
  async until(pred: () => boolean, timeoutMs: number): Promise<boolean> {
    const end = performance.now() + timeoutMs;
    while (!pred() && this.outcome === null) {
      const left = end - performance.now();
      if (left <= 0) return false;
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return pred();
  }

  /** Ends the attack's hold on this socket: a socket the server left open is counted as such. */
  async finish(graceMs: number): Promise<Outcome> {
    if (this.outcome !== null) return this.outcome;
    // A paused reader has the server's FIN and close frame sitting unread: read to see them.
    this.socket.resume();
    await Promise.race([this.closed, new Promise((r) => setTimeout(r, graceMs))]);
    if (this.outcome === null) {
      this.byUs = true;
      this.socket.destroy();
      await this.closed;
    }
    return this.outcome!;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private onData(d: Buffer): void {
    if (!this.inWs && this.status === 0) {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (this.buf.length > 65536) this.buf = Buffer.alloc(0);
        return;
      }
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(this.buf.subarray(0, Math.min(end, 64)).toString('latin1'));
      this.status = m ? Number(m[1]) : -1;
      const rest = this.buf.subarray(end + 4);
      this.buf = Buffer.alloc(0);
      if (this.status === 101) {
        this.inWs = true;
        if (rest.length) this.onFrames(rest);
      }
      this.wake();
      return;
    }
    if (this.inWs) this.onFrames(d);
  }

  private onFrames(d: Buffer): void {
    this.bytesIn += d.length;
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      const op = b[0]! & 0x0f;
      let len = b[1]! & 0x7f;
      let o = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        o = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        o = 10;
      }
      if (b.length < o + len) return;
      const payload = b.subarray(o, o + len);
      if (op === WsOp.close) {
        this.closeCode = len >= 2 ? payload.readUInt16BE(0) : 1005;
        this.wake();
      } else if (op === WsOp.binary && this.keepWelcome && this.welcome === null) this.readWelcome(payload);
      this.buf = b.subarray(o + len);
    }
  }

  private readWelcome(p: Buffer): void {
    const bytes = new Uint8Array(p.buffer, p.byteOffset, p.byteLength).slice();
    if (verifyServerFrame(bytes, 0, bytes.length, serverLimits) !== 0) return;
    const f = ServerFrame.getRootAsServerFrame(new ByteBuffer(bytes));
    for (let i = 0; i < f.messagesLength(); i++) {
      const m = f.messages(i)!;
      if (m.bodyType() !== ServerBody.Welcome) continue;
      const w = m.body(new Welcome()) as Welcome;
      const t = w.resumeTokenArray();
      this.welcome = { sessionId: w.sessionId(), token: t ? t.slice() : new Uint8Array(0) };
      this.wake();
      return;
    }
  }
}

/** Opens a raw WebSocket (upgrade on `path`); resolves once the 101 arrived, or the connection ended. */
export async function rawWebSocket(host: string, port: number, path: string, localAddress: string, keepWelcome = false, timeoutMs = 5000): Promise<RawConn> {
  const c = new RawConn(host, port, localAddress, keepWelcome);
  if (await c.connected) {
    c.write(upgradeRequest(path, `${host}:${port}`));
    await c.until(() => c.status !== 0, timeoutMs);
  }
  return c;
}
