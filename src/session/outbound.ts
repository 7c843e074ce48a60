// Staging for one flush. While the gateway drains the zones' rings it copies
// each message for a player into an arena (ring memory is only valid during
// the drain callback) and links it to the player's session; messages the
// gateway builds itself (Welcome, whispers, LevelUp) are staged the same way.
// A message for many players (a whisper echo, a kick) is stored once and
// linked many times. At the flush every session's messages become one frame
// (plus one unsequenced frame for Welcome/Pong/Kicked), see SessionService.
//
//   arena:  [msg][pad][msg][pad]...            reset after each flush
//   links:  entry, next  (per-session singly linked lists: sequenced and unsequenced)
//
// Gateway thread only. Grows by doubling (cold); nothing allocated per message
// in steady state.

import { copyBytes } from '../ring/copy.js';

export interface StagedList {
  /** First and last link of the sequenced list, -1 when empty. */
  seqHead: number;
  seqTail: number;
  /** Same for unsequenced messages. */
  unseqHead: number;
  unseqTail: number;
  /** True while the holder is in the flush's dirty list. */
  dirty: boolean;
}

export function emptyStagedList(): StagedList {
  return { seqHead: -1, seqTail: -1, unseqHead: -1, unseqTail: -1, dirty: false };
}

export class Staging {
  arena: Uint8Array;
  private used = 0;
  private entOff: Int32Array;
  private entLen: Int32Array;
  private entries = 0;
  private linkEnt: Int32Array;
  private linkNext: Int32Array;
  private links = 0;

  constructor(initialBytes = 1 << 20, initialEntries = 1 << 14) {
    this.arena = new Uint8Array(initialBytes);
    this.entOff = new Int32Array(initialEntries);
    this.entLen = new Int32Array(initialEntries);
    this.linkEnt = new Int32Array(initialEntries);
    this.linkNext = new Int32Array(initialEntries);
  }

  /** Copies a message into the arena; returns its entry. */
  store(src: Uint8Array, offset: number, length: number): number {
    const at = this.used;
    const end = at + ((length + 7) & ~7);
    if (end > this.arena.length) this.growArena(end);
    copyBytes(src, offset, this.arena, at, length);
    this.used = end;
    const e = this.entries++;
    if (e === this.entOff.length) {
      this.entOff = growInt32(this.entOff);
      this.entLen = growInt32(this.entLen);
    }
    this.entOff[e] = at;
    this.entLen[e] = length;
    return e;
  }

  /** Appends entry `e` to a session's sequenced (or unsequenced) list. */
  link(list: StagedList, e: number, unsequenced: boolean): void {
    const l = this.links++;
    if (l === this.linkEnt.length) {
      this.linkEnt = growInt32(this.linkEnt);
      this.linkNext = growInt32(this.linkNext);
    }
    this.linkEnt[l] = e;
    this.linkNext[l] = -1;
    if (unsequenced) {
      if (list.unseqTail >= 0) this.linkNext[list.unseqTail] = l;
      else list.unseqHead = l;
      list.unseqTail = l;
    } else {
      if (list.seqTail >= 0) this.linkNext[list.seqTail] = l;
      else list.seqHead = l;
      list.seqTail = l;
    }
  }

  next(link: number): number {
    return this.linkNext[link]!;
  }

  offsetOf(link: number): number {
    return this.entOff[this.linkEnt[link]!]!;
  }

  lengthOf(link: number): number {
    return this.entLen[this.linkEnt[link]!]!;
  }

  /** Forgets every message (after the flush). */
  reset(): void {
    this.used = 0;
    this.entries = 0;
    this.links = 0;
  }

  get bytesUsed(): number {
    return this.used;
  }

  private growArena(need: number): void {
    let n = this.arena.length * 2;
    while (n < need) n *= 2;
    const a = new Uint8Array(n);
    a.set(this.arena.subarray(0, this.used));
    this.arena = a;
  }
}

function growInt32(a: Int32Array): Int32Array {
  const b = new Int32Array(a.length * 2);
  b.set(a);
  return b;
}
