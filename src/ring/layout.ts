// Shared-memory layouts of the rings and the doorbell, declared once. Every
// slot is named; offsets are in units of the view that reads them (Int32 index
// `k*`, Float64 index `f*`). Both threads wrap the same SharedArrayBuffer with
// these constants, so a change here is a change of wire format between threads:
// bump LAYOUT_VERSION.
//
// Positions (head, tail, free, claim start/end) are byte counters that only
// grow, kept in int32 and wrapping at 2^32. The data index of a position is
// `pos & (capacity - 1)`. `(a - b) | 0` is a correct distance as long as it
// stays under 2^31, which holds because capacity <= 2^30.

/** 'RING' */
export const RING_MAGIC = 0x52494e47;
export const LAYOUT_VERSION = 1;
export const KIND_SPSC = 1;
export const KIND_MPSC = 2;

/** Cache line: head, tail and each producer slot get their own. */
export const LINE = 64;

export const MIN_CAPACITY = 256;
/** Positions wrap at 2^32; distances must stay below 2^31. */
export const MAX_CAPACITY = 1 << 30;

// ---------------------------------------------------------------------------
// Record: 16-byte header, payload, padding to 8. A record never straddles
// the end of the data region, so a payload is one contiguous range of `data`
// and, starting at an 8-aligned offset, FlatBuffers decode in place.
//
//  byte 0          4          8          10         12         16
//       +----------+----------+----------+----------+----------+----------------+
//       | state    | len      | type     | producer | session  | payload (len)  | pad to 8
//       | i32      | u32      | u16      | u16      | u32      |                |
//       +----------+----------+----------+----------+----------+----------------+
//
// The state word comes first so that MPSC recovery, probing whether a header
// exists at a position, reads only the 4 bytes at that position (a probe 8
// bytes before a real header must not read that header's words).
//
// Fewer than 16 bytes left before the end of the data region: both sides skip
// to 0 without a marker (an "implicit pad"). Otherwise a record that does not
// fit is preceded by a PAD record whose len covers the rest of the region.
// ---------------------------------------------------------------------------

export const REC_HEADER = 16;
export const REC_ALIGN = 8;
/** Int32 word offsets inside a record header. */
export const wState = 0;
export const wLen = 1;
export const wTypeProducer = 2;
export const wSession = 3;

/** Bytes a record with `len` payload bytes occupies: header + payload, rounded up to 8. */
export function recordBytes(len: number): number {
  return (len + (REC_HEADER + REC_ALIGN - 1)) & ~(REC_ALIGN - 1);
}

// Record state word (`wState`). The kind is in bits 24..27; RESERVED carries
// the producer's epoch in its low 16 bits (MPSC recovery, see mpsc.ts).
export const STATE_SHIFT = 24;
/** Never written (zeroed memory). MPSC consumers stop here. */
export const STATE_EMPTY = 0;
/** MPSC: header written, payload not committed yet. `| (epoch & 0xffff)`. */
export const STATE_RESERVED = 1 << STATE_SHIFT;
/** Ready to read. */
export const STATE_COMMITTED = 2 << STATE_SHIFT;
/** Padding written by a producer: `len` = bytes to the end of the data region. */
export const STATE_PAD = 3 << STATE_SHIFT;
/** MPSC: written by recovery over an abandoned reservation: `len` = bytes to skip. */
export const STATE_ABANDONED = 4 << STATE_SHIFT;
export const EPOCH_MASK = 0xffff;

// ---------------------------------------------------------------------------
// SPSC header: 5 lines, then the data region.
//
//  line 0  [  0.. 64)  constants: magic, kind, capacity, version    (read-only)
//  line 1  [ 64..128)  head                                         (consumer writes)
//  line 2  [128..192)  tail                                         (producer writes)
//  line 3  [192..256)  producer counters                            (producer writes)
//  line 4  [256..320)  consumer counters                            (consumer writes)
//  data    [320..320+capacity)
//
// The producer reads head late: it can only underestimate free space. The
// consumer reads tail late: it can only underestimate the records available.
// Counters are plain float64 stores on lines of their own, so updating them
// never moves the line the other side polls; readers (metrics) may see them
// late.
// ---------------------------------------------------------------------------

export const kMagic = 0;
export const kKind = 1;
export const kCapacity = 2;
export const kVersion = 3;
/** MPSC only: number of producer slots. */
export const kMaxProducers = 4;

export const SPSC_HEADER = 5 * LINE;
/** Int32 index of head (line 1). Consumer-owned. */
export const kSpscHead = LINE / 4;
/** Int32 index of tail (line 2). Producer-owned. */
export const kSpscTail = (2 * LINE) / 4;
/** Float64 index: records published. */
export const fSpscPushedRecords = (3 * LINE) / 8;
/** Float64 index: payload bytes published. */
export const fSpscPushedBytes = (3 * LINE) / 8 + 1;
/** Float64 index: reserve/push refused because the ring was full. */
export const fSpscFull = (3 * LINE) / 8 + 2;
/** Float64 index: reserve/push refused because the record can never fit (len > maxPayload). */
export const fSpscOversize = (3 * LINE) / 8 + 3;
/** Float64 index: records drained. */
export const fSpscDrainedRecords = (4 * LINE) / 8;
/** Float64 index: payload bytes drained. */
export const fSpscDrainedBytes = (4 * LINE) / 8 + 1;

// ---------------------------------------------------------------------------
// MPSC header: 4 lines, one line per producer slot, then the data region.
//
//  line 0    constants: magic, kind, capacity, version, maxProducers     (read-only)
//  line 1    head, free                                                  (consumer writes)
//  line 2    tail                                                        (producers CAS)
//  line 3    consumer counters                                           (consumer writes)
//  line 4+p  producer p: state, epoch, claim, start, end + counters      (producer p writes;
//                                                                         the host on recovery)
//  data      [256 + 64*maxProducers .. +capacity)
//
// head: records before it are consumed (published before zeroing, read by
// recovery). free: memory before it is zeroed and reusable (published after
// zeroing, read by producers). Producers and recovery read both late, which
// only makes them more conservative.
// ---------------------------------------------------------------------------

export const kMpscHead = LINE / 4;
export const kMpscFree = LINE / 4 + 1;
export const kMpscTail = (2 * LINE) / 4;
export const fMpscDrainedRecords = (3 * LINE) / 8;
export const fMpscDrainedBytes = (3 * LINE) / 8 + 1;
/** Float64 index: reserved-but-never-committed records of dead producers skipped by the consumer. */
export const fMpscAbandonedRecords = (3 * LINE) / 8 + 2;
/** Float64 index: reservations of dead producers resolved by recovery (ABANDONED headers written). */
export const fMpscRecoveredClaims = (3 * LINE) / 8 + 3;
export const MPSC_FIXED_HEADER = 4 * LINE;
export const MAX_PRODUCERS = 1024;

/** Int32 offsets inside a producer slot line. */
export const pState = 0;
export const pEpoch = 1;
/** 1 while `start`/`end` describe this producer's latest reservation attempt. */
export const pClaim = 2;
/** Tail value the producer read and tries to CAS from. Written before the CAS. */
export const pStart = 3;
/** Tail value it CASes to (start + pad + record). Written before the CAS. */
export const pEnd = 4;
/** Float64 offsets inside a producer slot line (relative to the slot's first float64). */
export const fpRecords = 3;
export const fpBytes = 4;
export const fpFull = 5;
export const fpCasRetries = 6;
export const fpOversize = 7;

/** Producer slot states. */
export const PRODUCER_DETACHED = 0;
export const PRODUCER_ATTACHED = 1;
/** Marked by the host after the thread died; cleared to DETACHED when recovery completes. */
export const PRODUCER_DEAD = 2;

export function mpscHeaderBytes(maxProducers: number): number {
  return MPSC_FIXED_HEADER + maxProducers * LINE;
}

/** Int32 index of producer p's slot. */
export function producerSlot(p: number): number {
  return (MPSC_FIXED_HEADER + p * LINE) / 4;
}

// ---------------------------------------------------------------------------
// Doorbell: one Int32 on its own line, shared by every ring that feeds one
// consumer.
//
//  [0..4)  bell: 0 = ARMED (the consumer is about to sleep or sleeping; the
//                next producer must notify), 1 = RUNG (nobody needs waking)
//  [8..12) notifications sent (Atomics.add; wraps at 2^32, a metric)
// ---------------------------------------------------------------------------

export const DOORBELL_BYTES = LINE;
export const kBell = 0;
export const kBellNotifies = 2;
export const BELL_ARMED = 0;
export const BELL_RUNG = 1;

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;
}
