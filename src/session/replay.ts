// A session's replay buffer: the recent sequenced frames it was sent (or
// would have been sent, while a zombie), kept in the paged pool so a resume
// can replay exactly what the client missed.
//
// Invariant: the frames held are exactly seq [first, last], contiguous. A
// frame that cannot be stored (pool ceiling, larger than a page) empties the
// buffer and moves `first` past it: a resume from before it then gets a
// snapshot instead of a replay with a hole. Bounded by frame count, bytes and
// age; the client's Ack frees what it has processed.
//
// Gateway thread only. Storage per frame: one pool slice; per session: three
// small typed arrays, grown by doubling up to maxFrames (cold path).

import type { BufferPool } from '../pool/index.js';

export interface ReplayLimits {
  /** Bytes of frames held per session. */
  maxBytes: number;
  /** Frames older than this are dropped. */
  maxAgeMs: number;
  /** Frames held per session (a power of two). */
  maxFrames: number;
}

export class ReplayBuffer {
  private handles: Int32Array;
  private lengths: Int32Array;
  private times: Float64Array;
  private mask: number;
  /** Ring positions of the oldest frame and the count. */
  private head = 0;
  private count = 0;
  /** Seq of the oldest frame held (or of the next frame, when empty). */
  private first = 1;
  bytes = 0;
  /** Bytes held at most now: limits.maxBytes, or less while the session is a zombie (setByteCap). */
  private cap: number;

  constructor(
    private readonly pool: BufferPool,
    private readonly limits: ReplayLimits,
    initialFrames = 16,
  ) {
    const cap = Math.min(initialFrames, limits.maxFrames);
    this.handles = new Int32Array(cap);
    this.lengths = new Int32Array(cap);
    this.times = new Float64Array(cap);
    this.mask = cap - 1;
    this.cap = limits.maxBytes;
  }

  /**
   * Holds at most `bytes` (never more than limits.maxBytes; Infinity restores
   * it), dropping the oldest frames now if over. A resume from before what
   * is left gets a snapshot.
   */
  setByteCap(bytes: number): void {
    this.cap = Math.min(bytes, this.limits.maxBytes);
    while (this.count > 0 && this.bytes > this.cap) this.dropOldest();
  }

  get frames(): number {
    return this.count;
  }

  /** Seq of the oldest frame held; `next` (last + 1) when empty. */
  get oldest(): number {
    return this.first;
  }

  /**
   * Stores frame `seq` (which must be the one after the newest held, or the
   * first after a reset). Returns false when it could not be kept; the buffer
   * is then empty and starts after `seq`. `frame` is exactly the frame's bytes
   * (the caller keeps such views, so the copy is one native memcpy).
   */
  push(seq: number, frame: Uint8Array, nowMs: number): boolean {
    const length = frame.length;
    if (this.count > 0 && seq !== this.first + this.count) this.reset(seq);
    if (this.count === 0) this.first = seq;
    this.expire(nowMs);
    while (this.count > 0 && (this.bytes + length > this.cap || this.count === this.limits.maxFrames)) this.dropOldest();
    if (length > this.cap) return this.fail(seq);
    if (this.count === this.handles.length && !this.grow()) this.dropOldest();
    const h = this.pool.alloc(length);
    if (h < 0) return this.fail(seq);
    this.pool.bytes(h).set(frame, this.pool.offset(h));
    const i = (this.head + this.count) & this.mask;
    this.handles[i] = h;
    this.lengths[i] = length;
    this.times[i] = nowMs;
    if (this.count === 0) this.first = seq;
    this.count++;
    this.bytes += length;
    return true;
  }

  /** Frees frames up to and including `seq` (the client processed them). */
  ackThrough(seq: number): void {
    while (this.count > 0 && this.first <= seq) this.dropOldest();
    if (this.count === 0 && this.first <= seq) this.first = seq + 1;
  }

  /** Drops frames older than maxAgeMs. */
  expire(nowMs: number): void {
    const cutoff = nowMs - this.limits.maxAgeMs;
    while (this.count > 0 && this.times[this.head]! < cutoff) this.dropOldest();
  }

  /**
   * Whether every frame after `lastSeq` up to `latest` is held, so a resume
   * from `lastSeq` can be replayed exactly.
   */
  covers(lastSeq: number, latest: number): boolean {
    if (lastSeq > latest || lastSeq < 0) return false;
    if (lastSeq === latest) return true;
    return this.count > 0 && lastSeq + 1 >= this.first && this.first + this.count - 1 === latest;
  }

  /** Calls fn for each held frame with seq > lastSeq, oldest first. */
  forEachAfter(lastSeq: number, fn: (bytes: Uint8Array, offset: number, length: number, seq: number) => void): number {
    let n = 0;
    for (let k = 0; k < this.count; k++) {
      const seq = this.first + k;
      if (seq <= lastSeq) continue;
      const i = (this.head + k) & this.mask;
      const h = this.handles[i]!;
      fn(this.pool.bytes(h), this.pool.offset(h), this.lengths[i]!, seq);
      n++;
    }
    return n;
  }

  /** Frees everything; the next frame pushed may have any seq. */
  clear(): void {
    while (this.count > 0) this.dropOldest();
  }

  private reset(seq: number): void {
    this.clear();
    this.first = seq;
  }

  private fail(seq: number): boolean {
    this.clear();
    this.first = seq + 1;
    return false;
  }

  private dropOldest(): void {
    const i = this.head;
    this.pool.free(this.handles[i]!);
    this.bytes -= this.lengths[i]!;
    this.head = (this.head + 1) & this.mask;
    this.count--;
    this.first++;
  }

  /** Doubles the ring up to maxFrames. Cold path. */
  private grow(): boolean {
    const cap = this.handles.length;
    if (cap >= this.limits.maxFrames) return false;
    const next = cap * 2;
    const h = new Int32Array(next);
    const l = new Int32Array(next);
    const t = new Float64Array(next);
    for (let k = 0; k < this.count; k++) {
      const i = (this.head + k) & this.mask;
      h[k] = this.handles[i]!;
      l[k] = this.lengths[i]!;
      t[k] = this.times[i]!;
    }
    this.handles = h;
    this.lengths = l;
    this.times = t;
    this.mask = next - 1;
    this.head = 0;
    return true;
  }
}
