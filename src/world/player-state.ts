// A player's transferable state: what a zone hands to another zone through a
// portal, what is saved to the database on leave, and what a world is given
// on join. A compact binary form is provided for the zone-to-zone ring and is
// reused by checkpoints.
//
// Binary layout (little-endian), at most PLAYER_STATE_MAX_BYTES:
//
//   u16 nameBytes | name (UTF-8) | u8 level | u32 xp | u16 hp | u16 maxHp
//   | f32 x | f32 y | u8 n | n x (u8 slot, u16 item, u16 count)

import { INVENTORY_SLOTS } from './entity-store.js';

/** Longest name in UTF-8 bytes a world accepts. */
export const MAX_NAME_BYTES = 64;

export const PLAYER_STATE_MAX_BYTES = 2 + MAX_NAME_BYTES + 1 + 4 + 2 + 2 + 4 + 4 + 1 + INVENTORY_SLOTS * 5;

export interface PlayerState {
  name: string;
  level: number;
  /** Total XP. */
  xp: number;
  /** 0 means "full" on join (a dead character comes back alive). */
  hp: number;
  /** 0 means "derive from level" on join. */
  maxHp: number;
  /** Position; NaN (or a blocked or out-of-bounds point) means "at a spawn point" on join. */
  x: number;
  y: number;
  /** INVENTORY_SLOTS pairs: inventory[2 * i] = item id (0 = empty), inventory[2 * i + 1] = count. */
  inventory: Uint16Array;
}

/** A level-1 character with full health and an empty bag, placed at a spawn point. Allocates. */
export function newPlayerState(name: string): PlayerState {
  return { name, level: 1, xp: 0, hp: 0, maxHp: 0, x: Number.NaN, y: Number.NaN, inventory: new Uint16Array(INVENTORY_SLOTS * 2) };
}

/** Deep copy. Allocates. */
export function clonePlayerState(s: PlayerState): PlayerState {
  return { ...s, inventory: s.inventory.slice() };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** UTF-8 byte length of a name (no allocation). */
export function nameBytes(name: string): number {
  let n = 0;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < name.length && (name.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3; // BMP, or a lone surrogate that TextEncoder writes as U+FFFD
  }
  return n;
}

/** Bytes encodePlayerState / writePlayerState will write for `s` (no allocation). */
export function playerStateBytes(s: PlayerState): number {
  let used = 0;
  for (let i = 0; i < INVENTORY_SLOTS; i++) if (s.inventory[2 * i]! !== 0) used++;
  return 2 + nameBytes(s.name) + 1 + 4 + 2 + 2 + 4 + 4 + 1 + used * 5;
}

/**
 * Writes `s` at `offset` and returns the offset after it, or -1 if it does not
 * fit or the name is longer than MAX_NAME_BYTES. Cold path (handoff, save):
 * allocates two small views, nothing per item.
 */
export function encodePlayerState(s: PlayerState, out: Uint8Array, offset: number): number {
  const nb = nameBytes(s.name);
  if (nb > MAX_NAME_BYTES) return -1;
  const size = playerStateBytes(s);
  if (offset < 0 || offset + size > out.length) return -1;
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  return writePlayerState(v, out, offset, s, nb);
}

/** As encodePlayerState, over a DataView the caller keeps (checkpoints). Assumes room was checked. */
export function writePlayerState(v: DataView, bytes: Uint8Array, off: number, s: PlayerState, nb = nameBytes(s.name)): number {
  v.setUint16(off, nb, true);
  off += 2;
  encoder.encodeInto(s.name, bytes.subarray(off, off + nb));
  off += nb;
  v.setUint8(off, s.level);
  off += 1;
  v.setUint32(off, s.xp, true);
  off += 4;
  v.setUint16(off, s.hp, true);
  off += 2;
  v.setUint16(off, s.maxHp, true);
  off += 2;
  v.setFloat32(off, s.x, true);
  off += 4;
  v.setFloat32(off, s.y, true);
  off += 4;
  const countAt = off;
  off += 1;
  let used = 0;
  for (let i = 0; i < INVENTORY_SLOTS; i++) {
    const item = s.inventory[2 * i]!;
    if (item === 0) continue;
    v.setUint8(off, i);
    v.setUint16(off + 1, item, true);
    v.setUint16(off + 3, s.inventory[2 * i + 1]!, true);
    off += 5;
    used++;
  }
  v.setUint8(countAt, used);
  return off;
}

/**
 * Reads a state written by encodePlayerState into `out` and returns the
 * offset after it, or -1 if the bytes are truncated or malformed. Allocates
 * the name string only.
 */
export function decodePlayerState(bytes: Uint8Array, offset: number, out: PlayerState): number {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return readPlayerState(v, bytes, offset, out);
}

export function readPlayerState(v: DataView, bytes: Uint8Array, off: number, out: PlayerState): number {
  const end = bytes.length;
  if (off < 0 || off + 2 > end) return -1;
  const nb = v.getUint16(off, true);
  off += 2;
  if (nb > MAX_NAME_BYTES || off + nb + 18 > end) return -1;
  out.name = decoder.decode(bytes.subarray(off, off + nb));
  off += nb;
  out.level = v.getUint8(off);
  off += 1;
  out.xp = v.getUint32(off, true);
  off += 4;
  out.hp = v.getUint16(off, true);
  off += 2;
  out.maxHp = v.getUint16(off, true);
  off += 2;
  out.x = v.getFloat32(off, true);
  off += 4;
  out.y = v.getFloat32(off, true);
  off += 4;
  const used = v.getUint8(off);
  off += 1;
  if (used > INVENTORY_SLOTS || off + used * 5 > end) return -1;
  out.inventory.fill(0);
  for (let k = 0; k < used; k++) {
    const i = v.getUint8(off);
    if (i >= INVENTORY_SLOTS) return -1;
    out.inventory[2 * i] = v.getUint16(off + 1, true);
    out.inventory[2 * i + 1] = v.getUint16(off + 3, true);
    off += 5;
  }
  return off;
}
