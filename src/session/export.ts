// A session handed from one owner to another (core.ts migrate / adopt), as a
// short stream of records: one `begin` with its numbers, its replay frames
// oldest first, the inputs it holds back (a portal crossing), then `end`.
// The old owner writes them (ControlPort.exported), the service passes them
// on unchanged to the new owner (CorePort.adopt), through the link rings when
// the owners are threads. One encoder and one decoder per record, here.
//
//   begin  u32 zone | u32 entity | u32 inSeq | u32 outSeq | u32 clientSeq | u32 ackSent
//          | u32 flags (SessionFlag) | i32 accountId | u32 fenceZone + 1 | f64 arrival x | f64 arrival y
//          | 16 bytes resume token | u8 name length | name (utf8)
//   frame  u32 seq | the frame's bytes
//   held   u8 1: bounced by the old zone, 0: held back | the input's bytes (a ClientMessage)
//   end    (empty)

import type { OwnedSession } from './owned.js';
import { RESUME_TOKEN_BYTES } from './session.js';
import { put32, get32, putF64, getF64 } from '../ring/le.js';

export const SessionExport = { begin: 60, frame: 61, held: 62, end: 63 } as const;

/** Bits of the begin record's flags word. */
const SessionFlag = {
  lagging: 1,
  muted: 2,
  seqUnknown: 4,
  confirmPending: 8,
  guest: 16,
  inTransit: 32,
  fenceDone: 64,
  targetKnown: 128,
  pendingWelcome: 256,
  pendingZoneChanged: 512,
} as const;

const HEADER = 40 + 16 + RESUME_TOKEN_BYTES + 1;
const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

/** What a begin record carries, decoded. Cold path (one per session moved). */
export interface ExportedSession {
  zone: number;
  entity: number;
  inSeq: number;
  outSeq: number;
  clientSeq: number;
  ackSent: number;
  lagging: boolean;
  muted: boolean;
  seqUnknown: boolean;
  confirmPending: boolean;
  inTransit: boolean;
  fenceZone: number;
  fenceDone: boolean;
  targetKnown: boolean;
  pendingWelcome: boolean;
  pendingZoneChanged: boolean;
  arrivalX: number;
  arrivalY: number;
  accountId: number;
  guest: boolean;
  name: string;
  token: Uint8Array;
}

/** The begin record of `s`, in a new array. Cold path. */
export function encodeBegin(s: OwnedSession): Uint8Array {
  const name = utf8.encode(s.identity.name).subarray(0, 255);
  const d = new Uint8Array(HEADER + name.length);
  put32(d, 0, s.zone);
  put32(d, 4, s.entity);
  put32(d, 8, s.inSeq);
  put32(d, 12, s.outSeq);
  put32(d, 16, s.clientSeq);
  put32(d, 20, s.ackSent);
  let flags = 0;
  if (s.lagging) flags |= SessionFlag.lagging;
  if (s.muted) flags |= SessionFlag.muted;
  if (s.seqUnknown) flags |= SessionFlag.seqUnknown;
  if (s.confirmPending) flags |= SessionFlag.confirmPending;
  if (s.identity.guest) flags |= SessionFlag.guest;
  if (s.inTransit) flags |= SessionFlag.inTransit;
  if (s.fenceDone) flags |= SessionFlag.fenceDone;
  if (s.targetKnown) flags |= SessionFlag.targetKnown;
  if (s.pendingWelcome) flags |= SessionFlag.pendingWelcome;
  if (s.pendingZoneChanged) flags |= SessionFlag.pendingZoneChanged;
  put32(d, 24, flags);
  put32(d, 28, s.identity.accountId | 0);
  put32(d, 32, s.fenceZone + 1);
  putF64(d, 40, s.arrivalX);
  putF64(d, 48, s.arrivalY);
  d.set(s.token.subarray(0, RESUME_TOKEN_BYTES), 56);
  d[56 + RESUME_TOKEN_BYTES] = name.length;
  d.set(name, HEADER);
  return d;
}

/** Decodes a begin record; null when it is too short to be one. Cold path. */
export function decodeBegin(d: Uint8Array, off: number, len: number): ExportedSession | null {
  if (len < HEADER) return null;
  const flags = get32(d, off + 24);
  const nameLen = d[off + 56 + RESUME_TOKEN_BYTES]!;
  if (len < HEADER + nameLen) return null;
  const name = new Uint8Array(nameLen);
  for (let i = 0; i < nameLen; i++) name[i] = d[off + HEADER + i]!;
  const token = new Uint8Array(RESUME_TOKEN_BYTES);
  for (let i = 0; i < RESUME_TOKEN_BYTES; i++) token[i] = d[off + 56 + i]!;
  return {
    zone: get32(d, off),
    entity: get32(d, off + 4),
    inSeq: get32(d, off + 8),
    outSeq: get32(d, off + 12),
    clientSeq: get32(d, off + 16),
    ackSent: get32(d, off + 20),
    lagging: (flags & SessionFlag.lagging) !== 0,
    muted: (flags & SessionFlag.muted) !== 0,
    seqUnknown: (flags & SessionFlag.seqUnknown) !== 0,
    confirmPending: (flags & SessionFlag.confirmPending) !== 0,
    guest: (flags & SessionFlag.guest) !== 0,
    inTransit: (flags & SessionFlag.inTransit) !== 0,
    fenceDone: (flags & SessionFlag.fenceDone) !== 0,
    targetKnown: (flags & SessionFlag.targetKnown) !== 0,
    pendingWelcome: (flags & SessionFlag.pendingWelcome) !== 0,
    pendingZoneChanged: (flags & SessionFlag.pendingZoneChanged) !== 0,
    accountId: get32(d, off + 28) | 0,
    fenceZone: get32(d, off + 32) - 1,
    arrivalX: getF64(d, off + 40),
    arrivalY: getF64(d, off + 48),
    name: utf8d.decode(name),
    token,
  };
}

/** A frame record: u32 seq then the frame, into `out` (grown by the caller to length + 4). */
export function encodeFrame(out: Uint8Array, seq: number, frame: Uint8Array, offset: number, length: number): number {
  put32(out, 0, seq);
  out.set(frame.subarray(offset, offset + length), 4);
  return length + 4;
}

export const frameSeq = (d: Uint8Array, off: number): number => get32(d, off);

/** A held record of `input`, in a new array (`bounced`: the old zone sent it back). Cold path. */
export function encodeHeld(input: Uint8Array, bounced: boolean): Uint8Array {
  const d = new Uint8Array(HELD_HEADER + input.length);
  d[0] = bounced ? 1 : 0;
  d.set(input, HELD_HEADER);
  return d;
}

/** A held record's input was bounced by the old zone (it goes before the ones held back). */
export const heldWasBounced = (d: Uint8Array, off: number): boolean => d[off] === 1;
/** Bytes before the frame in a frame record. */
export const FRAME_HEADER = 4;
/** Bytes before the input in a held record; byte 0 is 1 for an input the old zone bounced. */
export const HELD_HEADER = 1;
