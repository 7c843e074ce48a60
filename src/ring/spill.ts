// A producer on an SPSC ring that never refuses a record: when the ring is
// full (or records are already waiting), the record is written into a copy
// that waits in a queue, and the queue is moved into the ring, in order, at
// the next commit that finds room. For records that must not be lost and
// must keep their order (the commands between the main thread and a gateway
// thread's sessions); the hot path never spills in steady state.
//
// Single-threaded: the ring's producer thread only. Use it like a ring:
//   const off = p.reserve(type, session, length); write into p.data at off; p.commit() later.
// `data` is the ring's memory, or the spilled copy, for the last reservation.

import type { SpscRing } from './spsc.js';

/** What record writers need of a producer: SpscRing has it, and so does SpillingProducer. */
export interface RecordSink {
  /** Offset of a `length`-byte payload in `data`, or -1 when it cannot be written. */
  reserve(type: number, session: number, length: number): number;
  readonly data: Uint8Array;
}

interface Spilled {
  type: number;
  session: number;
  bytes: Uint8Array;
}

export class SpillingProducer implements RecordSink {
  private queue: Spilled[] = [];
  private head = 0;
  private cur: Uint8Array;
  /** Records that had to wait in the queue (counted, for metrics). */
  spills = 0;

  constructor(private ring: SpscRing) {
    this.cur = ring.data;
  }

  /** A new ring to produce into (the thread at the other end restarted); what waited is dropped with the old one. */
  replace(ring: SpscRing): void {
    this.ring = ring;
    this.cur = ring.data;
    this.queue = [];
    this.head = 0;
  }

  get data(): Uint8Array {
    return this.cur;
  }

  /** Records waiting for room. */
  get waiting(): number {
    return this.queue.length - this.head;
  }

  reserve(type: number, session: number, length: number): number {
    // Larger than the ring could ever take: refused, or it would block the queue for good.
    if (length > this.ring.maxPayload) return -1;
    if (this.head === this.queue.length) {
      const off = this.ring.reserve(type, session, length);
      if (off >= 0) {
        this.cur = this.ring.data;
        return off;
      }
    }
    const bytes = new Uint8Array(length);
    this.queue.push({ type, session, bytes });
    this.spills++;
    this.cur = bytes;
    return 0;
  }

  /** Moves what waited into the ring (as far as it fits) and publishes. */
  commit(): void {
    const q = this.queue;
    while (this.head < q.length) {
      const r = q[this.head]!;
      const off = this.ring.reserve(r.type, r.session, r.bytes.length);
      if (off < 0) break;
      this.ring.data.set(r.bytes, off);
      q[this.head++] = EMPTY;
    }
    if (this.head === q.length && this.head > 0) {
      this.queue = [];
      this.head = 0;
    }
    this.ring.commit();
  }
}

const EMPTY: Spilled = { type: 0, session: 0, bytes: new Uint8Array(0) };
