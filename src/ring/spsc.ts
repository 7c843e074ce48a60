// Single-producer single-consumer byte ring over a SharedArrayBuffer.
//
// Concurrency contract
// - Exactly one producer thread calls reserve/push/commit, exactly one
//   consumer thread calls drain. Each thread wraps the same memory in its own
//   SpscRing (`new SpscRing(sab, byteOffset, doorbell)`); one instance may play
//   both roles in one thread (tests). An instance reads the indices when it is
//   constructed and then trusts its own copy of the index it owns: a thread
//   taking over a role another thread had uses a fresh instance.
// - The producer owns `tail`, the consumer owns `head` (layout.ts). Each
//   publishes with one Atomics.store and reads the other's with Atomics.load.
//   Records between head and tail are complete: a record becomes visible only
//   when commit() publishes the tail, so a consumer never sees a half-written
//   record and no per-record flag is needed.
// - Read late: the producer may see an old head (it then thinks the ring
//   fuller than it is); the consumer may see an old tail (it drains less now,
//   the rest next time). Counters are plain stores, exact for their writer and
//   possibly stale for a metrics reader.
//
// Failure of a side (the zone worker at the other end died)
// - Producer died: records it committed are whole and stay readable;
//   reservations it had not committed were never visible and are simply gone.
//   Nothing to repair: a new producer wrapping the buffer starts at the shared
//   tail.
// - Consumer died: records it had drained but not yet acknowledged (the head
//   is published at the end of each drain, and every capacity/4 bytes) are
//   delivered again to the next consumer: at-least-once. If the restarted
//   zone must not see them, the host calls reset() (see its comment).

import {
  KIND_SPSC,
  LAYOUT_VERSION,
  MAX_CAPACITY,
  MIN_CAPACITY,
  REC_HEADER,
  RING_MAGIC,
  SPSC_HEADER,
  STATE_COMMITTED,
  STATE_PAD,
  fSpscDrainedBytes,
  fSpscDrainedRecords,
  fSpscFull,
  fSpscOversize,
  fSpscPushedBytes,
  fSpscPushedRecords,
  isPowerOfTwo,
  kCapacity,
  kKind,
  kMagic,
  kSpscHead,
  kSpscTail,
  kVersion,
  wLen,
  wSession,
  wState,
  wTypeProducer,
} from './layout.js';
import { RingError, RingErrorCode } from './errors.js';
import type { Doorbell } from './doorbell.js';

/**
 * Called once per record by drain(). `data.subarray(offset, offset + length)`
 * is the payload; it is valid only during the call (the producer reuses the
 * memory once the head moves). `session` is the u32 as written; session ids
 * below 2^31 never box. `producer` is the MPSC producer id (0 for SPSC).
 */
export type RecordHandler = (type: number, session: number, data: Uint8Array, offset: number, length: number, producer: number) => void;

/** Counters of one ring (cold path: allocated per call, for metrics and tests). */
export interface SpscStats {
  capacity: number;
  usedBytes: number;
  pushedRecords: number;
  pushedBytes: number;
  /** reserve/push refused because the ring was full. */
  fullFailures: number;
  /** reserve/push refused because the payload exceeds maxPayload. */
  oversize: number;
  drainedRecords: number;
  drainedBytes: number;
}

export function checkCapacity(capacity: number): void {
  if (!isPowerOfTwo(capacity) || capacity < MIN_CAPACITY || capacity > MAX_CAPACITY) {
    throw new RingError(
      RingErrorCode.capacity,
      `ring capacity must be a power of two from ${MIN_CAPACITY} to ${MAX_CAPACITY} bytes, got ${capacity}`,
    );
  }
}

export class SpscRing {
  /** Bytes of shared memory a ring of `capacity` data bytes needs (header included). */
  static bytesFor(capacity: number): number {
    checkCapacity(capacity);
    return SPSC_HEADER + capacity;
  }

  /** Allocates and initialises a ring in a new SharedArrayBuffer. Cold path. */
  static create(capacity: number, doorbell?: Doorbell): SpscRing {
    const sab = new SharedArrayBuffer(SpscRing.bytesFor(capacity));
    SpscRing.init(sab, 0, capacity);
    return new SpscRing(sab, 0, doorbell);
  }

  /** Writes the header of a fresh ring at `byteOffset` (zeroed memory expected). Cold path. */
  static init(sab: SharedArrayBuffer, byteOffset: number, capacity: number): void {
    checkCapacity(capacity);
    if (byteOffset % 64 !== 0 || byteOffset + SPSC_HEADER + capacity > sab.byteLength) {
      throw new RingError(RingErrorCode.layout, `no room for an SPSC ring of ${capacity} bytes at offset ${byteOffset} (64-byte aligned)`);
    }
    const h = new Int32Array(sab, byteOffset, SPSC_HEADER / 4);
    h[kKind] = KIND_SPSC;
    h[kCapacity] = capacity;
    h[kVersion] = LAYOUT_VERSION;
    Atomics.store(h, kMagic, RING_MAGIC);
  }

  readonly buffer: SharedArrayBuffer;
  readonly byteOffset: number;
  /** Data region bytes (a power of two). */
  readonly capacity: number;
  /** Largest payload reserve/push accepts: a record must fit even when the ring is empty at any position. */
  readonly maxPayload: number;
  /** The data region; payload offsets returned by reserve() and given to handlers index it. */
  readonly data: Uint8Array;

  private readonly hdr: Int32Array;
  private readonly cnt: Float64Array;
  private readonly i32: Int32Array;
  private readonly mask: number;
  private readonly maxRecord: number;
  private readonly releaseEvery: number;
  private readonly bell: Doorbell | null;

  // Producer side.
  private tailLocal: number;
  private tailPublished: number;
  private headCache: number;
  private pendRecords = 0;
  private pendBytes = 0;
  // Consumer side.
  private headLocal: number;
  private tailCache: number;

  /** Wraps an initialised ring (created in this or another thread). Cold path. */
  constructor(sab: SharedArrayBuffer, byteOffset = 0, doorbell?: Doorbell) {
    if (byteOffset % 64 !== 0 || byteOffset + SPSC_HEADER > sab.byteLength) {
      throw new RingError(RingErrorCode.layout, `SPSC ring header does not fit at offset ${byteOffset}`);
    }
    const hdr = new Int32Array(sab, byteOffset, SPSC_HEADER / 4);
    if (Atomics.load(hdr, kMagic) !== RING_MAGIC || hdr[kKind] !== KIND_SPSC || hdr[kVersion] !== LAYOUT_VERSION) {
      throw new RingError(RingErrorCode.layout, `no SPSC ring (layout v${LAYOUT_VERSION}) at offset ${byteOffset}`);
    }
    const capacity = hdr[kCapacity]!;
    checkCapacity(capacity);
    if (byteOffset + SPSC_HEADER + capacity > sab.byteLength) {
      throw new RingError(RingErrorCode.layout, `SPSC ring of ${capacity} bytes overruns its buffer`);
    }
    this.buffer = sab;
    this.byteOffset = byteOffset;
    this.capacity = capacity;
    this.mask = capacity - 1;
    this.maxRecord = capacity / 2;
    this.maxPayload = this.maxRecord - REC_HEADER;
    this.releaseEvery = capacity / 4;
    this.hdr = hdr;
    this.cnt = new Float64Array(sab, byteOffset, SPSC_HEADER / 8);
    this.data = new Uint8Array(sab, byteOffset + SPSC_HEADER, capacity);
    this.i32 = new Int32Array(sab, byteOffset + SPSC_HEADER, capacity / 4);
    this.bell = doorbell ?? null;
    this.tailLocal = this.tailPublished = this.tailCache = Atomics.load(hdr, kSpscTail);
    this.headLocal = this.headCache = Atomics.load(hdr, kSpscHead);
  }

  // ---------------------------------------------------------------- producer

  /**
   * Reserves a record of `length` payload bytes and writes its header.
   * Returns the payload's offset in `data` (8-aligned, contiguous), or -1 when
   * the ring is full or length > maxPayload (both counted). The record is
   * invisible until commit(); several reserve() calls may precede one commit().
   */
  reserve(type: number, session: number, length: number): number {
    const need = (length + 23) & ~7;
    if (!(length >= 0) || need > this.maxRecord) {
      this.cnt[fSpscOversize]! += 1;
      return -1;
    }
    const cap = this.capacity;
    let t = this.tailLocal;
    let idx = t & this.mask;
    const rem = cap - idx;
    const pad = need > rem ? rem : 0;
    if (((t + pad + need - this.headCache) | 0) > cap) {
      this.headCache = Atomics.load(this.hdr, kSpscHead);
      if (((t + pad + need - this.headCache) | 0) > cap) {
        this.cnt[fSpscFull]! += 1;
        return -1;
      }
    }
    const i32 = this.i32;
    if (pad !== 0) {
      if (pad >= REC_HEADER) {
        const p = idx >> 2;
        i32[p + wLen] = pad;
        i32[p + wState] = STATE_PAD;
      }
      t = (t + pad) | 0;
      idx = 0;
    }
    const b = idx >> 2;
    i32[b + wLen] = length;
    i32[b + wTypeProducer] = type & 0xffff;
    i32[b + wSession] = session;
    i32[b + wState] = STATE_COMMITTED;
    this.tailLocal = (t + need) | 0;
    this.pendRecords++;
    this.pendBytes += length;
    return idx + REC_HEADER;
  }

  /**
   * Publishes every record reserved since the last commit with one store of
   * the tail, then rings the doorbell, which notifies only if the consumer
   * armed it (it found the rings empty and is about to sleep).
   */
  commit(): void {
    const t = this.tailLocal;
    if (t === this.tailPublished) return;
    const c = this.cnt;
    c[fSpscPushedRecords]! += this.pendRecords;
    c[fSpscPushedBytes]! += this.pendBytes;
    this.pendRecords = 0;
    this.pendBytes = 0;
    Atomics.store(this.hdr, kSpscTail, t);
    this.tailPublished = t;
    if (this.bell !== null) this.bell.ring();
  }

  /**
   * Copies `length` bytes of `src` from `srcOffset` into a new record and
   * commits (publishing earlier reservations too). Returns false when full or
   * oversize (counted). Allocation-free.
   */
  push(type: number, session: number, src: Uint8Array, srcOffset = 0, length = src.length - srcOffset): boolean {
    const off = this.reserve(type, session, length);
    if (off < 0) return false;
    const data = this.data;
    // set() (a memmove) beats a byte loop even at 16 bytes; a byte loop only
    // for small slices of src, where set() would need a subarray view.
    if (srcOffset === 0 && length === src.length) {
      data.set(src, off);
    } else if (length <= 64) {
      for (let i = 0; i < length; i++) data[off + i] = src[srcOffset + i]!;
    } else {
      // A view object: only for large payloads taken from the middle of src.
      data.set(src.subarray(srcOffset, srcOffset + length), off);
    }
    this.commit();
    return true;
  }

  // ---------------------------------------------------------------- consumer

  /**
   * Calls `handler` for up to `max` committed records in order and frees
   * their space. Returns the number of records delivered. If the handler
   * throws, the records before it and the one that threw count as consumed
   * (a poison record is not redelivered) and the error propagates.
   */
  drain(handler: RecordHandler, max = 0x7fffffff): number {
    const h = this.headLocal;
    let t = this.tailCache;
    if (h === t) {
      t = this.tailCache = Atomics.load(this.hdr, kSpscTail);
      if (h === t) return 0;
    }
    return this.consume(handler, max, t, false);
  }

  /** Consumer: the producer's published tail now, to drain up to later (drainUntil). */
  tailNow(): number {
    return Atomics.load(this.hdr, kSpscTail);
  }

  /**
   * drain(), but only the records committed up to `until` (a tailNow() read
   * earlier): a consumer that reads several rings in an order that follows
   * cause and effect snapshots the later rings' tails first, drains the
   * earlier ring, then these up to the snapshot.
   */
  drainUntil(handler: RecordHandler, until: number): number {
    if (((until - this.headLocal) | 0) <= 0) return 0;
    const known = this.tailCache;
    const n = this.consume(handler, 0x7fffffff, until, true);
    this.tailCache = ((known - this.headLocal) | 0) > 0 ? known : this.headLocal;
    return n;
  }

  /** Delivers records from the head up to tail `t` (reading newer tails as it goes unless `fixed`), at most `max`. */
  private consume(handler: RecordHandler, max: number, t: number, fixed: boolean): number {
    let h = this.headLocal;
    const i32 = this.i32;
    const data = this.data;
    const mask = this.mask;
    const cap = this.capacity;
    const every = this.releaseEvery;
    let released = h;
    let n = 0;
    let bytes = 0;
    try {
      while (n < max) {
        if (h === t) {
          if (fixed) break;
          t = this.tailCache = Atomics.load(this.hdr, kSpscTail);
          if (h === t) break;
        }
        const idx = h & mask;
        const rem = cap - idx;
        if (rem < REC_HEADER) {
          h = (h + rem) | 0;
          continue;
        }
        const b = idx >> 2;
        const len = i32[b + wLen]!;
        if (i32[b + wState] === STATE_PAD) {
          h = (h + len) | 0;
          continue;
        }
        h = (h + ((len + 23) & ~7)) | 0;
        n++;
        bytes += len;
        handler(i32[b + wTypeProducer]! & 0xffff, i32[b + wSession]! >>> 0, data, idx + REC_HEADER, len, 0);
        if (((h - released) | 0) >= every) {
          Atomics.store(this.hdr, kSpscHead, h);
          released = h;
        }
      }
    } finally {
      this.headLocal = h;
      if (h !== released) Atomics.store(this.hdr, kSpscHead, h);
      const c = this.cnt;
      c[fSpscDrainedRecords]! += n;
      c[fSpscDrainedBytes]! += bytes;
    }
    return n;
  }

  /** True when no committed record is waiting (shared indices; any thread, may be stale). */
  isEmpty(): boolean {
    return Atomics.load(this.hdr, kSpscTail) === Atomics.load(this.hdr, kSpscHead);
  }

  /** Bytes between head and tail (records, headers, padding); any thread, may be stale. */
  usedBytes(): number {
    return (Atomics.load(this.hdr, kSpscTail) - Atomics.load(this.hdr, kSpscHead)) | 0;
  }

  /**
   * Empties the ring: head = tail = 0 in shared memory and in this instance,
   * dropping every unread record and uncommitted reservation. Cold path, for
   * the host when it restarts the zone at the other end: call it only while
   * no other thread uses the ring (the other side has exited and this side is
   * not inside a call), then let the new worker wrap the buffer.
   */
  reset(): void {
    Atomics.store(this.hdr, kSpscHead, 0);
    Atomics.store(this.hdr, kSpscTail, 0);
    this.tailLocal = this.tailPublished = this.tailCache = 0;
    this.headLocal = this.headCache = 0;
    this.pendRecords = 0;
    this.pendBytes = 0;
  }

  /** Counters (cold path: allocates). */
  stats(): SpscStats {
    const c = this.cnt;
    return {
      capacity: this.capacity,
      usedBytes: this.usedBytes(),
      pushedRecords: c[fSpscPushedRecords]!,
      pushedBytes: c[fSpscPushedBytes]!,
      fullFailures: c[fSpscFull]!,
      oversize: c[fSpscOversize]!,
      drainedRecords: c[fSpscDrainedRecords]!,
      drainedBytes: c[fSpscDrainedBytes]!,
    };
  }
}
