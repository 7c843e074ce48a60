// The record streams between this node and each other node, made reliable
// and ordered over core NATS. Core NATS is at-most-once: it drops messages
// for a consumer that falls behind (slow consumer) and whatever was in
// flight when a connection breaks; one unexplained load run lost 665
// acknowledged chat lines that way. Every batch of wire.ts carries a
// sequence number in its sender's stream to that receiver, and an ack of the
// receiver-to-sender stream:
//
//   sender                                   receiver
//   take(seq n) ─▶ resend ring[n & mask]      n == expected: deliver, expected++
//   publish ────────────── batch n ──────────▶ n > expected: drop, NACK (expected-1)
//   ack a: free ring up to a ◀── ack a ──────  n < expected: duplicate, drop
//   NACK a: publish again from a+1            ack rides on every batch back; alone after ACK_DELAY_MS
//   nothing acked for rto: again from the oldest unacked (rto doubles up to RTO_MAX_MS)
//
// Why both a NACK and a timeout. The NACK (receiver-driven) repairs a gap one
// round trip after the next batch shows it: losses under load come in bursts
// in the middle of traffic, and waiting for a timeout would stall every
// player of that peer for it. It cannot see a loss at the tail (nothing comes
// after), nor a stream whose acks are lost: the sender's timeout covers those.
// Go-back-N, not selective repeat: NATS keeps the order of one publisher on
// one subject, so a batch past a gap is always followed by the rest of the
// burst; the receiver keeps nothing out of order (no memory to bound there)
// and the sender resends from the gap on, paced (PUMP_* per turn or tick).
//
// Incarnations. A stream id is random and new whenever this node's state
// with a peer starts afresh: at start-up, when the peer is gone (directory),
// and on a reset. A receiver adopts a sender's stream only where it begins
// (seq 1) or from a message that acknowledges the receiver's own current
// stream, so a batch of a stream from before a reset is never taken for a
// new one. A message whose stream differs from the one adopted means the
// peer restarted or reset: what each side knew of the other is void (records
// were lost), so this side resets too and `onReset` has the node treat the
// peer as gone and back (its zones' sessions here end, its players in our
// zones are saved: what the directory does for a dead node). A receiver that
// does not know a stream answers with a NACK carrying its own new stream id,
// so a peer that forgot us makes the sender reset instead of resending into
// the void forever.
//
// Bounded memory. The resend ring holds at most `maxBatches` batches and
// `maxBytes` bytes per peer (peer slow or away: NATS down, a stalled
// process). Past either the stream is reset (counted as an overflow): the
// peer is treated as gone here, as a node silent for cluster.nodeTimeoutMs
// would be, and comes back with its next heartbeat on a fresh stream. The
// defaults (4096 batches, 16 MiB) hold about 10 s of a busy peer (about 400
// batches/s of ~2 KB in the 1,500-bot run), past cluster.nodeTimeoutMs.
//
// Sequence numbers are u32 and compared in serial arithmetic ((a - b) | 0),
// so a stream may run past 2^32 batches. Hot path: a batch costs one slice
// (Outbox.take) kept by reference in the ring; no allocation per record; an
// ack alone allocates its 20 bytes (at most one per peer per ACK_DELAY_MS).

import { BATCH_HEADER, BatchFlag, BatchHeader, Outbox, zoneSubject } from './wire.js';

/** What the streams need of the NATS link. */
export interface StreamTransport {
  readonly up: boolean;
  publish(subject: string, data: Uint8Array): void;
}

export interface StreamOptions {
  /** This node's id. */
  self: string;
  transport: StreamTransport;
  /** A batch from `from`, new and in order: read its records (wire.ts readBatch). */
  deliver: (from: string, batch: Uint8Array) => void;
  /** The stream with `peer` was reset (records lost either way): treat the peer as gone and back. Cold path. */
  onReset: (peer: string, why: string) => void;
  /** Milliseconds, monotonic. Default performance.now. */
  now?: () => number;
  /** Runs `fn` once at the end of this event-loop turn. Default setImmediate. */
  schedule?: (fn: () => void) => void;
  /** Random u32 source for stream ids. Default Math.random. */
  random?: () => number;
  /** Batches kept for resending per peer, a power of two. Default 4096. */
  maxBatches?: number;
  /** Bytes kept for resending per peer. Default 16 MiB. */
  maxBytes?: number;
}

/** How long an ack may wait for a batch going the other way to ride on. */
export const ACK_DELAY_MS = 20;
/** Nothing acknowledged for this long: resend from the oldest unacked batch (doubles per try). */
export const RTO_MS = 250;
export const RTO_MAX_MS = 2000;
/** A receiver repeats a NACK for the same gap at most this often (the batches in flight behind it show the same gap). */
export const NACK_REPEAT_MS = 50;
/** How often tick() should run (timeouts, delayed acks, paced resends). */
export const TICK_MS = 20;
/** Resends per peer per pump: about 50 MB/s at most at one pump per tick, so a backlog after an outage does not flood NATS at once. */
const PUMP_BATCHES = 256;
const PUMP_BYTES = 1 << 20;
/** Peers with state here, at most: a hostile publisher inventing node names cannot grow the table past it. */
export const MAX_PEERS = 1024;

/** One other node: our stream to it and its stream to us. */
class Peer {
  readonly outbox: Outbox;
  readonly subject: string;
  /** In the flush list of this turn. */
  queued = false;
  /** Dropped (reset or gone): its queued flush is skipped. */
  dead = false;

  // ---- our stream to the peer
  readonly stream: number;
  /** The seq the next batch gets. */
  next = 1;
  /** The oldest batch not acknowledged (base == next: none). */
  base = 1;
  /** The next batch to publish (behind `next` while resending or while NATS is away). */
  cursor = 1;
  /** The highest seq published at least once: at or below it, a publish is a resend. */
  maxSent = 0;
  readonly ring: Array<Uint8Array | null>;
  bytes = 0;
  /** When the last ack progress (or the first unacked batch) happened. */
  since = 0;
  rto = RTO_MS;
  rewoundTo = -1;
  rewoundAt = -Infinity;

  // ---- the peer's stream to us
  /** Its stream id, 0 until adopted. */
  theirs = 0;
  /** The seq of its next batch we want. */
  expected = 1;
  ackOwed = false;
  ackOwedSince = 0;
  /** The expected seq the last NACK of a gap was sent for. */
  nackFor = -1;
  nackAt = -Infinity;
  /** When we last answered a batch of a stream we could not adopt. */
  unknownAt = -Infinity;

  constructor(
    readonly id: string,
    self: string,
    stream: number,
    capacity: number,
  ) {
    this.subject = zoneSubject(id, self);
    this.outbox = new Outbox(this.subject);
    this.stream = stream;
    this.ring = new Array<Uint8Array | null>(capacity).fill(null);
  }

  /** Batches sent and not acknowledged. */
  get unacked(): number {
    return (this.next - this.base) >>> 0;
  }
}

/** (a - b) as a signed 32-bit difference: sequence numbers that wrap. */
const diff = (a: number, b: number): number => (a - b) | 0;

export class PeerStreams {
  /** Batches published again (after a NACK or a timeout). */
  resent = 0;
  /** Gaps seen: a batch past the one expected (each missing seq counted once). */
  gaps = 0;
  /** Batches dropped because they were delivered already. */
  duplicates = 0;
  /** Streams reset: a peer restarted or reset, an ack asked for what was freed, or an overflow. */
  resets = 0;
  /** Of those, resend rings that overflowed (the peer was treated as gone). */
  overflows = 0;
  /** Resends for lack of any ack within the timeout. */
  timeouts = 0;
  /** Messages that are not batches of this version (dropped). */
  malformed = 0;
  /** Test and game-day hook (debug.faultInjection): drop every k-th publish of a batch or ack, as a lossy network would. 0: off. */
  dropEvery = 0;
  /** Publishes dropped by dropEvery. */
  dropped = 0;

  private readonly peers = new Map<string, Peer>();
  private readonly queue: Peer[] = [];
  private flushScheduled = false;
  private readonly flushFn = (): void => this.flush();
  private readonly now: () => number;
  private readonly schedule: (fn: () => void) => void;
  private readonly random: () => number;
  private readonly capacity: number;
  private readonly mask: number;
  private readonly maxBytes: number;
  private publishes = 0;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly o: StreamOptions) {
    this.now = o.now ?? (() => performance.now());
    this.schedule = o.schedule ?? ((fn) => void setImmediate(fn));
    this.random = o.random ?? Math.random;
    const cap = o.maxBatches ?? 4096;
    if (!Number.isInteger(cap) || cap < 2 || (cap & (cap - 1)) !== 0) throw Object.assign(new Error(`maxBatches must be a power of two >= 2, got ${cap}`), { code: 'MMO_ERR_CLUSTER_CONFIG' });
    this.capacity = cap;
    this.mask = cap - 1;
    this.maxBytes = o.maxBytes ?? 16 * 1024 * 1024;
  }

  /** Starts the timer of tick() (timeouts, delayed acks). The tests call tick() themselves. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Bytes kept for resending, all peers (gauge). */
  get unackedBytes(): number {
    let n = 0;
    for (const p of this.peers.values()) n += p.bytes;
    return n;
  }

  // ================================================================ send

  /** Appends one record for `to` (copied); it leaves with the peer's batch at the end of this turn. */
  write(to: string, kind: number, type: number, zone: number, session: number, src: Uint8Array | null, offset: number, length: number): void {
    const p = this.peers.get(to) ?? this.create(to);
    if (!p) return;
    if (!p.queued) {
      p.queued = true;
      this.queue.push(p);
    }
    p.outbox.write(kind, type, zone, session, src, offset, length);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      this.schedule(this.flushFn);
    }
  }

  /** Seals each peer's batch of this turn and publishes it: one NATS message per peer per turn. */
  flush(): void {
    this.flushScheduled = false;
    const q = this.queue;
    const now = this.now();
    // By index: a reset below may queue records for a fresh stream (the node ends sessions), flushed in this loop too.
    for (let i = 0; i < q.length; i++) {
      const p = q[i]!;
      p.queued = false;
      if (p.dead || p.outbox.records === 0) continue;
      const len = p.outbox.length;
      if (p.unacked >= this.capacity || p.bytes + len > this.maxBytes) {
        this.overflows++;
        this.reset(p.id, `its resend buffer is full (${p.unacked} batches, ${p.bytes} bytes unacknowledged)`);
        continue;
      }
      const seq = p.next;
      const bytes = p.outbox.take(p.stream, seq, p.theirs, p.theirs === 0 ? 0 : (p.expected - 1) >>> 0);
      p.ring[seq & this.mask] = bytes;
      p.bytes += len;
      if (p.base === p.next) {
        p.since = now;
        p.rto = RTO_MS;
      }
      p.next = (seq + 1) >>> 0;
      this.pump(p);
      // The batch that just left carries the ack.
      if (p.cursor === p.next) p.ackOwed = false;
    }
    q.length = 0;
  }

  /** Publishes the peer's batches from the cursor on, within a budget (the rest at the next flush or tick). */
  private pump(p: Peer): void {
    if (!this.o.transport.up) return;
    let n = 0;
    let bytes = 0;
    while (p.cursor !== p.next && n < PUMP_BATCHES && bytes < PUMP_BYTES) {
      const seq = p.cursor;
      const b = p.ring[seq & this.mask]!;
      if (diff(seq, p.maxSent) <= 0 && p.maxSent !== 0) this.resent++;
      else p.maxSent = seq;
      this.publish(p.subject, b);
      p.cursor = (seq + 1) >>> 0;
      n++;
      bytes += b.length;
    }
  }

  private publish(subject: string, data: Uint8Array): void {
    if (this.dropEvery > 0 && ++this.publishes % this.dropEvery === 0) {
      this.dropped++;
      return;
    }
    this.o.transport.publish(subject, data);
  }

  /** An ack of our stream to `p`: frees what it covers; a NACK also resends what follows it. */
  private acked(p: Peer, ack: number, nack: boolean, now: number): void {
    const freed = diff((ack + 1) >>> 0, p.base);
    if (freed > 0) {
      // An ack of batches never sent: not from a peer that speaks this protocol right.
      if (freed > p.unacked) return;
      for (let i = 0; i < freed; i++) {
        const k = (p.base + i) & this.mask;
        p.bytes -= p.ring[k]!.length;
        p.ring[k] = null;
      }
      p.base = (ack + 1) >>> 0;
      if (diff(p.cursor, p.base) < 0) p.cursor = p.base;
      p.since = now;
      p.rto = RTO_MS;
    }
    if (!nack) return;
    // A NACK from before an ack that freed more is stale (reordered): nothing to do.
    const from = (ack + 1) >>> 0;
    if (diff(from, p.base) < 0 || diff(p.cursor, from) <= 0) return;
    if (from === p.rewoundTo && now - p.rewoundAt < RTO_MS) return;
    p.rewoundTo = from;
    p.rewoundAt = now;
    p.cursor = from;
    this.pump(p);
  }

  // ================================================================ receive

  /** A message on mmo.z.<self>.<from>: a batch or an ack alone. Never throws on bad input (counted, dropped). */
  receive(from: string, data: Uint8Array): void {
    if (from === this.o.self || from === '') return;
    if (!BatchHeader.valid(data) || BatchHeader.stream(data) === 0) {
      this.malformed++;
      return;
    }
    const flags = BatchHeader.flags(data);
    const stream = BatchHeader.stream(data);
    const ackStream = BatchHeader.ackStream(data);
    const now = this.now();
    let p = this.peers.get(from);
    if (p && p.theirs !== 0 && p.theirs !== stream) {
      this.reset(from, 'it restarted or reset its stream');
      p = undefined;
    }
    if (!p) p = this.create(from);
    if (!p) {
      this.malformed++;
      return;
    }
    const isData = (flags & BatchFlag.data) !== 0;
    const seq = BatchHeader.seq(data);
    if (p.theirs === 0 && ((ackStream !== 0 && ackStream === p.stream) || (ackStream === 0 && isData && seq === 1))) {
      p.theirs = stream;
      p.expected = 1;
    }
    if (ackStream === p.stream) this.acked(p, BatchHeader.ack(data), (flags & BatchFlag.nack) !== 0, now);
    if (!isData) return;
    if (p.theirs !== stream) {
      // A stream we cannot adopt: its start is lost, or it is from before we forgot the peer. Our answer carries
      // our stream id: a peer that knew another one resets; one that is just starting resends from seq 1.
      if (now - p.unknownAt >= NACK_REPEAT_MS) {
        p.unknownAt = now;
        this.sendAck(p, stream, 0, true);
      }
      return;
    }
    const d = diff(seq, p.expected);
    if (d < 0) {
      this.duplicates++;
      this.oweAck(p, now);
      return;
    }
    if (d > 0) {
      if (p.nackFor !== p.expected) this.gaps++;
      if (p.nackFor !== p.expected || now - p.nackAt >= NACK_REPEAT_MS) {
        p.nackFor = p.expected;
        p.nackAt = now;
        this.sendAck(p, p.theirs, (p.expected - 1) >>> 0, true);
      }
      return;
    }
    p.expected = (p.expected + 1) >>> 0;
    this.oweAck(p, now);
    this.o.deliver(from, data);
  }

  private oweAck(p: Peer, now: number): void {
    if (p.ackOwed) return;
    p.ackOwed = true;
    p.ackOwedSince = now;
  }

  /** An ack alone (a header without records). */
  private sendAck(p: Peer, ackStream: number, ack: number, nack: boolean): void {
    if (!this.o.transport.up) return;
    const b = new Uint8Array(BATCH_HEADER);
    BatchHeader.write(b, nack ? BatchFlag.nack : 0, p.stream, 0, ackStream, ack);
    if (ackStream === p.theirs) p.ackOwed = false;
    this.publish(p.subject, b);
  }

  // ================================================================ time

  /** Timeouts, delayed acks and paced resends; every TICK_MS. */
  tick(): void {
    const now = this.now();
    const up = this.o.transport.up;
    for (const p of this.peers.values()) {
      if (p.base !== p.next) {
        if (up && now - p.since >= p.rto) {
          // Nothing acknowledged for a whole timeout: the tail was lost, or the acks were. Again from the oldest.
          this.timeouts++;
          p.cursor = p.base;
          p.since = now;
          p.rto = Math.min(p.rto * 2, RTO_MAX_MS);
        }
        if (p.cursor !== p.next) this.pump(p);
      }
      if (p.ackOwed && now - p.ackOwedSince >= ACK_DELAY_MS) this.sendAck(p, p.theirs, (p.expected - 1) >>> 0, false);
    }
  }

  // ================================================================ peers

  private create(id: string): Peer | undefined {
    if (this.peers.size >= MAX_PEERS) return undefined;
    let stream = 0;
    while (stream === 0) stream = Math.floor(this.random() * 0x1_0000_0000) >>> 0;
    const p = new Peer(id, this.o.self, stream, this.capacity);
    this.peers.set(id, p);
    return p;
  }

  /** Forgets everything of `peer` (it is gone): what was unacknowledged is dropped; the next contact is a new stream. */
  drop(peer: string): void {
    const p = this.peers.get(peer);
    if (!p) return;
    p.dead = true;
    this.peers.delete(peer);
  }

  /** Records were lost between us and `peer`: both start afresh, and the node treats the peer as gone and back. */
  private reset(peer: string, why: string): void {
    this.resets++;
    this.drop(peer);
    this.o.onReset(peer, why);
  }

  /** What a peer's streams look like (GET /cluster, tests). Cold path. */
  state(peer: string): { unacked: number; bytes: number; adopted: boolean; expected: number } | null {
    const p = this.peers.get(peer);
    return p ? { unacked: p.unacked, bytes: p.bytes, adopted: p.theirs !== 0, expected: p.expected } : null;
  }
}
