// The verifier's primitives, called by the per-table functions that
// scripts/gen-protocol.mjs generates into generated/verifier.ts. The rules
// they enforce are documented in verify.ts (the public API).
//
// Convention: a primitive returns a position (> 0), 0 for "absent", or a
// negative VerifyError code; fail() records where for lastVerifyFailure().
//
// The buffer and its bounds travel as arguments (B, base, end): reading them
// from module variables instead measured 1.7x slower (context loads on every
// byte read). The little remaining state is in one preallocated Int32Array:
// one verification runs at a time per isolate (synchronous, nothing re-enters),
// so this is safe and allocates nothing.

import { VerifyError } from './codes.js';
import { isValidUtf8 } from './utf8.js';

/** Shared state of the verification in progress. */
export const ST = new Int32Array(8);
/** vtable size and inline size of the table table() checked last (callers copy them at once). */
export const VS = 0;
export const TS = 1;
const TABLES_LEFT = 2;
const STRING_BYTES_LEFT = 3;
/** Where the last failure was found (absolute index), and its layout field row (-1: none). */
export const FAIL_AT = 4;
export const FAIL_ROW = 5;
const MAX_DEPTH = 6;
/** The message start of the last verification (FAIL_AT - BASE is the offset in the message). */
export const BASE = 7;

// Per-field limits of the verification in progress (strings: bytes, vectors: elements).
let fieldMax: Int32Array = new Int32Array(0);

/** Starts a verification of a message of `length` bytes at `base` (arguments already checked). */
export function begin(base: number, length: number, maxDepth: number, max: Int32Array): void {
  fieldMax = max;
  ST[TABLES_LEFT] = length >> 2;
  ST[STRING_BYTES_LEFT] = length;
  ST[MAX_DEPTH] = maxDepth;
  ST[BASE] = base;
  // FAIL_AT / FAIL_ROW are written by every failure; nothing reads them after a success.
}

export function fail(code: number, at: number, row: number): number {
  ST[FAIL_AT] = at;
  ST[FAIL_ROW] = row;
  return -code;
}

export function i32(B: Uint8Array, p: number): number {
  return B[p]! | (B[p + 1]! << 8) | (B[p + 2]! << 16) | (B[p + 3]! << 24);
}

function i16(B: Uint8Array, p: number): number {
  return ((B[p]! | (B[p + 1]! << 8)) << 16) >> 16;
}

/** The root table's position, or a negative code. */
export function root(B: Uint8Array, base: number, end: number): number {
  const r = i32(B, base);
  return r <= 0 || r + 4 > end - base ? fail(VerifyError.rootOffset, base, -1) : base + r;
}

// Hot primitives test everything in one condition and leave the naming of
// the failure to a cold function: small enough for TurboFan to inline into the
// generated functions (the one-check-per-line version was not inlined, and
// verification was 1.6x slower).

/**
 * Charges `n` table visits (the elements of a vector of tables) to the
 * budget of length/4: returns 0, or a negative code once it is spent. Only
 * vectors can make one table count many times (a table reached through a
 * table or union field is visited once per visit of its parent, a number fixed
 * by the non-recursive schema), so charging them bounds all table visits, and
 * nothing is charged on the path of messages without such vectors.
 */
export function budget(n: number, at: number, row: number): number {
  const left = ST[TABLES_LEFT]! - n;
  ST[TABLES_LEFT] = left;
  return left < 0 ? fail(VerifyError.tooComplex, at, row) : 0;
}

/**
 * Checks the table at pos: depth, alignment, bounds of the table and
 * its vtable, and their sizes as the JS accessors read them (int16). Returns
 * the vtable's position and sets ST[VS], ST[TS], or returns a negative code.
 */
export function table(B: Uint8Array, base: number, end: number, pos: number, depth: number): number {
  if (depth <= ST[MAX_DEPTH]! && ((pos - base) & 3) === 0 && pos >= base && pos + 4 <= end) {
    const vt = pos - i32(B, pos);
    if (vt >= base && vt + 4 <= end && ((vt - base) & 1) === 0) {
      const vs = i16(B, vt);
      const ts = i16(B, vt + 2);
      if (vs >= 4 && (vs & 1) === 0 && ts >= 4 && vt + vs <= end && pos + ts <= end) {
        ST[VS] = vs;
        ST[TS] = ts;
        return vt;
      }
    }
  }
  return tableError(B, base, end, pos, depth);
}

function tableError(B: Uint8Array, base: number, end: number, pos: number, depth: number): number {
  if (depth > ST[MAX_DEPTH]!) return fail(VerifyError.tooDeep, pos, -1);
  if (((pos - base) & 3) !== 0) return fail(VerifyError.tableAlign, pos, -1);
  if (pos < base || pos + 4 > end) return fail(VerifyError.tableBounds, pos, -1);
  const vt = pos - i32(B, pos);
  if (vt < base || vt + 4 > end) return fail(VerifyError.vtableBounds, vt, -1);
  if (((vt - base) & 1) !== 0) return fail(VerifyError.vtableAlign, vt, -1);
  const vs = i16(B, vt);
  const ts = i16(B, vt + 2);
  if (vs < 4 || (vs & 1) !== 0 || ts < 4) return fail(VerifyError.vtableSize, vt, -1);
  if (vt + vs > end) return fail(VerifyError.vtableBounds, vt, -1);
  return fail(VerifyError.tableBounds, pos, -1);
}

/**
 * The position of the field at vtable `slot` of the table at pos, taking
 * `size` bytes aligned to `mask + 1`: 0 when absent, a negative code when out
 * of its table or misaligned. (Required fields: the generated caller checks.)
 */
export function field(B: Uint8Array, base: number, vt: number, vs: number, ts: number, pos: number, slot: number, size: number, mask: number, row: number): number {
  // Exactly what ByteBuffer.__offset sees: int16 vtable entries, absent past the vtable's end.
  const off = slot < vs ? i16(B, vt + slot) : 0;
  if (off === 0) return 0;
  const p = pos + off;
  return off >= 4 && off + size <= ts && ((p - base) & mask) === 0 ? p : fieldError(off, size, ts, pos, p, row);
}

function fieldError(off: number, size: number, ts: number, pos: number, p: number, row: number): number {
  return off < 4 || off + size > ts ? fail(VerifyError.fieldBounds, pos, row) : fail(VerifyError.fieldAlign, p, row);
}

/** The target of the uoffset at p (positive as int32, inside the buffer), or a negative code. */
export function offset(B: Uint8Array, end: number, p: number, row: number): number {
  const o = i32(B, p);
  return o <= 0 || p + o >= end ? fail(VerifyError.offsetBounds, p, row) : p + o;
}

/** NaN and infinities have an all-ones exponent. */
export function finite32(B: Uint8Array, p: number, row: number): number {
  return (((B[p + 3]! & 0x7f) << 1) | (B[p + 2]! >> 7)) === 0xff ? fail(VerifyError.nonFinite, p, row) : 0;
}

export function finite64(B: Uint8Array, p: number, row: number): number {
  return (((B[p + 7]! & 0x7f) << 4) | (B[p + 6]! >> 4)) === 0x7ff ? fail(VerifyError.nonFinite, p, row) : 0;
}

/** The one-byte enum at p is valid when ok[value] is 1. */
export function enumByte(B: Uint8Array, p: number, ok: Uint8Array, row: number): number {
  return ok[B[p]!] === 1 ? 0 : fail(VerifyError.enumRange, p, row);
}

/** Verifies the string whose uoffset is at p. */
export function string(B: Uint8Array, base: number, end: number, p: number, row: number): number {
  const s = offset(B, end, p, row);
  if (s < 0) return s;
  if (((s - base) & 3) === 0 && s + 4 <= end) {
    const len = i32(B, s);
    const left = ST[STRING_BYTES_LEFT]! - len;
    if (len >= 0 && s + 4 + len < end && B[s + 4 + len] === 0 && len <= fieldMax[row]! && left >= 0) {
      ST[STRING_BYTES_LEFT] = left;
      return isValidUtf8(B, s + 4, s + 4 + len) ? 0 : fail(VerifyError.stringUtf8, s, row);
    }
  }
  return stringError(B, base, end, s, row);
}

function stringError(B: Uint8Array, base: number, end: number, s: number, row: number): number {
  if (((s - base) & 3) !== 0) return fail(VerifyError.vectorAlign, s, row);
  if (s + 4 > end) return fail(VerifyError.stringBounds, s, row);
  const len = i32(B, s);
  if (len < 0 || s + 4 + len >= end) return fail(VerifyError.stringBounds, s, row);
  if (B[s + 4 + len] !== 0) return fail(VerifyError.stringUnterminated, s + 4 + len, row);
  if (len > fieldMax[row]!) return fail(VerifyError.stringTooLong, s, row);
  return fail(VerifyError.tooComplex, s, row);
}

/**
 * Checks the vector whose uoffset is at p, of `elem`-byte elements aligned to
 * `mask + 1`. Returns the position of its first element (its length is the
 * int32 before it), or a negative code.
 */
export function vector(B: Uint8Array, base: number, end: number, p: number, elem: number, mask: number, row: number): number {
  const v = offset(B, end, p, row);
  if (v < 0) return v;
  if (((v - base) & 3) === 0 && v + 4 <= end) {
    const n = i32(B, v);
    const data = v + 4;
    if (n >= 0 && n * elem <= end - data && n <= fieldMax[row]! && ((data - base) & mask) === 0) return data;
  }
  return vectorError(B, base, end, v, elem, mask, row);
}

function vectorError(B: Uint8Array, base: number, end: number, v: number, elem: number, mask: number, row: number): number {
  if (((v - base) & 3) !== 0) return fail(VerifyError.vectorAlign, v, row);
  if (v + 4 > end) return fail(VerifyError.vectorBounds, v, row);
  const n = i32(B, v);
  if (n < 0 || n * elem > end - v - 4) return fail(VerifyError.vectorBounds, v, row);
  if (n > fieldMax[row]!) return fail(VerifyError.vectorTooLong, v, row);
  return fail(VerifyError.vectorAlign, v + 4, row);
}

export function unknownTag(p: number, row: number): number {
  return fail(VerifyError.unknownUnionTag, p, row);
}

export function unionMismatch(p: number, row: number): number {
  return fail(VerifyError.unionMismatch, p, row);
}

export function requiredMissing(p: number, row: number): number {
  return fail(VerifyError.requiredMissing, p, row);
}
