// Multi-producer single-consumer byte ring over a SharedArrayBuffer, with
// crash recovery for producers.
//
// Concurrency contract
// - Up to maxProducers producer threads, each with its own id, attached with
//   ring.producer(id) (one MpscProducer per id at a time); one consumer
//   thread calls drain(); one host thread (the supervisor) calls
//   recoverProducer / recoverConsumer.
// - Reservation: a producer reads tail, writes its claim {start, end} into
//   its own slot line, then CASes tail from start to end. The CAS decides who
//   owns [start, end); the losers retry. The winner then writes its record
//   header (and a PAD record first when the record wraps) with state RESERVED
//   (reserve) or writes header + payload and then state COMMITTED (push).
// - Commit flag: the consumer reads each record's state with Atomics.load and
//   stops at the first record that is not COMMITTED (EMPTY: header not written
//   yet; RESERVED: payload being written). It never reads a record still being
//   written. Records are consumed in reservation order.
// - Padding (a PAD record, or the < 16 bytes left at the end of the region) is
//   passed by the consumer only together with the record after it, so while a
//   wrapping reservation is incomplete its PAD stays where recovery reads it.
// - The consumer publishes `head` (consumed through), then zeroes the consumed
//   bytes, then publishes `free` (reusable through). Producers check space
//   against `free`, so they always claim zeroed memory: an EMPTY state really
//   means "not written yet".
// - Read late: producers read `free` late (they see less space), the consumer
//   reads `tail` late (it drains less now, the rest next time), metrics read
//   counters late.
//
// Producer death (worker terminated, OOM, crash) and recovery
// A producer can die at any instruction. What it leaves:
//   a) committed records: whole, delivered normally;
//   b) reserved records (header written, not committed): their state word is
//      RESERVED with the producer's epoch. recoverProducer bumps that epoch,
//      and the consumer skips RESERVED records whose epoch is no longer
//      current (counted as abandoned);
//   c) at most one reservation in its window between the tail CAS and the
//      header write: the region [start, end) is zero and the consumer waits at
//      `start` forever. This is why the claim {start, end} is written BEFORE
//      the CAS: recoverProducer reads it, decides from tail, head, the headers
//      and the other producers' claims whether that CAS succeeded, and if it
//      did writes an ABANDONED header over the region so the consumer skips
//      it. If another live producer is inside its own window at the same
//      position, recovery cannot decide yet and returns false: call again
//      (microseconds later it can). Two producers dead in the same window are
//      resolved too: the winner's end is the smallest claimed end that is a
//      reservation boundary.
// Procedure for the host, after the worker's 'exit' event (never before:
// recovering a live producer corrupts the ring):
//   while (!ring.recoverProducer(id)) await setImmediate();  // or recoverProducerAsync
//   ...start the new worker, which calls ring.producer(id) again.
// producer(id) refuses an id whose last incarnation was not recovered.
//
// Consumer death: records it drained but had not yet acknowledged are
// delivered again (at-least-once), and its zeroing may be unfinished. Before a
// new consumer drains, the host calls recoverConsumer() (no consumer running).

import {
  EPOCH_MASK,
  KIND_MPSC,
  LAYOUT_VERSION,
  MAX_PRODUCERS,
  PRODUCER_ATTACHED,
  PRODUCER_DEAD,
  PRODUCER_DETACHED,
  REC_HEADER,
  RING_MAGIC,
  STATE_ABANDONED,
  STATE_COMMITTED,
  STATE_EMPTY,
  STATE_PAD,
  STATE_RESERVED,
  STATE_SHIFT,
  fMpscAbandonedRecords,
  fMpscDrainedBytes,
  fMpscDrainedRecords,
  fMpscRecoveredClaims,
  fpBytes,
  fpCasRetries,
  fpFull,
  fpOversize,
  fpRecords,
  kCapacity,
  kKind,
  kMagic,
  kMaxProducers,
  kMpscFree,
  kMpscHead,
  kMpscTail,
  kVersion,
  mpscHeaderBytes,
  pClaim,
  pEnd,
  pEpoch,
  pStart,
  pState,
  producerSlot,
  wLen,
  wSession,
  wState,
  wTypeProducer,
} from './layout.js';
import { RingError, RingErrorCode } from './errors.js';
import { checkCapacity, type RecordHandler } from './spsc.js';
import type { Doorbell } from './doorbell.js';

const RESERVED_KIND = STATE_RESERVED >>> STATE_SHIFT;

export interface MpscOptions {
  /** Producer slots (ids 0..maxProducers-1). Default 16. */
  maxProducers?: number;
  doorbell?: Doorbell;
}

export interface MpscProducerStats {
  id: number;
  state: 'detached' | 'attached' | 'dead';
  epoch: number;
  records: number;
  bytes: number;
  fullFailures: number;
  oversize: number;
  casRetries: number;
}

export interface MpscStats {
  capacity: number;
  usedBytes: number;
  drainedRecords: number;
  drainedBytes: number;
  /** Reserved-but-never-committed records of dead producers skipped by the consumer. */
  abandonedRecords: number;
  /** Reservations of dead producers caught between CAS and header, resolved by recovery. */
  recoveredClaims: number;
  /** Sum over producers. */
  pushedRecords: number;
  pushedBytes: number;
  fullFailures: number;
  oversize: number;
  casRetries: number;
  producers: MpscProducerStats[];
}

const STATE_NAMES = ['detached', 'attached', 'dead'] as const;

export class MpscRing {
  /** Bytes of shared memory for `capacity` data bytes and `maxProducers` producer slots. */
  static bytesFor(capacity: number, maxProducers = 16): number {
    checkCapacity(capacity);
    checkProducers(maxProducers);
    return mpscHeaderBytes(maxProducers) + capacity;
  }

  /** Allocates and initialises a ring in a new SharedArrayBuffer. Cold path. */
  static create(capacity: number, opts: MpscOptions = {}): MpscRing {
    const maxProducers = opts.maxProducers ?? 16;
    const sab = new SharedArrayBuffer(MpscRing.bytesFor(capacity, maxProducers));
    MpscRing.init(sab, 0, capacity, maxProducers);
    return new MpscRing(sab, 0, opts.doorbell);
  }

  /** Writes the header of a fresh ring at `byteOffset` (zeroed memory expected). Cold path. */
  static init(sab: SharedArrayBuffer, byteOffset: number, capacity: number, maxProducers = 16): void {
    checkCapacity(capacity);
    checkProducers(maxProducers);
    if (byteOffset % 64 !== 0 || byteOffset + mpscHeaderBytes(maxProducers) + capacity > sab.byteLength) {
      throw new RingError(RingErrorCode.layout, `no room for an MPSC ring of ${capacity} bytes at offset ${byteOffset} (64-byte aligned)`);
    }
    const h = new Int32Array(sab, byteOffset, mpscHeaderBytes(maxProducers) / 4);
    h[kKind] = KIND_MPSC;
    h[kCapacity] = capacity;
    h[kVersion] = LAYOUT_VERSION;
    h[kMaxProducers] = maxProducers;
    Atomics.store(h, kMagic, RING_MAGIC);
  }

  readonly buffer: SharedArrayBuffer;
  readonly byteOffset: number;
  readonly capacity: number;
  readonly maxProducers: number;
  readonly maxPayload: number;
  /** The data region; payload offsets index it. */
  readonly data: Uint8Array;

  /** @internal shared with MpscProducer */
  readonly hdr: Int32Array;
  /** @internal */
  readonly cnt: Float64Array;
  /** @internal */
  readonly i32: Int32Array;
  /** @internal */
  readonly mask: number;
  /** @internal */
  readonly maxRecord: number;
  /** @internal */
  readonly bell: Doorbell | null;
  private readonly releaseEvery: number;
  private headLocal: number;
  /** Scratch result of firstUnwritten(). */
  private unwrittenAt = 0;

  /** Wraps an initialised ring (created in this or another thread). Cold path. */
  constructor(sab: SharedArrayBuffer, byteOffset = 0, doorbell?: Doorbell) {
    if (byteOffset % 64 !== 0 || byteOffset + mpscHeaderBytes(0) > sab.byteLength) {
      throw new RingError(RingErrorCode.layout, `MPSC ring header does not fit at offset ${byteOffset}`);
    }
    const fixed = new Int32Array(sab, byteOffset, mpscHeaderBytes(0) / 4);
    if (Atomics.load(fixed, kMagic) !== RING_MAGIC || fixed[kKind] !== KIND_MPSC || fixed[kVersion] !== LAYOUT_VERSION) {
      throw new RingError(RingErrorCode.layout, `no MPSC ring (layout v${LAYOUT_VERSION}) at offset ${byteOffset}`);
    }
    const capacity = fixed[kCapacity]!;
    const maxProducers = fixed[kMaxProducers]!;
    checkCapacity(capacity);
    checkProducers(maxProducers);
    const headerBytes = mpscHeaderBytes(maxProducers);
    if (byteOffset + headerBytes + capacity > sab.byteLength) {
      throw new RingError(RingErrorCode.layout, `MPSC ring of ${capacity} bytes overruns its buffer`);
    }
    this.buffer = sab;
    this.byteOffset = byteOffset;
    this.capacity = capacity;
    this.maxProducers = maxProducers;
    this.mask = capacity - 1;
    this.maxRecord = capacity / 2;
    this.maxPayload = this.maxRecord - REC_HEADER;
    this.releaseEvery = capacity / 4;
    this.hdr = new Int32Array(sab, byteOffset, headerBytes / 4);
    this.cnt = new Float64Array(sab, byteOffset, headerBytes / 8);
    this.data = new Uint8Array(sab, byteOffset + headerBytes, capacity);
    this.i32 = new Int32Array(sab, byteOffset + headerBytes, capacity / 4);
    this.bell = doorbell ?? null;
    this.headLocal = Atomics.load(this.hdr, kMpscHead);
  }

  /**
   * Attaches producer `id` in the calling thread. Cold path. Throws
   * MMO_ERR_RING_PRODUCER if the id is out of range, attached elsewhere, or
   * its previous incarnation died and recoverProducer(id) has not completed.
   */
  producer(id: number): MpscProducer {
    if (!Number.isInteger(id) || id < 0 || id >= this.maxProducers) {
      throw new RingError(RingErrorCode.producer, `producer id ${id} out of range 0..${this.maxProducers - 1}`);
    }
    const s = producerSlot(id);
    const prev = Atomics.compareExchange(this.hdr, s + pState, PRODUCER_DETACHED, PRODUCER_ATTACHED);
    if (prev !== PRODUCER_DETACHED) {
      throw new RingError(
        RingErrorCode.producer,
        prev === PRODUCER_DEAD
          ? `producer ${id} died and its recovery has not completed: call recoverProducer(${id}) until it returns true`
          : `producer ${id} is already attached (if its thread died, call recoverProducer(${id}) first)`,
      );
    }
    Atomics.store(this.hdr, s + pClaim, 0);
    return new MpscProducer(this, id, Atomics.load(this.hdr, s + pEpoch) & EPOCH_MASK);
  }

  // ---------------------------------------------------------------- consumer

  /**
   * Calls `handler` for up to `max` committed records in reservation order,
   * skipping padding and abandoned records, and frees their space (zeroed).
   * Stops early at a record still being written. Returns records delivered.
   * A throwing handler: as SpscRing.drain.
   */
  drain(handler: RecordHandler, max = 0x7fffffff): number {
    const hdr = this.hdr;
    let h = this.headLocal;
    const t = Atomics.load(hdr, kMpscTail);
    if (h === t) return 0;
    const i32 = this.i32;
    const data = this.data;
    const mask = this.mask;
    const cap = this.capacity;
    const every = this.releaseEvery;
    let released = h;
    let n = 0;
    let bytes = 0;
    let abandoned = 0;
    try {
      while (h !== t && n < max) {
        const idx = h & mask;
        const rem = cap - idx;
        // Padding is passed only together with the record after it (at the
        // lap start): while that record is unwritten the padding stays in
        // place, which recovery relies on to see how far its winner got.
        if (rem < REC_HEADER) {
          if (!this.passable()) break;
          h = (h + rem) | 0;
          continue;
        }
        const b = idx >> 2;
        const state = Atomics.load(i32, b + wState);
        if (state === STATE_COMMITTED) {
          const len = i32[b + wLen]!;
          const tp = i32[b + wTypeProducer]!;
          h = (h + ((len + 23) & ~7)) | 0;
          n++;
          bytes += len;
          handler(tp & 0xffff, i32[b + wSession]! >>> 0, data, idx + REC_HEADER, len, tp >>> 16);
        } else if (state === STATE_ABANDONED) {
          h = (h + i32[b + wLen]!) | 0;
        } else if (state === STATE_PAD) {
          if (!this.passable()) break;
          h = (h + i32[b + wLen]!) | 0;
        } else if (state >>> STATE_SHIFT === RESERVED_KIND && this.isStale(i32[b + wTypeProducer]! >>> 16, state)) {
          h = (h + ((i32[b + wLen]! + 23) & ~7)) | 0;
          abandoned++;
        } else {
          break; // EMPTY or RESERVED by a live producer: not ready yet.
        }
        if (((h - released) | 0) >= every) {
          this.release(released, h);
          released = h;
        }
      }
    } finally {
      this.headLocal = h;
      if (h !== released) this.release(released, h);
      const c = this.cnt;
      c[fMpscDrainedRecords]! += n;
      c[fMpscDrainedBytes]! += bytes;
      if (abandoned !== 0) c[fMpscAbandonedRecords]! += abandoned;
    }
    return n;
  }

  /** True when nothing is reserved past the consumer (shared indices; may be stale). */
  isEmpty(): boolean {
    return Atomics.load(this.hdr, kMpscTail) === Atomics.load(this.hdr, kMpscHead);
  }

  /** Bytes reserved and not yet freed (records, padding, unzeroed space); may be stale. */
  usedBytes(): number {
    return (Atomics.load(this.hdr, kMpscTail) - Atomics.load(this.hdr, kMpscFree)) | 0;
  }

  /** head published, memory zeroed, free published: in that order (see recovery). */
  private release(from: number, to: number): void {
    Atomics.store(this.hdr, kMpscHead, to);
    this.zero(from, to);
    Atomics.store(this.hdr, kMpscFree, to);
  }

  private zero(from: number, to: number): void {
    const len = (to - from) | 0;
    if (len <= 0) return;
    const idx = from & this.mask;
    const first = Math.min(len, this.capacity - idx);
    // Int32 fill: every position and length here is a multiple of 8.
    this.i32.fill(0, idx >> 2, (idx + first) >> 2);
    if (first < len) this.i32.fill(0, 0, (len - first) >> 2);
  }

  /**
   * The record at the start of the data region (behind padding) can be
   * delivered or skipped now. Its memory was zeroed before its producer
   * claimed it, so EMPTY there really means "not written yet".
   */
  private passable(): boolean {
    const s = Atomics.load(this.i32, wState);
    if (s === STATE_COMMITTED || s === STATE_ABANDONED) return true;
    return s >>> STATE_SHIFT === RESERVED_KIND && this.isStale(this.i32[wTypeProducer]! >>> 16, s);
  }

  /** A RESERVED record whose producer has been recovered since it wrote it. */
  private isStale(producer: number, state: number): boolean {
    if (producer >= this.maxProducers) return false;
    return (Atomics.load(this.hdr, producerSlot(producer) + pEpoch) & EPOCH_MASK) !== (state & EPOCH_MASK);
  }

  // ---------------------------------------------------------------- recovery (host)

  /**
   * Host, after producer `id`'s thread has exited: makes the ring skip
   * everything that incarnation reserved and did not commit. Returns true when
   * done (the id may be attached again), false when another live producer is
   * inside its reservation window at the same position so the outcome cannot
   * be decided yet: call again shortly. Idempotent. Never call it for a
   * producer that may still run. Allocation-free.
   */
  recoverProducer(id: number): boolean {
    if (!Number.isInteger(id) || id < 0 || id >= this.maxProducers) {
      throw new RingError(RingErrorCode.producer, `producer id ${id} out of range 0..${this.maxProducers - 1}`);
    }
    const hdr = this.hdr;
    const s = producerSlot(id);
    const st = Atomics.load(hdr, s + pState);
    if (st === PRODUCER_DETACHED) return true;
    if (st === PRODUCER_ATTACHED) {
      // Epoch first: from here the consumer skips this incarnation's RESERVED records.
      Atomics.add(hdr, s + pEpoch, 1);
      Atomics.store(hdr, s + pState, PRODUCER_DEAD);
    }
    if (Atomics.load(hdr, s + pClaim) !== 0) {
      if (!this.resolveClaim(hdr[s + pStart]!)) return false;
    }
    Atomics.store(hdr, s + pClaim, 0);
    Atomics.store(hdr, s + pState, PRODUCER_DETACHED);
    // The consumer may be asleep in front of what was just made skippable.
    if (this.bell !== null) this.bell.ring();
    return true;
  }

  /** recoverProducer, retried on setImmediate until done or `timeoutMs` passes (then rejects). Cold path. */
  async recoverProducerAsync(id: number, timeoutMs = 1000): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (!this.recoverProducer(id)) {
      if (performance.now() > deadline) {
        throw new RingError(RingErrorCode.producer, `recovery of producer ${id} still blocked by a live producer after ${timeoutMs} ms`);
      }
      await new Promise((r) => setImmediate(r));
    }
  }

  /**
   * Host, after the consumer's thread has exited and before a new consumer
   * drains: finishes the dead consumer's zeroing so producers see clean
   * memory. Records it drained without publishing the head are delivered
   * again. Cold path.
   */
  recoverConsumer(): void {
    const head = Atomics.load(this.hdr, kMpscHead);
    this.zero(Atomics.load(this.hdr, kMpscFree), head);
    Atomics.store(this.hdr, kMpscFree, head);
    this.headLocal = head;
  }

  /**
   * Decides the claim at position x of one or more dead producers (the one
   * being recovered and any other dead one that read the same tail). Reads are
   * ordered so that a live winner is never mistaken for a dead one:
   * tail, headers, head, live claims, headers again, head again.
   */
  private resolveClaim(x: number): boolean {
    const hdr = this.hdr;
    // No CAS from x has happened: the dead claimants never won anything.
    if (Atomics.load(hdr, kMpscTail) === x) return this.clearDeadClaims(x);
    // Someone won x. Where is the first header of that reservation not yet written?
    if (!this.firstUnwritten(x)) return this.clearDeadClaims(x);
    const u = this.unwrittenAt;
    if (((u - Atomics.load(hdr, kMpscHead)) | 0) < 0) return this.clearDeadClaims(x); // consumed long ago
    // A live producer claiming x may be the winner, between its CAS and its header write.
    for (let q = 0; q < this.maxProducers; q++) {
      const s = producerSlot(q);
      if (Atomics.load(hdr, s + pState) === PRODUCER_ATTACHED && Atomics.load(hdr, s + pClaim) !== 0 && hdr[s + pStart] === x) return false;
    }
    if (Atomics.load(this.i32, ((u & this.mask) >> 2) + wState) !== STATE_EMPTY) return this.clearDeadClaims(x);
    if (((u - Atomics.load(hdr, kMpscHead)) | 0) < 0) return this.clearDeadClaims(x);
    // The winner is dead. With one dead claimant it is that one; with several
    // (all read tail == x), the winner's end is the smallest claimed end that
    // is a reservation boundary: ends inside the winner's region are zeroed
    // memory nobody claimed from.
    let end = 0;
    let best = 0x7fffffff;
    for (let q = 0; q < this.maxProducers; q++) {
      const s = producerSlot(q);
      if (Atomics.load(hdr, s + pState) !== PRODUCER_DEAD || Atomics.load(hdr, s + pClaim) === 0 || hdr[s + pStart] !== x) continue;
      const e = hdr[s + pEnd]!;
      const len = (e - x) | 0;
      // A torn claim (died between writing start and end) never reached its CAS.
      if (len <= 0 || len > this.capacity || len >= best) continue;
      if (this.isBoundary(e)) {
        best = len;
        end = e;
      }
    }
    if (best === 0x7fffffff) return false; // cannot happen with a consistent ring; retry rather than guess
    const b = (u & this.mask) >> 2;
    this.i32[b + wLen] = (end - u) | 0;
    Atomics.store(this.i32, b + wState, STATE_ABANDONED);
    this.cnt[fMpscRecoveredClaims]! += 1;
    return this.clearDeadClaims(x);
  }

  /**
   * For the reservation won from tail value x: sets unwrittenAt to the first
   * header position the winner has not written yet and returns true, or
   * returns false when all its headers are written. The winner writes the PAD
   * at x (when the record wraps and 16+ bytes remain) before the record header.
   */
  private firstUnwritten(x: number): boolean {
    const i32 = this.i32;
    const idx = x & this.mask;
    const rem = this.capacity - idx;
    let r = x;
    if (rem < REC_HEADER) {
      r = (x + rem) | 0; // implicit pad: the header is at the start of the next lap
    } else {
      const st = Atomics.load(i32, (idx >> 2) + wState);
      if (st === STATE_EMPTY) {
        this.unwrittenAt = x;
        return true;
      }
      if (st !== STATE_PAD) return false;
      r = (x + rem) | 0;
    }
    if (Atomics.load(i32, ((r & this.mask) >> 2) + wState) !== STATE_EMPTY) return false;
    this.unwrittenAt = r;
    return true;
  }

  /** Position e is where some reservation started (the chain of tail values passed through e). */
  private isBoundary(e: number): boolean {
    const hdr = this.hdr;
    if (Atomics.load(hdr, kMpscTail) === e) return true;
    for (let q = 0; q < this.maxProducers; q++) {
      const s = producerSlot(q);
      if (Atomics.load(hdr, s + pClaim) !== 0 && hdr[s + pStart] === e) return true;
    }
    const idx = e & this.mask;
    const rem = this.capacity - idx;
    const v = rem < REC_HEADER ? 0 : idx;
    return Atomics.load(this.i32, (v >> 2) + wState) !== STATE_EMPTY;
  }

  private clearDeadClaims(x: number): true {
    const hdr = this.hdr;
    for (let q = 0; q < this.maxProducers; q++) {
      const s = producerSlot(q);
      if (Atomics.load(hdr, s + pState) === PRODUCER_DEAD && hdr[s + pStart] === x) Atomics.store(hdr, s + pClaim, 0);
    }
    return true;
  }

  // ---------------------------------------------------------------- stats

  /** Producer `id`'s slot state. */
  producerState(id: number): 'detached' | 'attached' | 'dead' {
    return STATE_NAMES[Atomics.load(this.hdr, producerSlot(id) + pState)] ?? 'detached';
  }

  /** Counters (cold path: allocates). */
  stats(): MpscStats {
    const c = this.cnt;
    const producers: MpscProducerStats[] = [];
    const out: MpscStats = {
      capacity: this.capacity,
      usedBytes: this.usedBytes(),
      drainedRecords: c[fMpscDrainedRecords]!,
      drainedBytes: c[fMpscDrainedBytes]!,
      abandonedRecords: c[fMpscAbandonedRecords]!,
      recoveredClaims: c[fMpscRecoveredClaims]!,
      pushedRecords: 0,
      pushedBytes: 0,
      fullFailures: 0,
      oversize: 0,
      casRetries: 0,
      producers,
    };
    for (let q = 0; q < this.maxProducers; q++) {
      const f = producerSlot(q) >> 1;
      const p: MpscProducerStats = {
        id: q,
        state: this.producerState(q),
        epoch: Atomics.load(this.hdr, producerSlot(q) + pEpoch),
        records: c[f + fpRecords]!,
        bytes: c[f + fpBytes]!,
        fullFailures: c[f + fpFull]!,
        oversize: c[f + fpOversize]!,
        casRetries: c[f + fpCasRetries]!,
      };
      producers.push(p);
      out.pushedRecords += p.records;
      out.pushedBytes += p.bytes;
      out.fullFailures += p.fullFailures;
      out.oversize += p.oversize;
      out.casRetries += p.casRetries;
    }
    return out;
  }
}

/**
 * One producer's handle on an MpscRing, used by one thread. Same shape as the
 * SpscRing producer side: reserve/commit in batches, or push.
 */
export class MpscProducer {
  readonly id: number;
  readonly data: Uint8Array;
  readonly maxPayload: number;
  private readonly ring: MpscRing;
  private readonly hdr: Int32Array;
  private readonly cnt: Float64Array;
  private readonly i32: Int32Array;
  private readonly slot: number;
  private readonly f: number;
  private readonly epochState: number;
  private readonly typeTag: number;
  private freeCache: number;
  /** Mirrors the slot's claim flag so the common path does not store it. */
  private claimed = false;
  /** State-word indices of RESERVED records awaiting commit(). Grows (allocates) only past its largest batch. */
  private pending = new Int32Array(64);
  private pendingCount = 0;
  private pendBytes = 0;
  private detached = false;

  /** @internal use MpscRing.producer(id) */
  constructor(ring: MpscRing, id: number, epoch: number) {
    this.ring = ring;
    this.id = id;
    this.data = ring.data;
    this.maxPayload = ring.maxPayload;
    this.hdr = ring.hdr;
    this.cnt = ring.cnt;
    this.i32 = ring.i32;
    this.slot = producerSlot(id);
    this.f = this.slot >> 1;
    this.epochState = STATE_RESERVED | epoch;
    this.typeTag = id << 16;
    this.freeCache = Atomics.load(ring.hdr, kMpscFree);
  }

  /**
   * Wins [t, t + total) by CAS on the tail, total = need plus padding when the
   * record would straddle the end. Returns the data index of the record
   * header (after writing the PAD record if any), or -1 when full (counted).
   */
  private claim(need: number): number {
    const hdr = this.hdr;
    const ring = this.ring;
    const cap = ring.capacity;
    const mask = ring.mask;
    const s = this.slot;
    for (;;) {
      const t = Atomics.load(hdr, kMpscTail);
      const rem = cap - (t & mask);
      const total = need > rem ? rem + need : need;
      if (((t + total - this.freeCache) | 0) > cap) {
        this.freeCache = Atomics.load(hdr, kMpscFree);
        if (((t + total - this.freeCache) | 0) > cap) {
          if (this.claimed) {
            Atomics.store(hdr, s + pClaim, 0);
            this.claimed = false;
          }
          this.cnt[this.f + fpFull]! += 1;
          return -1;
        }
      }
      // Claim before the CAS, start before end: recovery must see which region
      // a producer that dies right after the CAS owned.
      hdr[s + pStart] = t;
      hdr[s + pEnd] = (t + total) | 0;
      if (!this.claimed) {
        Atomics.store(hdr, s + pClaim, 1);
        this.claimed = true;
      }
      if (Atomics.compareExchange(hdr, kMpscTail, t, (t + total) | 0) === t) {
        if (total !== need) {
          // Wrapped: PAD first (when 16+ bytes remain), then the record at the lap start.
          if (rem >= REC_HEADER) {
            const p = (t & mask) >> 2;
            this.i32[p + wLen] = rem;
            Atomics.store(this.i32, p + wState, STATE_PAD);
          }
          return 0;
        }
        return t & mask;
      }
      this.cnt[this.f + fpCasRetries]! += 1;
    }
  }

  /**
   * Reserves a record of `length` payload bytes; returns its payload offset in
   * `data` (8-aligned, contiguous) or -1 when full or oversize (counted). The
   * record is RESERVED: the consumer waits at it until commit().
   */
  reserve(type: number, session: number, length: number): number {
    const need = (length + 23) & ~7;
    if (!(length >= 0) || need > this.ring.maxRecord) {
      this.cnt[this.f + fpOversize]! += 1;
      return -1;
    }
    const idx = this.claim(need);
    if (idx < 0) return -1;
    const i32 = this.i32;
    const b = idx >> 2;
    i32[b + wLen] = length;
    i32[b + wTypeProducer] = (type & 0xffff) | this.typeTag;
    i32[b + wSession] = session;
    i32[b + wState] = this.epochState;
    if (this.pendingCount === this.pending.length) {
      const bigger = new Int32Array(this.pending.length * 2);
      bigger.set(this.pending);
      this.pending = bigger;
    }
    this.pending[this.pendingCount++] = b + wState;
    this.pendBytes += length;
    return idx + REC_HEADER;
  }

  /** Marks every record reserved since the last commit COMMITTED, then rings the doorbell. */
  commit(): void {
    const n = this.pendingCount;
    if (n === 0) return;
    const i32 = this.i32;
    const pending = this.pending;
    for (let i = 0; i < n; i++) Atomics.store(i32, pending[i]!, STATE_COMMITTED);
    const c = this.cnt;
    c[this.f + fpRecords]! += n;
    c[this.f + fpBytes]! += this.pendBytes;
    this.pendingCount = 0;
    this.pendBytes = 0;
    const bell = this.ring.bell;
    if (bell !== null) bell.ring();
  }

  /**
   * Copies `length` bytes of `src` into a new record and publishes it (one
   * state store, no RESERVED step). Does not commit earlier reservations.
   * Returns false when full or oversize (counted). Allocation-free.
   */
  push(type: number, session: number, src: Uint8Array, srcOffset = 0, length = src.length - srcOffset): boolean {
    const need = (length + 23) & ~7;
    if (!(length >= 0) || need > this.ring.maxRecord) {
      this.cnt[this.f + fpOversize]! += 1;
      return false;
    }
    const idx = this.claim(need);
    if (idx < 0) return false;
    const i32 = this.i32;
    const b = idx >> 2;
    i32[b + wLen] = length;
    i32[b + wTypeProducer] = (type & 0xffff) | this.typeTag;
    i32[b + wSession] = session;
    const data = this.data;
    const off = idx + REC_HEADER;
    if (srcOffset === 0 && length === src.length) {
      data.set(src, off);
    } else if (length <= 64) {
      for (let i = 0; i < length; i++) data[off + i] = src[srcOffset + i]!;
    } else {
      data.set(src.subarray(srcOffset, srcOffset + length), off);
    }
    Atomics.store(i32, b + wState, STATE_COMMITTED);
    const c = this.cnt;
    c[this.f + fpRecords]! += 1;
    c[this.f + fpBytes]! += length;
    const bell = this.ring.bell;
    if (bell !== null) bell.ring();
    return true;
  }

  /** Reservations not yet committed. */
  pendingRecords(): number {
    return this.pendingCount;
  }

  /** Graceful release of the id (the thread is done producing). Throws if reservations are uncommitted. Cold path. */
  detach(): void {
    if (this.detached) return;
    if (this.pendingCount !== 0) {
      throw new RingError(RingErrorCode.pending, `producer ${this.id} detaching with ${this.pendingCount} uncommitted reservations`);
    }
    this.detached = true;
    Atomics.store(this.hdr, this.slot + pClaim, 0);
    Atomics.store(this.hdr, this.slot + pState, PRODUCER_DETACHED);
  }
}

function checkProducers(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_PRODUCERS) {
    throw new RingError(RingErrorCode.capacity, `maxProducers must be an integer from 1 to ${MAX_PRODUCERS}, got ${n}`);
  }
}
