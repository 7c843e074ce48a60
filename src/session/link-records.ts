// The session layer's calls between the main thread and a gateway thread's
// owner (ports.ts), as records on the rings that already join them
// (net/gateway-records.ts carries the connections' own records there):
//
//   main thread ──ToSockets ring──▶ gateway thread   ToOwner.*  (CorePort calls), SessionExport.* (adopt)
//   gateway thread ──ToCore ring──▶ main thread      ToService.* (ControlPort calls), SessionExport.* (exported)
//
// One encoder (RemoteCore, RemoteControl) and one decoder (deliverToOwner,
// deliverToService) per record, here. The `session` word of a record is the
// session id (0 for the zone-wide ones). Payloads, little-endian:
//
//   ToOwner.login         u32 conn | u32 zone | i32 accountId | u8 guest | u8 name length | u16 0
//                         | 16 bytes resume token | name (utf8) | ToZone.join payload
//   ToOwner.resume        u32 conn | u32 last seq | 16 bytes token
//   ToOwner.takeover      u32 conn | 16 bytes token
//   ToOwner.migrate       u32 new owner
//   ToOwner.expect, cancel  (empty)
//   ToOwner.end           u16 close code | u8 CloseReason | u8 0 | text (utf8, <= 123 bytes)
//   ToOwner.stage         u8 1: unsequenced | 3 bytes 0 | a finished ServerMessage
//   ToOwner.toZone        u16 ToZone type | u16 0 | payload
//   ToOwner.moveZone      u32 zone | u32 0 | f64 x | f64 y | ToZone.join payload
//   ToOwner.rejoin        ToZone.join payload
//   ToOwner.mute          u8 on
//   ToOwner.rejoinBarrier, fencesLost   u32 zone (session 0)
//   ToOwner.zoneRecord    u16 zone | u16 FromZone type | payload (cluster: another node's zone)
//   ToService.zoneRecord  u16 zone (0xffff: none) | u16 FromZone type | payload
//   ToService.whisper     the ClientMessage
//   ToService.tokenConfirmed  (empty)
//   ToService.rejoined    u32 zone (session 0)
//   ToService.remoteZone  u16 zone | u16 ToZone type | payload (cluster: for another node's zone)
//   SessionExport.*       export.ts

import type { RecordSink } from '../ring/index.js';
import { put16, put32, get16, get32, putF64, getF64 } from '../ring/le.js';
import type { Socket } from '../net/gateway.js';
import type { CloseReasonIndex } from '../net/stats.js';
import { writeClose, writeMessage, writeOpen, MAX_CLOSE_TEXT } from '../net/gateway-records.js';
import { SessionExport } from './export.js';
import { RESUME_TOKEN_BYTES } from './session.js';
import type { OwnedIdentity } from './owned.js';
import type { ControlPort, CorePort } from './ports.js';

/** Main thread → a gateway thread's owner: CorePort calls. */
export const ToOwner = {
  login: 20,
  resume: 21,
  takeover: 22,
  migrate: 23,
  expect: 24,
  cancel: 25,
  end: 26,
  stage: 27,
  toZone: 28,
  moveZone: 29,
  rejoin: 30,
  rejoinBarrier: 31,
  mute: 32,
  fencesLost: 33,
  zoneRecord: 34,
} as const;

/** A gateway thread's owner → main thread: ControlPort calls. */
export const ToService = {
  zoneRecord: 40,
  whisper: 41,
  tokenConfirmed: 42,
  rejoined: 43,
  remoteZone: 44,
} as const;

const isExport = (type: number): boolean => type >= SessionExport.begin && type <= SessionExport.end;

const copyIn = (d: Uint8Array, o: number, src: Uint8Array, off: number, len: number): void => {
  for (let i = 0; i < len; i++) d[o + i] = src[off + i]!;
};
const utf8 = new TextEncoder();
const utf8d = new TextDecoder();
/** Copies out of shared memory for TextDecoder, which refuses shared views. */
const textScratch = new Uint8Array(1024);
function readText(d: Uint8Array, off: number, len: number): string {
  const n = Math.min(len, textScratch.length);
  copyIn(textScratch, 0, d, off, n);
  return utf8d.decode(textScratch.subarray(0, n));
}

/** A record of `length` bytes copied from `src`; false when it could not be written. */
function writeBytes(sink: RecordSink, type: number, id: number, src: Uint8Array, offset: number, length: number): boolean {
  const o = sink.reserve(type, id, length);
  if (o < 0) return false;
  copyIn(sink.data, o, src, offset, length);
  return true;
}

function writeU32(sink: RecordSink, type: number, id: number, v: number): boolean {
  const o = sink.reserve(type, id, 4);
  if (o < 0) return false;
  put32(sink.data, o, v);
  return true;
}

/** u16 zone (0xffff: none) | u16 record type | payload: ToOwner.zoneRecord and ToService.zoneRecord / remoteZone. */
function writeZoneTyped(sink: RecordSink, record: number, zone: number, type: number, id: number, data: Uint8Array | null, offset: number, length: number): boolean {
  const n = data ? length : 0;
  const o = sink.reserve(record, id, 4 + n);
  if (o < 0) return false;
  const d = sink.data;
  put16(d, o, zone < 0 ? 0xffff : zone);
  put16(d, o + 2, type);
  if (data) copyIn(d, o + 4, data, offset, n);
  return true;
}

/** Where a link writer's records go: a ring producer that never refuses (SpillingProducer), and when to publish. */
export interface LinkSink {
  readonly sink: RecordSink;
  /** Publishes what was written, at the end of this batch. */
  commitSoon(): void;
  /** Publishes what was written now (before another ring's record that must not overtake it). */
  commitNow(): void;
}

const LOGIN_HEAD = 16 + RESUME_TOKEN_BYTES;

/** The main thread's handle on a gateway thread's owner: CorePort calls become ToOwner records. */
export class RemoteCore implements CorePort {
  /** The thread is up: a zone-wide barrier sent to a dead thread is answered here at once. */
  alive = false;
  /** Answers the barrier for a thread that is not up (the service's rejoined). */
  onDeadBarrier: ((zone: number) => void) | null = null;
  private link: LinkSink | null = null;

  constructor(readonly index: number) {}

  /** The thread's current rings (set at each spawn). */
  attach(link: LinkSink): void {
    this.link = link;
  }

  private begin(type: number, session: number, length: number): number {
    const l = this.link;
    if (!l) return -1;
    return l.sink.reserve(type, session, length);
  }

  private get d(): Uint8Array {
    return this.link!.sink.data;
  }

  private done(): void {
    this.link!.commitSoon();
  }

  login(conn: number, id: number, identity: OwnedIdentity, zone: number, token: Uint8Array, join: Uint8Array, joinOffset: number, joinLength: number): void {
    const name = utf8.encode(identity.name).subarray(0, 255);
    const o = this.begin(ToOwner.login, id, LOGIN_HEAD + name.length + joinLength);
    if (o < 0) return;
    const d = this.d;
    put32(d, o, conn);
    put32(d, o + 4, zone);
    put32(d, o + 8, identity.accountId | 0);
    d[o + 12] = identity.guest ? 1 : 0;
    d[o + 13] = name.length;
    put16(d, o + 14, 0);
    copyIn(d, o + 16, token, 0, RESUME_TOKEN_BYTES);
    copyIn(d, o + LOGIN_HEAD, name, 0, name.length);
    copyIn(d, o + LOGIN_HEAD + name.length, join, joinOffset, joinLength);
    this.done();
  }

  resume(conn: number, id: number, lastSeq: number, token: Uint8Array): void {
    const o = this.begin(ToOwner.resume, id, 8 + RESUME_TOKEN_BYTES);
    if (o < 0) return;
    const d = this.d;
    put32(d, o, conn);
    put32(d, o + 4, lastSeq);
    copyIn(d, o + 8, token, 0, RESUME_TOKEN_BYTES);
    this.done();
  }

  takeover(conn: number, id: number, token: Uint8Array): void {
    const o = this.begin(ToOwner.takeover, id, 4 + RESUME_TOKEN_BYTES);
    if (o < 0) return;
    const d = this.d;
    put32(d, o, conn);
    copyIn(d, o + 4, token, 0, RESUME_TOKEN_BYTES);
    this.done();
  }

  migrate(id: number, to: number): void {
    this.u32(ToOwner.migrate, id, to);
  }

  /** Published at once: the old owner's rebind, and the zone's records that follow it here, must find it read first. */
  expect(id: number): void {
    if (this.begin(ToOwner.expect, id, 0) >= 0) this.link!.commitNow();
  }

  cancel(id: number): void {
    this.empty(ToOwner.cancel, id);
  }

  adopt(type: number, id: number, data: Uint8Array, offset: number, length: number): void {
    this.bytes(type, id, data, offset, length);
  }

  end(id: number, code: number, reason: CloseReasonIndex, text: string): void {
    const t = utf8.encode(text.length > MAX_CLOSE_TEXT ? text.slice(0, MAX_CLOSE_TEXT) : text).subarray(0, MAX_CLOSE_TEXT);
    const o = this.begin(ToOwner.end, id, 4 + t.length);
    if (o < 0) return;
    const d = this.d;
    put16(d, o, code);
    d[o + 2] = reason;
    d[o + 3] = 0;
    copyIn(d, o + 4, t, 0, t.length);
    this.done();
  }

  stage(id: number, bytes: Uint8Array, offset: number, length: number, unsequenced: boolean): void {
    const o = this.begin(ToOwner.stage, id, 4 + length);
    if (o < 0) return;
    const d = this.d;
    put32(d, o, unsequenced ? 1 : 0);
    copyIn(d, o + 4, bytes, offset, length);
    this.done();
  }

  toZone(id: number, type: number, bytes: Uint8Array | null, offset: number, length: number): void {
    const n = bytes ? length : 0;
    const o = this.begin(ToOwner.toZone, id, 4 + n);
    if (o < 0) return;
    const d = this.d;
    put16(d, o, type);
    put16(d, o + 2, 0);
    if (bytes) copyIn(d, o + 4, bytes, offset, n);
    this.done();
  }

  moveZone(id: number, zone: number, x: number, y: number, join: Uint8Array, offset: number, length: number): void {
    const o = this.begin(ToOwner.moveZone, id, 24 + length);
    if (o < 0) return;
    const d = this.d;
    put32(d, o, zone);
    put32(d, o + 4, 0);
    putF64(d, o + 8, x);
    putF64(d, o + 16, y);
    copyIn(d, o + 24, join, offset, length);
    this.done();
  }

  rejoin(id: number, join: Uint8Array, offset: number, length: number): void {
    this.bytes(ToOwner.rejoin, id, join, offset, length);
  }

  rejoinBarrier(zone: number): void {
    if (!this.alive) {
      this.onDeadBarrier?.(zone);
      return;
    }
    this.u32(ToOwner.rejoinBarrier, 0, zone);
  }

  mute(id: number, on: boolean): void {
    this.u32(ToOwner.mute, id, on ? 1 : 0);
  }

  fencesLost(zone: number): void {
    this.u32(ToOwner.fencesLost, 0, zone);
  }

  zoneRecord(zone: number, type: number, id: number, data: Uint8Array, offset: number, length: number): void {
    if (this.link && writeZoneTyped(this.link.sink, ToOwner.zoneRecord, zone, type, id, data, offset, length)) this.done();
  }

  private empty(type: number, id: number): void {
    if (this.begin(type, id, 0) >= 0) this.done();
  }

  private u32(type: number, id: number, v: number): void {
    if (this.link && writeU32(this.link.sink, type, id, v)) this.done();
  }

  private bytes(type: number, id: number, src: Uint8Array, offset: number, length: number): void {
    if (this.link && writeBytes(this.link.sink, type, id, src, offset, length)) this.done();
  }
}

/**
 * Gateway thread side: a ToOwner or SessionExport record from the main
 * thread becomes the CorePort call. False when `type` is not one (a
 * connection's record, gateway-records.ts).
 */
export function deliverToOwner(core: CorePort, type: number, session: number, d: Uint8Array, o: number, len: number): boolean {
  switch (type) {
    case ToOwner.login: {
      if (len < LOGIN_HEAD) return true;
      const nameLen = d[o + 13]!;
      const token = d.slice(o + 16, o + 16 + RESUME_TOKEN_BYTES);
      const name = readText(d, o + LOGIN_HEAD, nameLen);
      const j = o + LOGIN_HEAD + nameLen;
      core.login(get32(d, o), session, { name, accountId: get32(d, o + 8) | 0, guest: d[o + 12] === 1 }, get32(d, o + 4), token, d, j, len - LOGIN_HEAD - nameLen);
      return true;
    }
    case ToOwner.resume:
      core.resume(get32(d, o), session, get32(d, o + 4), d.slice(o + 8, o + 8 + RESUME_TOKEN_BYTES));
      return true;
    case ToOwner.takeover:
      core.takeover(get32(d, o), session, d.slice(o + 4, o + 4 + RESUME_TOKEN_BYTES));
      return true;
    case ToOwner.migrate:
      core.migrate(session, get32(d, o));
      return true;
    case ToOwner.expect:
      core.expect(session);
      return true;
    case ToOwner.cancel:
      core.cancel(session);
      return true;
    case ToOwner.end:
      core.end(session, get16(d, o), d[o + 2]! as CloseReasonIndex, readText(d, o + 4, len - 4));
      return true;
    case ToOwner.stage:
      core.stage(session, d, o + 4, len - 4, d[o] === 1);
      return true;
    case ToOwner.toZone:
      core.toZone(session, get16(d, o), len > 4 ? d : null, o + 4, len - 4);
      return true;
    case ToOwner.moveZone:
      core.moveZone(session, get32(d, o), getF64(d, o + 8), getF64(d, o + 16), d, o + 24, len - 24);
      return true;
    case ToOwner.rejoin:
      core.rejoin(session, d, o, len);
      return true;
    case ToOwner.rejoinBarrier:
      core.rejoinBarrier(get32(d, o));
      return true;
    case ToOwner.mute:
      core.mute(session, get32(d, o) === 1);
      return true;
    case ToOwner.fencesLost:
      core.fencesLost(get32(d, o));
      return true;
    case ToOwner.zoneRecord:
      core.zoneRecord(get16(d, o), get16(d, o + 2), session, d, o + 4, len - 4);
      return true;
    default:
      if (!isExport(type)) return false;
      core.adopt(type, session, d, o, len);
      return true;
  }
}

/**
 * A gateway thread's side of the service: ControlPort calls become records
 * on its ToCore ring (the connections' through gateway-records.ts, the
 * sessions' as ToService records).
 */
export class RemoteControl implements ControlPort {
  constructor(private readonly link: LinkSink) {}

  open(ws: Socket): void {
    const u = ws.getUserData();
    if (writeOpen(this.link.sink, u.id, u.ip)) this.link.commitSoon();
  }

  message(ws: Socket, data: Uint8Array, offset: number, length: number, isBinary: boolean): void {
    if (writeMessage(this.link.sink, ws.getUserData().id, isBinary, offset === 0 && length === data.length ? data : data.subarray(offset, offset + length))) this.link.commitSoon();
  }

  close(ws: Socket, code: number, reason: CloseReasonIndex): void {
    if (writeClose(this.link.sink, ws.getUserData().id, code, reason)) this.link.commitSoon();
  }

  zoneRecord(zone: number, type: number, id: number, data: Uint8Array, offset: number, length: number): void {
    if (writeZoneTyped(this.link.sink, ToService.zoneRecord, zone, type, id, data, offset, length)) this.link.commitSoon();
  }

  remoteZone(zone: number, type: number, id: number, data: Uint8Array, offset: number, length: number): void {
    if (writeZoneTyped(this.link.sink, ToService.remoteZone, zone, type, id, data, offset, length)) this.link.commitSoon();
  }

  whisper(id: number, data: Uint8Array, offset: number, length: number): void {
    this.bytes(ToService.whisper, id, data, offset, length);
  }

  tokenConfirmed(id: number): void {
    if (this.link.sink.reserve(ToService.tokenConfirmed, id, 0) >= 0) this.link.commitSoon();
  }

  exported(type: number, id: number, data: Uint8Array, offset: number, length: number): void {
    this.bytes(type, id, data, offset, length);
  }

  rejoined(zone: number): void {
    this.u32(ToService.rejoined, zone);
  }

  private u32(type: number, v: number): void {
    if (writeU32(this.link.sink, type, 0, v)) this.link.commitSoon();
  }

  private bytes(type: number, id: number, src: Uint8Array, offset: number, length: number): void {
    if (writeBytes(this.link.sink, type, id, src, offset, length)) this.link.commitSoon();
  }
}

/**
 * Main thread side: a ToService or SessionExport record from a gateway
 * thread becomes the ControlPort call. False when `type` is not one.
 */
export function deliverToService(control: ControlPort, type: number, session: number, d: Uint8Array, o: number, len: number): boolean {
  switch (type) {
    case ToService.zoneRecord: {
      const z = get16(d, o);
      control.zoneRecord(z === 0xffff ? -1 : z, get16(d, o + 2), session, d, o + 4, len - 4);
      return true;
    }
    case ToService.whisper:
      control.whisper(session, d, o, len);
      return true;
    case ToService.tokenConfirmed:
      control.tokenConfirmed(session);
      return true;
    case ToService.rejoined:
      control.rejoined(get32(d, o));
      return true;
    case ToService.remoteZone:
      control.remoteZone(get16(d, o), get16(d, o + 2), session, d, o + 4, len - 4);
      return true;
    default:
      if (!isExport(type)) return false;
      control.exported(type, session, d, o, len);
      return true;
  }
}
