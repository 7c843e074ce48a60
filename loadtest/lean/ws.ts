// A minimal WebSocket client codec (RFC 6455) for the lean bots: the upgrade
// request and its answer, a frame reader that takes the bytes of a socket as
// they come (frames split over reads, several frames in one read, fragmented
// messages, control frames between fragments) and a masking frame writer.
// Written for the bots rather than taken from `ws`: ws costs an EventEmitter
// emit, a Buffer per message and a receiver Writable per socket; here a
// complete frame inside a read is handed over in place (no copy, no
// allocation), only a frame split across reads is copied into the
// connection's carry buffer, and only a fragmented message into its message
// buffer. No extensions (permessage-deflate is never offered), no text
// validation (the protocol is binary; a text message is reported as such).
//
//   frame:  0      1      2..          ..      ..
//          [FIN|op][M|len7][len16|len64][mask4][payload]
//   len7 126: 16-bit length follows; 127: 64-bit (we accept < 2^32).

import { createHash } from 'node:crypto';

export const WsOp = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

/** What the reader reports. Byte ranges are valid only during the call. */
export interface WsSink {
  /** A whole message (a single frame, or the fragments put together). */
  onWsMessage(bytes: Buffer, offset: number, length: number, binary: boolean): void;
  onWsPing(bytes: Buffer, offset: number, length: number): void;
  onWsPong(bytes: Buffer, offset: number, length: number): void;
  /** code 1005 when the close frame carried none. */
  onWsClose(code: number, bytes: Buffer, offset: number, length: number): void;
  /** The peer broke the framing rules; the reader stops (feed() returns false from then on). */
  onWsError(reason: string): void;
}

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Sec-WebSocket-Accept for a key (RFC 6455 4.2.2). Cold path. */
export function acceptFor(key: string): string {
  return createHash('sha1').update(key + GUID).digest('base64');
}

/** A Sec-WebSocket-Key: base64 of 16 bytes from `random` (a bot's seeded generator: the key proves nothing, it only has to be well-formed). */
export function makeKey(random: () => number): string {
  const b = Buffer.allocUnsafe(16);
  for (let i = 0; i < 16; i++) b[i] = Math.floor(random() * 256);
  return b.toString('base64');
}

/** The upgrade request (cold path: once per connection attempt, one string). */
export function upgradeRequest(host: string, path: string, key: string): string {
  return `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nUser-Agent: mmo-loadtest-lean\r\n\r\n`;
}

export interface UpgradeAnswer {
  /** HTTP status (101 when upgraded). */
  status: number;
  /** Index just past the blank line: frames start there. */
  end: number;
  /** Lower-cased header names to values. */
  headers: Map<string, string>;
}

/**
 * Parses an HTTP answer in bytes[0, length): null while the blank line has not
 * arrived yet; throws (code MMO_ERR_LEAN_HANDSHAKE) on a status line that is
 * not HTTP. Cold path: allocates strings.
 */
export function parseUpgradeAnswer(bytes: Buffer, length: number): UpgradeAnswer | null {
  let end = -1;
  for (let i = 3; i < length; i++) {
    if (bytes[i] === 10 && bytes[i - 1] === 13 && bytes[i - 2] === 10 && bytes[i - 3] === 13) {
      end = i + 1;
      break;
    }
  }
  if (end < 0) return null;
  const lines = bytes.toString('latin1', 0, end - 4).split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (!m) throw Object.assign(new Error(`not an HTTP answer: ${JSON.stringify((lines[0] ?? '').slice(0, 60))}`), { code: 'MMO_ERR_LEAN_HANDSHAKE' });
  const headers = new Map<string, string>();
  for (let i = 1; i < lines.length; i++) {
    const l = lines[i]!;
    const c = l.indexOf(':');
    if (c > 0) headers.set(l.slice(0, c).trim().toLowerCase(), l.slice(c + 1).trim());
  }
  return { status: Number(m[1]), end, headers };
}

/** Most bytes a frame header takes (2 + 8 length + 4 mask). */
export const MAX_HEADER = 14;

/**
 * Reads a server's frames from consecutive chunks of a byte stream. One per
 * connection; reset() before reusing it on a new one. Allocation: none per
 * frame; the carry and message buffers grow (doubling) to the largest split
 * frame / fragmented message seen, and a carry above 64 KiB is let go once
 * its frame is read (snapshots are rare, 10,000 idle 64 KiB buffers are not).
 */
export class WsReader {
  private carry: Buffer;
  private carryLen = 0;
  private msg: Buffer;
  private msgLen = 0;
  /** Opcode of the fragmented message being gathered, or 0. */
  private fragOp = 0;
  private failed = false;
  // The last parsed header (set by header(), read by the caller right after).
  private hLen = 0;
  private pLen = 0;
  private op = 0;
  private fin = false;

  constructor(
    private readonly sink: WsSink,
    /** Largest message accepted (frame or fragments together). */
    readonly maxMessage = 1 << 22,
    private readonly initialCarry = 2048,
  ) {
    this.carry = Buffer.allocUnsafe(initialCarry);
    this.msg = Buffer.allocUnsafe(0);
  }

  reset(): void {
    this.carryLen = 0;
    this.msgLen = 0;
    this.fragOp = 0;
    this.failed = false;
  }

  /** Bytes held over from a split frame (tests). */
  get carried(): number {
    return this.carryLen;
  }

  /** Feeds bytes[start, end). Returns false once the stream is broken (after onWsError). */
  feed(bytes: Buffer, start: number, end: number): boolean {
    if (this.failed) return false;
    let p = start;
    if (this.carryLen > 0) {
      // Complete the header a byte at a time (at most 13 bytes), then the frame in one copy.
      let total = this.header(this.carry, 0, this.carryLen);
      while (total === -1) {
        if (p >= end) return true;
        this.carry[this.carryLen++] = bytes[p++]!;
        total = this.header(this.carry, 0, this.carryLen);
      }
      if (total === -2) return false;
      if (total > this.carry.length) this.growCarry(total);
      const take = Math.min(total - this.carryLen, end - p);
      bytes.copy(this.carry, this.carryLen, p, p + take);
      this.carryLen += take;
      p += take;
      if (this.carryLen < total) return true;
      this.carryLen = 0;
      const big = this.carry.length > 65536;
      this.frame(this.carry, this.hLen);
      if (big) this.carry = Buffer.allocUnsafe(this.initialCarry);
      if (this.failed) return false;
    }
    while (p < end) {
      const avail = end - p;
      const total = this.header(bytes, p, avail);
      if (total === -2) return false;
      if (total === -1 || total > avail) {
        const keep = total > 0 ? total : MAX_HEADER;
        if (keep > this.carry.length) this.growCarry(keep);
        bytes.copy(this.carry, 0, p, end);
        this.carryLen = avail;
        return true;
      }
      this.frame(bytes, p + this.hLen);
      if (this.failed) return false;
      p += total;
    }
    return true;
  }

  private growCarry(n: number): void {
    let size = this.carry.length;
    while (size < n) size *= 2;
    const c = Buffer.allocUnsafe(size);
    this.carry.copy(c, 0, 0, this.carryLen);
    this.carry = c;
  }

  /** Total frame size when the header at b[p..] is complete, -1 when more bytes are needed, -2 on a broken header. */
  private header(b: Buffer, p: number, avail: number): number {
    if (avail < 2) return -1;
    const b0 = b[p]!;
    const b1 = b[p + 1]!;
    if ((b0 & 0x70) !== 0) return this.fail('reserved bits set (no extension was negotiated)');
    if ((b1 & 0x80) !== 0) return this.fail('a server frame is masked');
    let len = b1 & 0x7f;
    let h = 2;
    if (len === 126) {
      if (avail < 4) return -1;
      len = (b[p + 2]! << 8) | b[p + 3]!;
      h = 4;
    } else if (len === 127) {
      if (avail < 10) return -1;
      if (b[p + 2]! !== 0 || b[p + 3]! !== 0 || b[p + 4]! !== 0 || b[p + 5]! !== 0) return this.fail('frame longer than 4 GiB');
      len = b[p + 6]! * 0x1000000 + ((b[p + 7]! << 16) | (b[p + 8]! << 8) | b[p + 9]!);
      h = 10;
    }
    if (len > this.maxMessage) return this.fail(`frame of ${len} bytes (limit ${this.maxMessage})`);
    this.hLen = h;
    this.pLen = len;
    this.op = b0 & 0x0f;
    this.fin = (b0 & 0x80) !== 0;
    return h + len;
  }

  private fail(reason: string): -2 {
    this.failed = true;
    this.sink.onWsError(reason);
    return -2;
  }

  /** The frame whose header header() just read; payload at b[at, at + pLen). */
  private frame(b: Buffer, at: number): void {
    const op = this.op;
    const len = this.pLen;
    if (op >= 8) {
      if (!this.fin || len > 125) {
        this.fail('fragmented or oversized control frame');
        return;
      }
      if (op === WsOp.close) this.sink.onWsClose(len >= 2 ? (b[at]! << 8) | b[at + 1]! : 1005, b, at + (len >= 2 ? 2 : 0), len >= 2 ? len - 2 : 0);
      else if (op === WsOp.ping) this.sink.onWsPing(b, at, len);
      else if (op === WsOp.pong) this.sink.onWsPong(b, at, len);
      else this.fail(`unknown control opcode ${op}`);
      return;
    }
    if (op === WsOp.text || op === WsOp.binary) {
      if (this.fragOp !== 0) {
        this.fail('a new message began inside a fragmented one');
        return;
      }
      if (this.fin) {
        this.sink.onWsMessage(b, at, len, op === WsOp.binary);
        return;
      }
      this.fragOp = op;
      this.msgLen = 0;
    } else if (op === WsOp.continuation) {
      if (this.fragOp === 0) {
        this.fail('a continuation frame outside a fragmented message');
        return;
      }
    } else {
      this.fail(`unknown opcode ${op}`);
      return;
    }
    const need = this.msgLen + len;
    if (need > this.maxMessage) {
      this.fail(`fragmented message of more than ${this.maxMessage} bytes`);
      return;
    }
    if (need > this.msg.length) {
      let size = Math.max(1024, this.msg.length);
      while (size < need) size *= 2;
      const m = Buffer.allocUnsafe(size);
      this.msg.copy(m, 0, 0, this.msgLen);
      this.msg = m;
    }
    b.copy(this.msg, this.msgLen, at, at + len);
    this.msgLen = need;
    if (this.fin) {
      const binary = this.fragOp === WsOp.binary;
      this.fragOp = 0;
      this.msgLen = 0;
      this.sink.onWsMessage(this.msg, 0, need, binary);
    }
  }
}

/** Bytes a masked client frame of `length` payload bytes takes. */
export function maskedFrameSize(length: number): number {
  return length + (length < 126 ? 6 : length < 65536 ? 8 : 14);
}

/**
 * Writes one final, masked client frame of opcode `op` carrying
 * payload[off, off + len) at out[at ..] (the caller makes room: see
 * maskedFrameSize). `mask` is the 32-bit masking key. Returns the bytes
 * written. Allocates nothing.
 */
export function writeMaskedFrame(out: Buffer, at: number, op: number, payload: Uint8Array, off: number, len: number, mask: number): number {
  let p = at;
  out[p++] = 0x80 | op;
  if (len < 126) out[p++] = 0x80 | len;
  else if (len < 65536) {
    out[p++] = 0x80 | 126;
    out[p++] = len >>> 8;
    out[p++] = len & 0xff;
  } else {
    out[p++] = 0x80 | 127;
    out[p++] = 0;
    out[p++] = 0;
    out[p++] = 0;
    out[p++] = 0;
    out[p++] = len >>> 24;
    out[p++] = (len >>> 16) & 0xff;
    out[p++] = (len >>> 8) & 0xff;
    out[p++] = len & 0xff;
  }
  const m0 = mask >>> 24;
  const m1 = (mask >>> 16) & 0xff;
  const m2 = (mask >>> 8) & 0xff;
  const m3 = mask & 0xff;
  out[p++] = m0;
  out[p++] = m1;
  out[p++] = m2;
  out[p++] = m3;
  let i = 0;
  for (; i + 3 < len; i += 4) {
    out[p++] = payload[off + i]! ^ m0;
    out[p++] = payload[off + i + 1]! ^ m1;
    out[p++] = payload[off + i + 2]! ^ m2;
    out[p++] = payload[off + i + 3]! ^ m3;
  }
  for (; i < len; i++) out[p++] = payload[off + i]! ^ (i % 4 === 0 ? m0 : i % 4 === 1 ? m1 : i % 4 === 2 ? m2 : m3);
  return p - at;
}
