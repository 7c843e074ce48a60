// The FlatBuffers verifier: the security boundary between untrusted bytes and
// the generated accessors. FlatBuffers' JavaScript runtime has none: its reads
// past the end return undefined/0, and a 32-byte message can claim a vector of
// 2^31 elements. Nothing may call an accessor on a buffer this did not pass.
//
// How it is built: an interpreter over src/protocol/generated/layout.ts, which
// scripts/gen-protocol.mjs writes from flatc's own reflection of mmo.fbs (field
// slots, kinds, sizes, alignments, union members, enum values). The schema is
// therefore never copied by hand; the checks are written once, here.
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
//   - nesting depth <= maxDepth; at most length/4 tables and `length` string
//     bytes are visited in total. Every table costs >= 4 bytes and every string
//     its length, so an honest buffer never hits these; a buffer that shares
//     one table or string through many offsets (a DAG) would otherwise cost
//     more than linear time. Time is O(length); nothing is allocated.
//
// Concurrency: verification reads the bytes once; the guarantee holds only if
// nobody writes them between verify and the last accessor call (a view of a
// SharedArrayBuffer is fine when its writer has published and moved on).
// Alignment is checked relative to `offset`; typed-array accessors such as
// Delta.leavesArray() additionally need buf.byteOffset + offset to be aligned.

import { VerifyError } from './codes.js';
import { isValidUtf8 } from './utf8.js';
import { ENUM_VALUES, FIELD_NAMES, FIELD_STRIDE, FIELDS, Kind, Table, TABLE_FIELDS, TABLE_NAMES, UNION_MEMBERS } from './generated/layout.js';

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
  /** Per field row: 1 when the field must be present. */
  readonly required: Uint8Array;
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
 * overrides by 'Table.field' name. ClientMessage.body and ServerMessage.body
 * are required. Throws (code MMO_ERR_VERIFY_LIMITS) on a bad value or name.
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
  const required = new Uint8Array(n);
  for (let f = 0; f < n; f++) {
    const kind = FIELDS[f * FIELD_STRIDE + 1]!;
    if (kind === Kind.String) fieldMax[f] = defaultStringBytes;
    else if (kind === Kind.VectorScalar || kind === Kind.VectorStruct || kind === Kind.VectorTable || kind === Kind.VectorString) fieldMax[f] = defaultVectorLength;
    required[f] = FIELDS[f * FIELD_STRIDE + 6]!;
  }
  for (const [name, v] of Object.entries(fields)) {
    const f = fieldRow(name);
    if (fieldMax[f] === -1) throw limitsError(`${name} is not a string or vector`);
    fieldMax[f] = checkInt(name, v, 0, 0x7fffffff);
  }
  required[fieldRow('ClientMessage.body')] = 1;
  required[fieldRow('ServerMessage.body')] = 1;
  return Object.freeze({ maxBytes, maxDepth, fieldMax, required });
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
  });
}

/** Limits for verifyServerFrame / verifyServerMessage (the SDK, tests). Cold path. */
export function serverVerifyLimits(opts: Partial<ServerVerifyOptions> = {}): VerifyLimits {
  const o = { ...DEFAULT_SERVER_VERIFY, ...opts };
  return compileVerifyLimits(o.maxBytes, o.maxDepth, o.maxStringBytes, o.maxVectorLength);
}

// ---------------------------------------------------------------- interpreter

// Valid values of each one-byte enum, 256 entries per enum.
const ENUM_OK = new Uint8Array(ENUM_VALUES.length * 256);
ENUM_VALUES.forEach((values, e) => {
  for (const v of values) ENUM_OK[e * 256 + v] = 1;
});

// Member table of each union tag, 256 entries per union (-1: not a member).
const UNION_OK = new Int32Array(UNION_MEMBERS.length * 256).fill(-1);
UNION_MEMBERS.forEach((members, u) => {
  members.forEach((t, tag) => {
    UNION_OK[u * 256 + tag] = t;
  });
});

// Bytes and alignment mask of each field inside its table: offsets (unions,
// strings, tables, vectors) take 4; scalars and structs their own size.
const INLINE_SIZE = new Int32Array(FIELD_NAMES.length);
const INLINE_MASK = new Int32Array(FIELD_NAMES.length);
for (let f = 0; f < FIELD_NAMES.length; f++) {
  const kind = FIELDS[f * FIELD_STRIDE + 1]!;
  const isOffset = kind !== Kind.Scalar && kind !== Kind.Float && kind !== Kind.Enum && kind !== Kind.UnionType && kind !== Kind.Struct;
  INLINE_SIZE[f] = isOffset ? 4 : FIELDS[f * FIELD_STRIDE + 2]!;
  INLINE_MASK[f] = (isOffset ? 4 : FIELDS[f * FIELD_STRIDE + 3]!) - 1;
}

// State of the verification in progress. Single-threaded per isolate and not
// re-entrant (nothing here calls out), so module state is safe and allocation-free.
let B: Uint8Array = new Uint8Array(0);
let base = 0;
let end = 0;
let maxDepth = 0;
let fieldMax: Int32Array = new Int32Array(0);
let required: Uint8Array = new Uint8Array(0);
let tablesLeft = 0;
let stringBytesLeft = 0;
/** Where the last failure was found: byte offset from the message start, and field row (-1: none). */
let failAt = 0;
let failField = -1;

function i32(p: number): number {
  return B[p]! | (B[p + 1]! << 8) | (B[p + 2]! << 16) | (B[p + 3]! << 24);
}

function i16(p: number): number {
  return ((B[p]! | (B[p + 1]! << 8)) << 16) >> 16;
}

function fail(code: number, at: number, field: number): number {
  failAt = at - base;
  failField = field;
  return code;
}

/** Verifies the string whose offset word is at p (already in bounds and aligned). */
function verifyString(p: number, max: number, field: number): number {
  const o = i32(p);
  if (o <= 0 || p + o >= end) return fail(VerifyError.offsetBounds, p, field);
  const s = p + o;
  if (((s - base) & 3) !== 0) return fail(VerifyError.vectorAlign, s, field);
  if (s + 4 > end) return fail(VerifyError.stringBounds, s, field);
  const len = i32(s);
  if (len < 0 || s + 4 + len >= end) return fail(VerifyError.stringBounds, s, field);
  if (B[s + 4 + len] !== 0) return fail(VerifyError.stringUnterminated, s + 4 + len, field);
  if (len > max) return fail(VerifyError.stringTooLong, s, field);
  stringBytesLeft -= len;
  if (stringBytesLeft < 0) return fail(VerifyError.tooComplex, s, field);
  if (!isValidUtf8(B, s + 4, s + 4 + len)) return fail(VerifyError.stringUtf8, s, field);
  return 0;
}

/** Verifies the table at pos (of layout table t) and everything it references. */
function verifyTable(t: number, pos: number, depth: number): number {
  if (--tablesLeft < 0) return fail(VerifyError.tooComplex, pos, -1);
  if (depth > maxDepth) return fail(VerifyError.tooDeep, pos, -1);
  if (((pos - base) & 3) !== 0) return fail(VerifyError.tableAlign, pos, -1);
  if (pos < base || pos + 4 > end) return fail(VerifyError.tableBounds, pos, -1);
  const vt = pos - i32(pos);
  if (vt < base || vt + 4 > end) return fail(VerifyError.vtableBounds, vt, -1);
  if (((vt - base) & 1) !== 0) return fail(VerifyError.vtableAlign, vt, -1);
  const vsize = i16(vt);
  const tsize = i16(vt + 2);
  if (vsize < 4 || (vsize & 1) !== 0 || tsize < 4) return fail(VerifyError.vtableSize, vt, -1);
  if (vt + vsize > end) return fail(VerifyError.vtableBounds, vt, -1);
  if (pos + tsize > end) return fail(VerifyError.tableBounds, pos, -1);

  let utype = 0;
  const last = TABLE_FIELDS[t + 1]!;
  for (let f = TABLE_FIELDS[t]!; f < last; f++) {
    const row = f * FIELD_STRIDE;
    const slot = FIELDS[row]!;
    const kind = FIELDS[row + 1]!;
    // Exactly what ByteBuffer.__offset sees: int16 vtable size and entries.
    const off = slot < vsize ? i16(vt + slot) : 0;
    if (off === 0) {
      if (kind === Kind.UnionType) utype = 0;
      else if (kind === Kind.Union && utype !== 0) return fail(VerifyError.unionMismatch, pos, f);
      if (required[f] === 1) return fail(VerifyError.requiredMissing, pos, f);
      continue;
    }
    if (off < 4 || off + INLINE_SIZE[f]! > tsize) return fail(VerifyError.fieldBounds, pos, f);
    const p = pos + off;
    if (((p - base) & INLINE_MASK[f]!) !== 0) return fail(VerifyError.fieldAlign, p, f);
    const size = FIELDS[row + 2]!;
    let e = 0;
    switch (kind) {
      case Kind.Scalar:
      case Kind.Struct:
        break;
      case Kind.Float: {
        // All-ones exponent: NaN or an infinity.
        const exp = size === 4 ? ((B[p + 3]! & 0x7f) << 1) | (B[p + 2]! >> 7) : ((B[p + 7]! & 0x7f) << 4) | (B[p + 6]! >> 4);
        if (exp === (size === 4 ? 0xff : 0x7ff)) return fail(VerifyError.nonFinite, p, f);
        break;
      }
      case Kind.Enum:
        if (ENUM_OK[FIELDS[row + 4]! * 256 + B[p]!] !== 1) return fail(VerifyError.enumRange, p, f);
        break;
      case Kind.UnionType:
        utype = B[p]!;
        if (utype !== 0 && UNION_OK[FIELDS[row + 4]! * 256 + utype]! < 0) return fail(VerifyError.unknownUnionTag, p, f);
        break;
      case Kind.Union: {
        if (utype === 0) return fail(VerifyError.unionMismatch, p, f);
        const o = i32(p);
        if (o <= 0 || p + o >= end) return fail(VerifyError.offsetBounds, p, f);
        e = verifyTable(UNION_OK[FIELDS[row + 4]! * 256 + utype]!, p + o, depth + 1);
        break;
      }
      case Kind.Table: {
        const o = i32(p);
        if (o <= 0 || p + o >= end) return fail(VerifyError.offsetBounds, p, f);
        e = verifyTable(FIELDS[row + 4]!, p + o, depth + 1);
        break;
      }
      case Kind.String:
        e = verifyString(p, fieldMax[f]!, f);
        break;
      default: {
        // Vectors.
        const o = i32(p);
        if (o <= 0 || p + o >= end) return fail(VerifyError.offsetBounds, p, f);
        const v = p + o;
        if (((v - base) & 3) !== 0) return fail(VerifyError.vectorAlign, v, f);
        if (v + 4 > end) return fail(VerifyError.vectorBounds, v, f);
        const n = i32(v);
        const data = v + 4;
        const elem = kind === Kind.VectorScalar || kind === Kind.VectorStruct ? size : 4;
        if (n < 0 || n * elem > end - data) return fail(VerifyError.vectorBounds, v, f);
        if (n > fieldMax[f]!) return fail(VerifyError.vectorTooLong, v, f);
        if (((data - base) & (FIELDS[row + 3]! - 1)) !== 0) return fail(VerifyError.vectorAlign, data, f);
        if (kind === Kind.VectorTable) {
          const t2 = FIELDS[row + 4]!;
          for (let i = 0; i < n; i++) {
            const q = data + 4 * i;
            const o2 = i32(q);
            if (o2 <= 0 || q + o2 >= end) return fail(VerifyError.offsetBounds, q, f);
            e = verifyTable(t2, q + o2, depth + 1);
            if (e !== 0) return e;
          }
        } else if (kind === Kind.VectorString) {
          const max = fieldMax[f]!;
          for (let i = 0; i < n && e === 0; i++) e = verifyString(data + 4 * i, max, f);
        }
      }
    }
    if (e !== 0) return e;
  }
  return 0;
}

function verifyRoot(t: number, buf: Uint8Array, offset: number, length: number, limits: VerifyLimits): number {
  failAt = 0;
  failField = -1;
  // The negated comparisons also reject NaN and non-numbers.
  if (!(offset >= 0 && length >= 0 && offset + length <= buf.length) || (offset | 0) !== offset || (length | 0) !== length) return VerifyError.badRange;
  if (length > limits.maxBytes) return VerifyError.tooLarge;
  if (length < 12) return VerifyError.tooSmall;
  B = buf;
  base = offset;
  end = offset + length;
  maxDepth = limits.maxDepth;
  fieldMax = limits.fieldMax;
  required = limits.required;
  tablesLeft = length >> 2;
  stringBytesLeft = length;
  const r = i32(offset);
  let e: number;
  if (r <= 0 || r + 4 > length) e = fail(VerifyError.rootOffset, offset, -1);
  else e = verifyTable(t, offset + r, 1);
  B = EMPTY; // do not keep the caller's buffer alive
  return e;
}

const EMPTY = new Uint8Array(0);
const T_CLIENT = Table.ClientMessage;
const T_FRAME = Table.ServerFrame;
const T_MESSAGE = Table.ServerMessage;

/**
 * Verifies that buf[offset, offset + length) is a well-formed ClientMessage
 * within `limits`. Returns 0 (VerifyError.ok) or a VerifyError code. Never
 * throws, allocates nothing, O(length). Works on views of SharedArrayBuffer.
 */
export function verifyClientMessage(buf: Uint8Array, offset: number, length: number, limits: VerifyLimits): number {
  return verifyRoot(T_CLIENT, buf, offset, length, limits);
}

/** As verifyClientMessage, for a ServerFrame (what a client receives). */
export function verifyServerFrame(buf: Uint8Array, offset: number, length: number, limits: VerifyLimits): number {
  return verifyRoot(T_FRAME, buf, offset, length, limits);
}

/** As verifyClientMessage, for one finished ServerMessage buffer (before it is framed). */
export function verifyServerMessage(buf: Uint8Array, offset: number, length: number, limits: VerifyLimits): number {
  return verifyRoot(T_MESSAGE, buf, offset, length, limits);
}

/** Where the last verification failed, for a debug log line. Allocates; cold path. */
export function lastVerifyFailure(): { offset: number; field: string | null; table: string | null } {
  const name = failField >= 0 ? FIELD_NAMES[failField]! : null;
  return { offset: failAt, field: name, table: name ? name.slice(0, name.indexOf('.')) : null };
}

/** The layout's table names, for diagnostics. */
export const VERIFIED_TABLES: readonly string[] = TABLE_NAMES;
