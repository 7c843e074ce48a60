// The shared memory of one zone: created by the gateway (ZoneHost), wrapped
// by the zone worker, and outliving any one worker so a restart can pick up
// where the crashed one left off.
//
//   inbound   SPSC ring   main thread produces, zone consumes      (ToZone.*)
//   outbound  SPSC ring   zone produces, main thread consumes      (FromZone.*)
//   owners[t] SPSC pair   the same with gateway thread t, whose sessions' records they carry
//                         (net.gatewayThreads >= 2); the zone rings the thread's doorbell
//   mailbox   MPSC ring   other zones produce, this zone consumes  (Mail.*)
//   bell      doorbell    rung by the inbound and mailbox producers; the zone waits on it
//   stats     Float64Array, zone writes, gateway reads at scrape time (may read a tick late)
//   checkpoint  two regions; the zone writes the idle one, then publishes it
//
// The gateway's doorbell (one for all zones' outbound rings) is created by the
// gateway and passed alongside.

import { SpscRing, MpscRing, Doorbell } from '../ring/index.js';

// ---------------------------------------------------------------- stats

/** Slots of a zone's stats block (Float64Array). Written only by the zone worker, except gatewayStallMs and threadStallMs. */
export const ZoneStat = {
  /** Date.now() at the end of the last tick: the supervisor's liveness check. */
  heartbeatMs: 0,
  ticks: 1,
  /** Ticks that ended after the next one was due. */
  overruns: 2,
  tickSecondsSum: 3,
  players: 4,
  npcs: 5,
  inputs: 6,
  /** OUT records the zone could not write because the outbound ring was full (the player gets a snapshot instead). */
  outDropped: 7,
  checkpoints: 8,
  checkpointBytes: 9,
  /** Duplicate or out-of-order moves are the gateway's business; these are the world's refusals, by MoveReject reason. */
  moveRejects: 10, // 10..15
  /** World.stats, by WorldStat index. */
  worldStats: 16, // 16..31
  /** Tick duration histogram counts, one per TICK_BUCKETS bound plus +Inf. */
  tickBuckets: 32,
  /**
   * Written by the gateway (one aligned 8-byte store), read by the zone: the
   * longest stall of the gateway's event loop that ended within the last
   * STALL_WINDOW_MS, in ms, else 0. Inputs read after a stall arrive bunched.
   */
  gatewayStallMs: 45,
  /**
   * The same for each gateway thread's event loop (net.gatewayThreads >= 2),
   * one slot each from here on (MAX_GATEWAY_THREADS of them), each written
   * by its thread: a thread that stalled bunches its own players' inputs.
   */
  threadStallMs: 46,
} as const;

/** Slots for threadStallMs (one per gateway thread at most: net/gateway-records.ts MAX_GATEWAY_THREADS). */
export const THREAD_STALL_SLOTS = 16;

/** How long a stall keeps excusing bunched inputs after it ended, ms. */
export const STALL_WINDOW_MS = 2000;
/** A loop running this late or later counts as stalled, ms (below it, jitter the burst budget covers). */
export const STALL_MIN_MS = 50;

/** Upper bounds of the tick-duration histogram, seconds (the 20 Hz budget is 0.05). */
export const TICK_BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.25, 0.5, 1] as const;
export const MOVE_REJECT_SLOTS = 6;
export const WORLD_STAT_SLOTS = 16;
const STATS_SLOTS = ZoneStat.threadStallMs + THREAD_STALL_SLOTS;
if (ZoneStat.tickBuckets + TICK_BUCKETS.length + 1 > ZoneStat.gatewayStallMs) throw new Error('ZoneStat: tick buckets overlap gatewayStallMs');

// ---------------------------------------------------------------- checkpoint

/**
 * Double-buffered checkpoint. Header (Int32Array): [0] region holding the
 * latest complete checkpoint (0, 1, or -1 for none), [1] its length, [2]
 * checkpoints written. The zone writes the other region, then stores the
 * length and flips [0] with Atomics, so a worker that dies mid-write leaves
 * the previous checkpoint intact.
 */
const CP_HEADER = 64;
const kCpActive = 0;
const kCpLength = 1;
const kCpCount = 2;

export class CheckpointBuffer {
  static bytesFor(regionBytes: number): number {
    return CP_HEADER + 2 * align8(regionBytes);
  }

  readonly header: Int32Array;
  readonly regionBytes: number;

  constructor(
    readonly buffer: SharedArrayBuffer,
    regionBytes: number,
  ) {
    this.regionBytes = align8(regionBytes);
    this.header = new Int32Array(buffer, 0, CP_HEADER / 4);
  }

  static create(regionBytes: number): CheckpointBuffer {
    const cp = new CheckpointBuffer(new SharedArrayBuffer(CheckpointBuffer.bytesFor(regionBytes)), regionBytes);
    Atomics.store(cp.header, kCpActive, -1);
    return cp;
  }

  /** The region to write next (not the published one). Zone only. */
  writable(): Uint8Array {
    const next = Atomics.load(this.header, kCpActive) === 0 ? 1 : 0;
    return new Uint8Array(this.buffer, CP_HEADER + next * this.regionBytes, this.regionBytes);
  }

  /** Publishes the region writable() returned, holding `length` bytes. Zone only. */
  publish(length: number): void {
    const next = Atomics.load(this.header, kCpActive) === 0 ? 1 : 0;
    Atomics.store(this.header, kCpLength, length);
    Atomics.store(this.header, kCpActive, next);
    Atomics.add(this.header, kCpCount, 1);
  }

  /** The latest complete checkpoint, or null. A restarted zone reads it before anything writes. */
  latest(): Uint8Array | null {
    const active = Atomics.load(this.header, kCpActive);
    if (active < 0) return null;
    return new Uint8Array(this.buffer, CP_HEADER + active * this.regionBytes, Atomics.load(this.header, kCpLength));
  }

  get count(): number {
    return Atomics.load(this.header, kCpCount);
  }
}

// ---------------------------------------------------------------- the whole

/**
 * A gateway thread's rings with one zone (net.gatewayThreads >= 2): it
 * produces `inbound` (its sessions' inputs and records), the zone produces
 * `outbound` (everything about those sessions) and rings `bell`, the
 * thread's doorbell. They outlive both the worker and the thread: a restarted
 * thread wraps them again (main thread and zone worker rings above are the
 * main thread's pair, and the last owner's).
 */
export interface OwnerRingHandles {
  inbound: SharedArrayBuffer;
  outbound: SharedArrayBuffer;
  bell: SharedArrayBuffer;
}

/** What crosses to the worker in workerData (SharedArrayBuffers and numbers only). */
export interface ZoneMemoryHandles {
  /** The main thread's rings (its owner is the last, after the gateway threads'). */
  inbound: SharedArrayBuffer;
  outbound: SharedArrayBuffer;
  /** Each gateway thread's rings, by thread index; empty when the main thread serves every socket. */
  owners: OwnerRingHandles[];
  mailbox: SharedArrayBuffer;
  bell: SharedArrayBuffer;
  gatewayBell: SharedArrayBuffer;
  stats: SharedArrayBuffer;
  checkpoint: SharedArrayBuffer;
  checkpointRegionBytes: number;
}

export interface ZoneMemorySizes {
  inboundBytes: number;
  outboundBytes: number;
  /** Sizes of each gateway thread's pair (and of the main thread's, when there are threads). */
  ownerInboundBytes?: number;
  ownerOutboundBytes?: number;
  mailboxBytes: number;
  mailboxProducers: number;
  checkpointBytes: number;
}

function ring(bytes: number): SharedArrayBuffer {
  const sab = new SharedArrayBuffer(SpscRing.bytesFor(bytes));
  SpscRing.init(sab, 0, bytes);
  return sab;
}

/** Allocates a zone's shared memory; `ownerBells`: each gateway thread's doorbell (none: the main thread serves every socket). Gateway side, cold path. */
export function createZoneMemory(sizes: ZoneMemorySizes, gatewayBell: Doorbell, ownerBells: readonly SharedArrayBuffer[] = []): ZoneMemoryHandles {
  const bell = Doorbell.create();
  const threads = ownerBells.length > 0;
  const inbound = ring(threads ? (sizes.ownerInboundBytes ?? sizes.inboundBytes) : sizes.inboundBytes);
  const outbound = ring(threads ? (sizes.ownerOutboundBytes ?? sizes.outboundBytes) : sizes.outboundBytes);
  const owners = ownerBells.map((b) => ({
    inbound: ring(sizes.ownerInboundBytes ?? sizes.inboundBytes),
    outbound: ring(sizes.ownerOutboundBytes ?? sizes.outboundBytes),
    bell: b,
  }));
  const mailbox = MpscRing.create(sizes.mailboxBytes, { maxProducers: sizes.mailboxProducers, doorbell: bell }).buffer;
  const cp = CheckpointBuffer.create(sizes.checkpointBytes);
  return {
    inbound,
    outbound,
    owners,
    mailbox,
    bell: bell.buffer,
    gatewayBell: gatewayBell.buffer,
    stats: new SharedArrayBuffer(STATS_SLOTS * 8),
    checkpoint: cp.buffer,
    checkpointRegionBytes: cp.regionBytes,
  };
}

export function statsView(h: ZoneMemoryHandles): Float64Array {
  return new Float64Array(h.stats);
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

/**
 * The longest recent stall of one event loop: a loop that ran `lateMs` late
 * at `now` notes it; current() is that stall for STALL_WINDOW_MS after it
 * ended (a longer one replaces it), then 0. Owned by one thread.
 */
export class StallTracker {
  private stall = 0;
  private endedAt = -Infinity;

  note(lateMs: number, now: number): void {
    if (lateMs >= STALL_MIN_MS && lateMs >= this.current(now)) {
      this.stall = lateMs;
      this.endedAt = now;
    }
  }

  current(now: number): number {
    return now - this.endedAt <= STALL_WINDOW_MS ? this.stall : 0;
  }
}
