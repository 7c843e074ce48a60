// The FlatBuffers verifier: the security boundary between untrusted bytes and
// the generated accessors. FlatBuffers' JavaScript runtime has none: its reads
// past the end return undefined/0, and a 32-byte message can claim a vector of
// 2^31 elements. Nothing may call an accessor on a buffer this did not pass.
//
// How it is built: generated from the schema by our script. scripts/
// gen-protocol.mjs reads flatc's own reflection of mmo.fbs (field slots, kinds,
// sizes, alignments, union members, enum values) and writes
// generated/verifier.ts, one straight-line function per table calling the
// hand-written primitives in verify-core.ts. The schema is never copied by
// hand; each check is written once, in verify-core.ts. (A run-time
// interpreter over the same tables measured 2x slower.)
//
// What "valid" means (all positions relative to `offset`, the message start):
//   - root offset, every table 4-byte aligned and inside the buffer; its vtable
//     2-byte aligned, inside, size even and in [4, 32767]; the table's inline
//     size in [4, 32767] and inside. The JS accessors read vtable entries as
//     int16, so anything a signed read would see differently is rejected.
//   - every present field: vtable entry >= 4, field inside the table's inline
//     bytes and aligned to its type (offsets to 4, doubles to 8, structs to
//     their minalign).
//   - every offset (table, string, vector, union value) positive as int32 (the
//     runtime reads them signed) and landing inside the buffer.
//   - vectors: length word aligned and inside, length >= 0, length x element
//     size inside, within the configured per-field limit; elements aligned.
//   - strings: as vectors of bytes, plus a zero terminator inside the buffer,
//     well-formed UTF-8, within the configured per-field byte limit.
//   - unions: the tag is a member (unknown tags rejected, unlike C++'s
//     forward-compatible verifier: our peers negotiate the protocol version);
//     tag NONE <=> no value; ClientMessage.body and ServerMessage.body required.
//   - enums hold a defined value; floats and doubles are finite.
//   - nesting depth <= maxDepth. Work is linear even for a buffer that shares
//     one table or string through many offsets (a DAG): elements of vectors of
//     tables are charged to a budget of length/4 visits (every other table is
//     visited once per visit of its parent, the schema being non-recursive)
//     and validated string bytes to a budget of `length`. An honest buffer
//     never hits either (each element costs 4 bytes, each string its length).
//     Time is O(length); nothing is allocated.
//
// Concurrency: verification reads the bytes once; the guarantee holds only if
// nobody writes them between verify and the last accessor call (a view of a
// SharedArrayBuffer is fine when its writer has published and moved on).
// Alignment is checked relative to `offset`; typed-array accessors such as
// Delta.leavesArray() additionally need buf.byteOffset + offset to be aligned.

import { VerifyError } from './codes.js';
import * as core from './verify-core.js';
import { FIELD_NAMES, FIELD_STRIDE, FIELDS, Kind } from './generated/layout.js';
import { vClientMessage, vServerFrame, vServerMessage } from './generated/verifier.js';

/** Limits for messages a client sends; each becomes a config key. Sizes of strings are UTF-8 bytes. */
export interface ClientVerifyOptions {
  /** Whole ClientMessage, bytes. */
  maxBytes: number;
  /** Table nesting depth (the schema needs 2). */
  maxDepth: number;
  /** Hello.token: the signed auth token. */
  helloTokenBytes: number;
  /** Hello.guest_name. */
  guestNameBytes: number;
  /** Hello.client_name. */
  clientNameBytes: number;
  /** Resume.token (16 bytes from the server). */
  resumeTokenBytes: number;
  /** Chat.text. */
  chatTextBytes: number;
  /** Chat.to: a whisper recipient's name. */
  chatToBytes: number;
  /** Custom.data: a game's own input payload (content onInput). */
  customDataBytes: number;
}

export const DEFAULT_CLIENT_VERIFY: Readonly<ClientVerifyOptions> = Object.freeze({
  maxBytes: 4096,
  maxDepth: 8,
  helloTokenBytes: 2048,
  guestNameBytes: 64,
  clientNameBytes: 128,
  resumeTokenBytes: 64,
  chatTextBytes: 512,
  chatToBytes: 64,
  customDataBytes: 1024,
});

/** Limits for frames a client receives from the server (the SDK). */
export interface ServerVerifyOptions {
  /** Whole ServerFrame, bytes. */
  maxBytes: number;
  /** Table nesting depth (the schema needs 4: frame, message, snapshot, entity). */
  maxDepth: number;
  /** Any string, UTF-8 bytes. */
  maxStringBytes: number;
  /** Any vector, elements. */
  maxVectorLength: number;
}

export const DEFAULT_SERVER_VERIFY: Readonly<ServerVerifyOptions> = Object.freeze({
  maxBytes: 16 * 1024 * 1024,
  maxDepth: 8,
  maxStringBytes: 8192,
  maxVectorLength: 1 << 20,
});

/** Compiled limits: build once (cold path) with clientVerifyLimits() / serverVerifyLimits() and reuse. */
export interface VerifyLimits {
  readonly maxBytes: number;
  readonly maxDepth: number;
  /** Per field row of the layout: max UTF-8 bytes (strings) or elements (vectors); -1 for other kinds. */
  readonly fieldMax: Int32Array;
}

function limitsError(message: string): Error {
  return Object.assign(new Error(message), { code: 'MMO_ERR_VERIFY_LIMITS' });
}

function fieldRow(name: string): number {
  const i = FIELD_NAMES.indexOf(name);
  if (i < 0) throw limitsError(`no field ${name} in the protocol layout`);
  return i;
}

function checkInt(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) throw limitsError(`verify limit ${name} must be an integer in [${min}, ${max}], got ${v}`);
  return v;
}

/**
 * Compiles limits. Every string and vector gets the defaults, then `fields`
 * overrides by 'Table.field' name. Throws (code MMO_ERR_VERIFY_LIMITS) on a bad value or name.
 */
export function compileVerifyLimits(
  maxBytes: number,
  maxDepth: number,
  defaultStringBytes: number,
  defaultVectorLength: number,
  fields: Readonly<Record<string, number>> = {},
): VerifyLimits {
  checkInt('maxBytes', maxBytes, 12, 0x7fffffff);
  checkInt('maxDepth', maxDepth, 1, 64);
  checkInt('stringBytes', defaultStringBytes, 0, 0x7fffffff);
  checkInt('vectorLength', defaultVectorLength, 0, 0x7fffffff);
  const n = FIELD_NAMES.length;
  const fieldMax = new Int32Array(n).fill(-1);
  for (let f = 0; f < n; f++) {
    const kind = FIELDS[f * FIELD_STRIDE + 1]!;
    if (kind === Kind.String) fieldMax[f] = defaultStringBytes;
    else if (kind === Kind.VectorScalar || kind === Kind.VectorStruct || kind === Kind.VectorTable || kind === Kind.VectorString) fieldMax[f] = defaultVectorLength;
  }
  for (const [name, v] of Object.entries(fields)) {
    const f = fieldRow(name);
    if (fieldMax[f] === -1) throw limitsError(`${name} is not a string or vector`);
    fieldMax[f] = checkInt(name, v, 0, 0x7fffffff);
  }
  return Object.freeze({ maxBytes, maxDepth, fieldMax });
}

/** Limits for verifyClientMessage (the gateway). Cold path. */
export function clientVerifyLimits(opts: Partial<ClientVerifyOptions> = {}): VerifyLimits {
  const o = { ...DEFAULT_CLIENT_VERIFY, ...opts };
  return compileVerifyLimits(o.maxBytes, o.maxDepth, 0, 0, {
    'Hello.token': o.helloTokenBytes,
    'Hello.guest_name': o.guestNameBytes,
    'Hello.client_name': o.clientNameBytes,
    'Resume.token': o.resumeTokenBytes,
    'Chat.text': o.chatTextBytes,
    'Chat.to': o.chatToBytes,
    'Custom.data': o.customDataBytes,
  });
}

/** Limits for verifyServerFrame / verifyServerMessage (the SDK, tests). Cold path. */
export function serverVerifyLimits(opts: Partial<ServerVerifyOptions> = {}): VerifyLimits {
  const o = { ...DEFAULT_SERVER_VERIFY, ...opts };
  return compileVerifyLimits(o.maxBytes, o.maxDepth, o.maxStringBytes, o.maxVectorLength);
}

// ---------------------------------------------------------------- entry points

// Each entry point calls its root function directly: one monomorphic call site each.

function start(buf: Uint8Array, offset: number, length: number, limits: VerifyLimits): number {
  // The negated comparisons also reject NaN and non-numbers.
  if (!(offset >= 0 && length >= 0 && offset + length <= buf.length) || (offset | 0) !== offset || (length | 0) !== length) return VerifyError.badRange;
  if (length > limits.maxBytes) return VerifyError.tooLarge;
  if (length < 12) return VerifyError.tooSmall;
  core.begin(offset, length, limits.maxDepth, limits.fieldMax);
  return 0;
}

/**
 * Verifies that buf[offset, offset + length) is a well-formed ClientMessage
 * within `limits`. Returns 0 (VerifyError.ok) or a VerifyError code. Never
 * throws, allocates nothing, O(length). Works on views of SharedArrayBuffer.
 */
export function verifyClientMessage(buf: Uint8Array, offset: number, length: number, limits: VerifyLimits): number {
  const s = start(buf, offset, length, limits);
  if (s !== 0) return s;
  const end = offset + length;
  const r = core.root(buf, offset, end);
  const e = r < 0 ? r : vClientMessage(buf, offset, end, r, 1);
  return e === 0 ? 0 : -e;
}

/** As verifyClientMessage, for a ServerFrame (what a client receives). */
export function verifyServerFrame(buf: Uint8Array, offset: number, length: number, limits: VerifyLimits): number {
  const s = start(buf, offset, length, limits);
  if (s !== 0) return s;
  const end = offset + length;
  const r = core.root(buf, offset, end);
  const e = r < 0 ? r : vServerFrame(buf, offset, end, r, 1);
  return e === 0 ? 0 : -e;
}

/** As verifyClientMessage, for one finished ServerMessage buffer (before it is framed). */
export function verifyServerMessage(buf: Uint8Array, offset: number, length: number, limits: VerifyLimits): number {
  const s = start(buf, offset, length, limits);
  if (s !== 0) return s;
  const end = offset + length;
  const r = core.root(buf, offset, end);
  const e = r < 0 ? r : vServerMessage(buf, offset, end, r, 1);
  return e === 0 ? 0 : -e;
}

/** Where the last failed verification failed, for a debug log line (meaningless after a success). Allocates; cold path. */
export function lastVerifyFailure(): { offset: number; field: string | null; table: string | null } {
  const row = core.ST[core.FAIL_ROW]!;
  const name = row >= 0 ? FIELD_NAMES[row]! : null;
  return { offset: core.ST[core.FAIL_AT]! - core.ST[core.BASE]!, field: name, table: name ? name.slice(0, name.indexOf('.')) : null };
}
