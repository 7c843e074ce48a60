// Records about connections on the rings between a gateway thread and the
// main thread, with one encoder and one decoder for each, used by both sides
// (the sessions' own records share these rings: session/link-records.ts).
//
//   gateway thread ──ToCore SPSC──▶ main thread      (one ring per gateway thread,
//                                                     all on one doorbell)
//   main thread    ──ToSockets SPSC─▶ gateway thread (one ring per gateway thread)
//
// The record header's `session` word carries the connection id. Upgrades are
// admitted on the gateway thread itself (session/shared-admission.ts). Only
// a connection with no session yet sends its messages here (Hello, Resume);
// once in a session, its thread's owner serves it. Payload layouts,
// little-endian:
//
//   ToCore.open       ip (latin1)
//   ToCore.message    the WebSocket message bytes (binary)
//   ToCore.text       the WebSocket message bytes (a text frame)
//   ToCore.close      u16 close code | u8 CloseReason index | u8 0
//   ToSockets.send    one WebSocket frame's bytes
//   ToSockets.end     u16 close code | u8 CloseReason index | u8 0 | reason text (utf8, <= 123 bytes)
//   ToSockets.fault   u8 GatewayFault | 3 bytes 0 | u32 argument (debug.faultInjection; stall: ms)

import type { RecordSink } from '../ring/index.js';
import { copyBytes } from '../ring/index.js';

/** Gateway thread → main thread. */
export const ToCore = { open: 2, message: 3, text: 4, close: 7 } as const;

/** Main thread → gateway thread. */
export const ToSockets = { send: 1, end: 2, fault: 4 } as const;

/** What a gateway thread is told to do wrong on purpose (debug.faultInjection). */
export const GatewayFault = {
  /** Throw while handling the main thread's output (mid-flush): the thread dies, its players resume elsewhere. */
  throwInFlush: 1,
  /** Block the thread's event loop for the argument's ms (a long GC): its players' inputs arrive bunched after it. */
  stall: 2,
} as const;

/** Most gateway threads one process runs: connection ids keep the thread index in their low 4 bits. */
export const MAX_GATEWAY_THREADS = 16;
const THREAD_BITS = 4;
const THREAD_MASK = MAX_GATEWAY_THREADS - 1;

/** The n-th connection accepted by gateway thread `thread` (n from 1; wraps after 2^28). */
export function connId(thread: number, n: number): number {
  return (((n << THREAD_BITS) | thread) >>> 0) as number;
}

/** The gateway thread a connection id belongs to. */
export function threadOfConn(id: number): number {
  return id & THREAD_MASK;
}

/** Longest close reason text a close frame carries (125 bytes less the code). */
export const MAX_CLOSE_TEXT = 123;

// ------------------------------------------------------------------ encoders
// Each returns false when the ring is full; the caller decides what that costs.

const latin1 = (dst: Uint8Array, off: number, s: string): void => {
  for (let i = 0; i < s.length; i++) dst[off + i] = s.charCodeAt(i) & 0xff;
};

export function writeOpen(r: RecordSink, conn: number, ip: string): boolean {
  const off = r.reserve(ToCore.open, conn, ip.length);
  if (off < 0) return false;
  latin1(r.data, off, ip);
  return true;
}

/** Hot: one per inbound WebSocket message. Copies the bytes (uWS neuters them after the callback). */
export function writeMessage(r: RecordSink, conn: number, binary: boolean, src: Uint8Array): boolean {
  const n = src.length;
  const off = r.reserve(binary ? ToCore.message : ToCore.text, conn, n);
  if (off < 0) return false;
  copyBytes(src, 0, r.data, off, n);
  return true;
}

export function writeClose(r: RecordSink, conn: number, code: number, reason: number): boolean {
  const off = r.reserve(ToCore.close, conn, 4);
  if (off < 0) return false;
  const d = r.data;
  d[off] = code & 0xff;
  d[off + 1] = (code >>> 8) & 0xff;
  d[off + 2] = reason;
  d[off + 3] = 0;
  return true;
}

/** Hot: one per outbound frame. */
export function writeSend(r: RecordSink, conn: number, frame: Uint8Array, offset: number, length: number): boolean {
  const off = r.reserve(ToSockets.send, conn, length);
  if (off < 0) return false;
  copyBytes(frame, offset, r.data, off, length);
  return true;
}

const utf8 = new TextEncoder();
const endScratch = new Uint8Array(MAX_CLOSE_TEXT * 3);

/** Cold-ish (one per server-side close). The text is cut to MAX_CLOSE_TEXT bytes. */
export function writeEnd(r: RecordSink, conn: number, code: number, reason: number, text: string): boolean {
  const enc = utf8.encodeInto(text.length > MAX_CLOSE_TEXT ? text.slice(0, MAX_CLOSE_TEXT) : text, endScratch);
  const n = Math.min(enc.written, MAX_CLOSE_TEXT);
  const off = r.reserve(ToSockets.end, conn, 4 + n);
  if (off < 0) return false;
  const d = r.data;
  d[off] = code & 0xff;
  d[off + 1] = (code >>> 8) & 0xff;
  d[off + 2] = reason;
  d[off + 3] = 0;
  copyBytes(endScratch, 0, d, off + 4, n);
  return true;
}

export function writeFault(r: RecordSink, mode: number, arg = 0): boolean {
  const off = r.reserve(ToSockets.fault, 0, 8);
  if (off < 0) return false;
  const d = r.data;
  d[off] = mode;
  d[off + 1] = d[off + 2] = d[off + 3] = 0;
  d[off + 4] = arg & 0xff;
  d[off + 5] = (arg >>> 8) & 0xff;
  d[off + 6] = (arg >>> 16) & 0xff;
  d[off + 7] = (arg >>> 24) & 0xff;
  return true;
}

/** ToSockets.fault: the argument (ms for a stall). */
export function readFaultArg(d: Uint8Array, off: number): number {
  return (d[off + 4]! | (d[off + 5]! << 8) | (d[off + 6]! << 16) | (d[off + 7]! << 24)) >>> 0;
}

// ------------------------------------------------------------------ decoders
// Read a payload at `off` of `d` (the view a drain handler is given).

/** Cold-ish: allocates the string. */
export function readLatin1(d: Uint8Array, off: number, len: number): string {
  let s = '';
  for (let i = 0; i < len; i++) s += String.fromCharCode(d[off + i]!);
  return s;
}

/** ToCore.close and ToSockets.end: the close code. */
export function readCloseCode(d: Uint8Array, off: number): number {
  return d[off]! | (d[off + 1]! << 8);
}

/** ToCore.close and ToSockets.end: the CloseReason index. */
export function readCloseReason(d: Uint8Array, off: number): number {
  return d[off + 2]!;
}

const utf8d = new TextDecoder();

/** ToSockets.end: the reason text. Cold-ish: copies out of shared memory (TextDecoder refuses shared views). */
export function readEndText(d: Uint8Array, off: number, length: number): string {
  const n = length - 4;
  if (n <= 0) return '';
  copyBytes(d, off + 4, endScratch, 0, n);
  return utf8d.decode(endScratch.subarray(0, n));
}

