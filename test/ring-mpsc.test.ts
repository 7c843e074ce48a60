import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import fc from 'fast-check';
import { MpscRing, MpscProducer, RingError, recordBytes, REC_HEADER } from '../src/ring/index.js';
import { checkRecord, patternByte } from './helpers/records.js';
import { kMpscHead, kMpscTail } from '../src/ring/layout.js';
import { stopInWindow, type WindowStop } from './helpers/mpsc-window.js';
import type { RingWorkerData } from './fixtures/ring-worker.js';

const FIXTURE = new URL('./fixtures/ring-worker.js', import.meta.url);

function startWorker(data: RingWorkerData): Worker & { exited: Promise<unknown> } {
  const w = new Worker(FIXTURE, { workerData: data }) as Worker & { exited: Promise<unknown> };
  w.exited = once(w, 'exit');
  return w;
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

// ---------------------------------------------------------------- model

type RecState = 'reserved' | 'committed' | 'abandoned' | 'window';

interface Rec {
  producer: number;
  type: number;
  session: number;
  len: number;
  id: number;
  state: RecState;
  /** Tail value the reservation was won from. */
  start: number;
  end: number;
}

const PRODUCERS = 3;

/**
 * The contract: records in reservation order; the consumer delivers the
 * committed prefix, skips records abandoned by a recovered producer, and
 * stops at a record still reserved (or claimed by a producer that died before
 * writing its header, until recovery).
 */
class Model {
  free = 0;
  tail = 0;
  recs: Rec[] = [];
  nextId = 1;
  dead = new Array<boolean>(PRODUCERS).fill(false);
  /** recoverProducer was called since the death (the ring then knows it is dead). */
  marked = new Array<boolean>(PRODUCERS).fill(false);
  /** Claim start of a producer that died inside the claim protocol, until resolved. */
  claimStart = new Array<number | undefined>(PRODUCERS).fill(undefined);
  full = 0;
  abandoned = 0;
  recoveredClaims = 0;
  wraps = 0;
  constructor(readonly cap: number) {}

  place(len: number): number | 'full' | 'oversize' {
    const need = recordBytes(len);
    if (need > this.cap / 2) return 'oversize';
    const rem = this.cap - (this.tail & (this.cap - 1));
    const total = need > rem ? rem + need : need;
    if (this.tail + total - this.free > this.cap) return 'full';
    return this.tail + total;
  }
}

interface Real {
  ring: MpscRing;
  producers: MpscProducer[];
}

type Cmd = fc.Command<Model, Real>;

function refusal(m: Model, placed: number | 'full' | 'oversize'): boolean {
  if (placed === 'full') m.full++;
  return placed === 'full' || placed === 'oversize';
}

function record(m: Model, placed: number, p: number, type: number, session: number, len: number, state: RecState): Rec {
  if (Math.floor((placed - 1) / m.cap) !== Math.floor(m.tail / m.cap)) m.wraps++; // reaches the end of the data region
  const r: Rec = { producer: p, type, session, len, id: m.nextId++, state, start: m.tail, end: placed };
  m.recs.push(r);
  m.tail = placed;
  return r;
}

class ReserveCmd implements Cmd {
  constructor(
    readonly p: number,
    readonly type: number,
    readonly session: number,
    readonly len: number,
  ) {}
  check(m: Readonly<Model>): boolean {
    return !m.dead[this.p];
  }
  run(m: Model, r: Real): void {
    const placed = m.place(this.len);
    const off = r.producers[this.p]!.reserve(this.type, this.session, this.len);
    if (refusal(m, placed)) {
      assert.equal(off, -1);
      return;
    }
    assert.ok(off >= REC_HEADER && off % 8 === 0 && off + this.len <= m.cap, `offset ${off}`);
    const rec = record(m, placed as number, this.p, this.type, this.session, this.len, 'reserved');
    for (let i = 0; i < this.len; i++) r.ring.data[off + i] = patternByte(rec.id, i);
  }
  toString(): string {
    return `p${this.p}.reserve(${this.type},${this.session},${this.len})`;
  }
}

class PushCmd implements Cmd {
  constructor(
    readonly p: number,
    readonly type: number,
    readonly session: number,
    readonly len: number,
  ) {}
  check(m: Readonly<Model>): boolean {
    return !m.dead[this.p];
  }
  run(m: Model, r: Real): void {
    const placed = m.place(this.len);
    const src = new Uint8Array(this.len);
    for (let i = 0; i < this.len; i++) src[i] = patternByte(m.nextId, i);
    const ok = r.producers[this.p]!.push(this.type, this.session, src);
    if (refusal(m, placed)) {
      assert.equal(ok, false);
      return;
    }
    assert.equal(ok, true);
    record(m, placed as number, this.p, this.type, this.session, this.len, 'committed');
  }
  toString(): string {
    return `p${this.p}.push(${this.type},${this.session},${this.len})`;
  }
}

class CommitCmd implements Cmd {
  constructor(readonly p: number) {}
  check(m: Readonly<Model>): boolean {
    return !m.dead[this.p];
  }
  run(m: Model, r: Real): void {
    r.producers[this.p]!.commit();
    for (const rec of m.recs) if (rec.producer === this.p && rec.state === 'reserved') rec.state = 'committed';
  }
  toString(): string {
    return `p${this.p}.commit`;
  }
}

class DrainCmd implements Cmd {
  constructor(readonly max: number) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const want: Rec[] = [];
    let consumed = 0;
    for (const rec of m.recs) {
      if (want.length >= this.max) break;
      if (rec.state === 'committed') want.push(rec);
      else if (rec.state !== 'abandoned') break;
      consumed++;
    }
    let i = 0;
    const n = r.ring.drain((type, session, data, off, len, producer) => {
      const w = want[i++];
      assert.ok(w, 'delivered a record that is not committed');
      assert.deepEqual([type, session, len, producer], [w.type, w.session >>> 0, w.len, w.producer]);
      for (let k = 0; k < len; k++) if (data[off + k] !== patternByte(w.id, k)) assert.fail(`record ${w.id} byte ${k} corrupted`);
    }, this.max);
    assert.equal(n, want.length);
    if (consumed > 0) m.free = m.recs[consumed - 1]!.end;
    m.recs.splice(0, consumed);
  }
  toString(): string {
    return `drain(${this.max})`;
  }
}

/** Producer p dies: either between calls (its reservations stay RESERVED) or inside the claim protocol. */
class DieCmd implements Cmd {
  constructor(
    readonly p: number,
    readonly stop: WindowStop | 'idle',
    readonly len: number,
  ) {}
  check(m: Readonly<Model>): boolean {
    return !m.dead[this.p];
  }
  run(m: Model, r: Real): void {
    m.dead[this.p] = true;
    if (this.stop === 'idle') return;
    const placed = m.place(this.len);
    const claim = stopInWindow(r.ring, this.p, this.len, this.stop);
    if (placed === 'full' || placed === 'oversize') {
      assert.equal(claim, null);
      return;
    }
    assert.ok(claim);
    assert.equal(claim.end, placed);
    m.claimStart[this.p] = claim.start;
    if (this.stop !== 'before-cas') record(m, placed, this.p, 0, 0, this.len, 'window');
  }
  toString(): string {
    return `p${this.p}.die(${this.stop},${this.len})`;
  }
}

class RecoverCmd implements Cmd {
  constructor(readonly p: number) {}
  check(m: Readonly<Model>): boolean {
    return m.dead[this.p]!;
  }
  run(m: Model, r: Real): void {
    assert.throws(() => r.ring.producer(this.p), (e: unknown) => e instanceof RingError && e.code === 'MMO_ERR_RING_PRODUCER');
    const x = m.claimStart[this.p];
    // Undecidable while another dead producer the ring still thinks alive claims
    // the same position and that reservation's header is unwritten.
    const deferred =
      x !== undefined &&
      m.recs.some((rec) => rec.state === 'window' && rec.start === x) &&
      m.dead.some((d, q) => d && q !== this.p && !m.marked[q] && m.claimStart[q] === x);
    const ok = r.ring.recoverProducer(this.p);
    assert.equal(ok, !deferred, deferred ? 'a producer the ring believes alive is mid-claim at the same position' : 'recovery completes at once');
    if (!m.marked[this.p]) {
      // First call: epoch bumped, this incarnation's reservations are abandoned.
      m.marked[this.p] = true;
      for (const rec of m.recs) {
        if (rec.producer === this.p && rec.state === 'reserved') {
          rec.state = 'abandoned';
          m.abandoned++;
        }
      }
    }
    if (!ok) return;
    if (x !== undefined) {
      for (const rec of m.recs) {
        if (rec.state === 'window' && rec.start === x) {
          rec.state = 'abandoned';
          m.recoveredClaims++;
        }
      }
      // Every dead claimant of x is settled with it.
      for (let q = 0; q < PRODUCERS; q++) if (m.marked[q] && m.claimStart[q] === x) m.claimStart[q] = undefined;
    }
    assert.equal(r.ring.recoverProducer(this.p), true, 'idempotent');
    m.claimStart[this.p] = undefined;
    m.dead[this.p] = false;
    m.marked[this.p] = false;
    r.producers[this.p] = r.ring.producer(this.p);
  }
  toString(): string {
    return `recover(p${this.p})`;
  }
}

describe('MpscRing against an array model (fast-check)', () => {
  test('interleaved producers: reserve/push/commit/drain, deaths in and out of the claim window, recovery', () => {
    let fulls = 0;
    let wraps = 0;
    let claims = 0;
    let abandoned = 0;
    const len = fc.oneof(fc.integer({ min: 0, max: 24 }), fc.integer({ min: 0, max: 130 }), fc.constantFrom(0, 1, 7, 8, 9, 111, 112, 113));
    const p = fc.integer({ min: 0, max: PRODUCERS - 1 });
    const type = fc.integer({ min: 0, max: 0xffff });
    const session = fc.integer({ min: 0, max: 0xffffffff });
    const cmds = [
      fc.tuple(p, type, session, len).map(([a, b, c, d]) => new ReserveCmd(a, b, c, d)),
      fc.tuple(p, type, session, len).map(([a, b, c, d]) => new ReserveCmd(a, b, c, d)),
      fc.tuple(p, type, session, len).map(([a, b, c, d]) => new PushCmd(a, b, c, d)),
      fc.tuple(p, type, session, len).map(([a, b, c, d]) => new PushCmd(a, b, c, d)),
      p.map((a) => new CommitCmd(a)),
      p.map((a) => new CommitCmd(a)),
      fc.oneof(fc.integer({ min: 1, max: 3 }), fc.constant(1_000_000)).map((n) => new DrainCmd(n)),
      fc.tuple(p, fc.constantFrom<WindowStop | 'idle'>('idle', 'before-cas', 'cas', 'pad'), len).map(([a, s, l]) => new DieCmd(a, s, l)),
      p.map((a) => new RecoverCmd(a)),
    ];
    fc.assert(
      fc.property(fc.constantFrom(256, 512, 1024), fc.commands(cmds, { maxCommands: 400, size: 'max' }), (cap, commands) => {
        const ring = MpscRing.create(cap, { maxProducers: 4 });
        const real: Real = { ring, producers: [0, 1, 2].map((i) => ring.producer(i)) };
        const model = new Model(cap);
        fc.modelRun(() => ({ model, real }), commands);
        // Recover the dead, commit everything, drain: the ring empties.
        for (let pass = 0; pass < PRODUCERS && model.dead.some(Boolean); pass++) {
          for (let i = 0; i < PRODUCERS; i++) if (model.dead[i]) new RecoverCmd(i).run(model, real);
        }
        assert.ok(!model.dead.some(Boolean), 'every dead producer recovered');
        for (let i = 0; i < PRODUCERS; i++) new CommitCmd(i).run(model, real);
        new DrainCmd(1_000_000).run(model, real);
        assert.equal(model.recs.length, 0);
        assert.equal(ring.isEmpty(), true);
        assert.equal(ring.usedBytes(), 0);
        assert.ok(ring.data.every((b) => b === 0), 'consumed memory is zeroed');
        const s = ring.stats();
        assert.equal(s.fullFailures, model.full);
        assert.equal(s.abandonedRecords, model.abandoned);
        assert.equal(s.recoveredClaims, model.recoveredClaims);
        fulls += model.full;
        wraps += model.wraps;
        claims += model.recoveredClaims;
        abandoned += model.abandoned;
      }),
      { numRuns: 300 },
    );
    // The generator really reached the edges this test is about.
    assert.ok(fulls > 100 && wraps > 100 && claims > 20 && abandoned > 20, `fulls ${fulls} wraps ${wraps} claims ${claims} abandoned ${abandoned}`);
  });
});

// ---------------------------------------------------------------- recovery scenarios

function pushN(p: MpscProducer, n: number, type: number): void {
  for (let i = 0; i < n; i++) assert.equal(p.push(type, i, new Uint8Array([i, type])), true);
}

function drainAll(ring: MpscRing): Array<[number, number, number]> {
  const out: Array<[number, number, number]> = [];
  ring.drain((type, session, _d, _o, _l, producer) => out.push([producer, type, session]));
  return out;
}

describe('MpscRing producer recovery', () => {
  test('attach rules: range, double attach, dead until recovered; detach refuses uncommitted reservations', () => {
    const ring = MpscRing.create(1024, { maxProducers: 2 });
    assert.throws(() => ring.producer(2), (e: unknown) => e instanceof RingError && e.code === 'MMO_ERR_RING_PRODUCER');
    const a = ring.producer(0);
    assert.throws(() => ring.producer(0), /already attached/);
    a.reserve(1, 1, 4);
    assert.throws(() => a.detach(), (e: unknown) => e instanceof RingError && e.code === 'MMO_ERR_RING_PENDING');
    a.commit();
    a.detach();
    assert.equal(ring.producerState(0), 'detached');
    ring.producer(0); // attached again
    assert.equal(ring.recoverProducer(0), true);
    assert.equal(ring.producerState(0), 'detached');
  });

  for (const stop of ['cas', 'pad'] as const) {
    test(`dead after the CAS (${stop}): the consumer stops at the hole, recovery skips exactly it, later records flow`, () => {
      const ring = MpscRing.create(512, { maxProducers: 3 });
      const live = ring.producer(1);
      // Move the tail so that a 100-byte record wraps with a PAD (16+ bytes left).
      pushN(live, 1, 1);
      drainAll(ring);
      while (512 - (Atomics.load(new Int32Array(ring.buffer), kMpscTail) & 511) > 80) {
        pushN(live, 1, 1);
        drainAll(ring);
      }
      ring.producer(0);
      const claim = stopInWindow(ring, 0, 100, stop);
      assert.ok(claim && claim.padded);
      pushN(live, 3, 2);
      assert.deepEqual(drainAll(ring), [], 'stuck at the unwritten header');
      assert.equal(ring.recoverProducer(0), true);
      assert.deepEqual(drainAll(ring), [
        [1, 2, 0],
        [1, 2, 1],
        [1, 2, 2],
      ]);
      assert.equal(ring.stats().recoveredClaims, 1);
      ring.producer(0).push(3, 9, new Uint8Array(1));
      assert.deepEqual(drainAll(ring), [[0, 3, 9]]);
    });
  }

  test('dead before its CAS: nothing to skip, the tail never moved for it', () => {
    const ring = MpscRing.create(512, { maxProducers: 2 });
    ring.producer(0);
    const claim = stopInWindow(ring, 0, 40, 'before-cas');
    assert.ok(claim);
    assert.equal(ring.recoverProducer(0), true);
    assert.equal(ring.stats().recoveredClaims, 0);
    const p1 = ring.producer(1);
    pushN(p1, 2, 5);
    assert.deepEqual(drainAll(ring), [
      [1, 5, 0],
      [1, 5, 1],
    ]);
  });

  for (const order of ['winner-first', 'loser-first'] as const) {
    for (const loserLonger of [true, false]) {
      test(`two producers dead at the same tail (one won the CAS, one did not; loser ${loserLonger ? 'longer' : 'shorter'}; ${order})`, () => {
        const ring = MpscRing.create(1024, { maxProducers: 4 });
        ring.producer(0);
        ring.producer(1);
        const loser = stopInWindow(ring, 1, loserLonger ? 200 : 8, 'before-cas');
        const winner = stopInWindow(ring, 0, 64, 'cas');
        assert.ok(loser && winner && loser.start === winner.start);
        const live = ring.producer(2);
        pushN(live, 4, 7);
        if (order === 'loser-first') {
          // The winner is not known dead yet: to recovery it is a live producer mid-claim.
          assert.equal(ring.recoverProducer(1), false);
          assert.equal(ring.recoverProducer(0), true);
          assert.equal(ring.recoverProducer(1), true);
        } else {
          assert.equal(ring.recoverProducer(0), false, 'the loser is still attached, so it may be the winner');
          assert.equal(ring.recoverProducer(1), true, 'both dead now: resolved together');
          assert.equal(ring.recoverProducer(0), true);
        }
        assert.deepEqual(
          drainAll(ring),
          [0, 1, 2, 3].map((i) => [2, 7, i]),
        );
        assert.equal(ring.stats().recoveredClaims, 1);
        assert.equal(ring.isEmpty(), true);
      });
    }
  }

  test('a dead producer whose reservations were written but not committed: the consumer skips them after recovery', () => {
    const ring = MpscRing.create(1024, { maxProducers: 2 });
    const a = ring.producer(0);
    const b = ring.producer(1);
    a.reserve(1, 100, 10);
    b.push(2, 200, new Uint8Array(3));
    a.reserve(1, 101, 10);
    b.push(2, 201, new Uint8Array(3));
    assert.deepEqual(drainAll(ring), []);
    assert.equal(ring.recoverProducer(0), true);
    assert.deepEqual(drainAll(ring), [
      [1, 2, 200],
      [1, 2, 201],
    ]);
    assert.equal(ring.stats().abandonedRecords, 2);
  });

  test('recoverConsumer finishes the zeroing of a consumer that died between head and free', () => {
    const ring = MpscRing.create(512, { maxProducers: 1 });
    const p = ring.producer(0);
    pushN(p, 5, 1);
    // Simulate the consumer's death after publishing head, before zeroing and publishing free.
    const hdr = new Int32Array(ring.buffer);
    Atomics.store(hdr, kMpscHead, Atomics.load(hdr, kMpscTail)); // head = tail
    const other = new MpscRing(ring.buffer);
    assert.equal(other.usedBytes(), 5 * recordBytes(2), 'space not yet free');
    other.recoverConsumer();
    assert.equal(other.usedBytes(), 0);
    assert.ok(other.data.every((x) => x === 0));
    pushN(p, 1, 2);
    assert.deepEqual(drainAll(other), [[0, 2, 0]]);
  });
});

// ---------------------------------------------------------------- threads

interface StreamCheck {
  next: Map<number, number>;
  error: string | null;
  total: number;
}

function verifier(maxExtra: number, st: StreamCheck) {
  return (type: number, session: number, data: Uint8Array, off: number, len: number): void => {
    if (st.error !== null) return;
    const seq = st.next.get(session) ?? 0;
    if (type !== (seq & 0xffff)) st.error = `stream ${session} seq ${seq}: type ${type}`;
    else st.error = checkRecord(data, off, len, session, seq, maxExtra);
    st.next.set(session, seq + 1);
    st.total++;
  };
}

describe('MpscRing across threads', () => {
  test('3 producer threads (push and batched reserve/commit): per-producer order, no loss, no duplicate, no torn record', async () => {
    const PER = 700_000;
    const MAX_EXTRA = 24;
    const ring = MpscRing.create(1 << 16, { maxProducers: 4 });
    const workers = [0, 1, 2].map((id) =>
      startWorker({ mode: 'mpsc-produce', ring: ring.buffer, control: new SharedArrayBuffer(64), id, stream: 10 + id, count: PER, maxExtra: MAX_EXTRA, batch: id === 2 ? 6 : 1 }),
    );
    let failed: unknown = null;
    for (const w of workers) w.once('error', (e) => (failed = e));
    const st: StreamCheck = { next: new Map(), error: null, total: 0 };
    const h = verifier(MAX_EXTRA, st);
    const deadline = performance.now() + 50_000;
    while (st.total < 3 * PER && st.error === null && failed === null && performance.now() < deadline) {
      for (let i = 0; i < 1000; i++) ring.drain(h, 4096);
      await tick();
    }
    if (failed) throw failed;
    assert.equal(st.error, null);
    assert.deepEqual([...st.next.entries()].sort(), [
      [10, PER],
      [11, PER],
      [12, PER],
    ]);
    await Promise.all(workers.map((w) => w.exited));
    assert.equal(ring.drain(h), 0);
    const s = ring.stats();
    assert.equal(s.pushedRecords, 3 * PER);
    assert.equal(s.drainedRecords, 3 * PER);
    assert.ok(s.casRetries >= 0);
  });

  test('a producer terminated mid-stream, 8 times over: each incarnation is a whole prefix, the other producer loses nothing', async () => {
    const MAX_EXTRA = 60;
    const OTHER = 400_000;
    const ring = MpscRing.create(4096, { maxProducers: 2 });
    const other = startWorker({ mode: 'mpsc-produce', ring: ring.buffer, control: new SharedArrayBuffer(64), id: 1, stream: 1, count: OTHER, maxExtra: MAX_EXTRA, batch: 3 });
    const st: StreamCheck = { next: new Map(), error: null, total: 0 };
    const h = verifier(MAX_EXTRA, st);
    const pump = async (ms: number): Promise<void> => {
      const end = performance.now() + ms;
      while (performance.now() < end) {
        ring.drain(h);
        await tick();
      }
    };
    const committed: number[] = [];
    for (let gen = 0; gen < 8; gen++) {
      const control = new Int32Array(new SharedArrayBuffer(64));
      const victim = startWorker({ mode: 'mpsc-produce', ring: ring.buffer, control: control.buffer as SharedArrayBuffer, id: 0, stream: 100 + gen, count: 1e9, maxExtra: MAX_EXTRA, batch: 5 });
      const started = performance.now();
      while (Atomics.load(control, 0) < 2000 && performance.now() - started < 10_000) await pump(2);
      await pump(5 + gen * 3);
      await victim.terminate();
      committed.push(Atomics.load(control, 0));
      await ring.recoverProducerAsync(0);
      assert.equal(ring.producerState(0), 'detached');
    }
    const deadline = performance.now() + 30_000;
    while ((st.next.get(1) ?? 0) < OTHER && st.error === null && performance.now() < deadline) await pump(5);
    while (!ring.isEmpty() && st.error === null && performance.now() < deadline) await pump(2);
    assert.equal(st.error, null);
    assert.equal(st.next.get(1), OTHER, 'the surviving producer lost nothing');
    for (let gen = 0; gen < 8; gen++) {
      const got = st.next.get(100 + gen) ?? 0;
      // Everything the victim counted as committed arrived (it counts after commit, so at most one batch more).
      assert.ok(got >= committed[gen]! && got <= committed[gen]! + 5, `incarnation ${gen}: got ${got}, committed ${committed[gen]}`);
    }
    assert.equal(ring.isEmpty(), true);
    await other.exited;
  });

  test('a real thread terminated between its CAS and its header write; a live thread mid-claim at the same position defers recovery', async () => {
    const ring = MpscRing.create(2048, { maxProducers: 4 });
    // Thread A writes its claim and stops before the CAS, alive; thread B, at the same tail, wins the CAS and stops.
    const ca = new Int32Array(new SharedArrayBuffer(64));
    const a = startWorker({ mode: 'mpsc-die-in-window', ring: ring.buffer, control: ca.buffer as SharedArrayBuffer, id: 0, length: 300, stopAfter: 'before-cas' });
    const [claimA] = (await once(a, 'message')) as [{ start: number; end: number }];
    const cb = new Int32Array(new SharedArrayBuffer(64));
    const b = startWorker({ mode: 'mpsc-die-in-window', ring: ring.buffer, control: cb.buffer as SharedArrayBuffer, id: 1, length: 40, stopAfter: 'cas' });
    const [claimB] = (await once(b, 'message')) as [{ start: number; end: number }];
    assert.equal(claimA.start, claimB.start);
    const live = ring.producer(2);
    pushN(live, 3, 4);
    assert.deepEqual(drainAll(ring), [], 'consumer waits at B’s unwritten header');

    await a.terminate();
    // B is alive and inside its window at the same position: undecidable yet.
    assert.equal(ring.recoverProducer(0), false);
    assert.deepEqual(drainAll(ring), []);
    await b.terminate();
    assert.equal(ring.recoverProducer(0), false, 'B is dead but not yet known dead to the ring');
    assert.equal(ring.recoverProducer(1), true);
    assert.equal(ring.recoverProducer(0), true);
    assert.deepEqual(drainAll(ring), [0, 1, 2].map((i) => [2, 4, i]));
    assert.equal(ring.stats().recoveredClaims, 1);
    // Both ids can be used again.
    ring.producer(0).push(1, 1, new Uint8Array(2));
    ring.producer(1).push(1, 2, new Uint8Array(2));
    assert.deepEqual(drainAll(ring), [
      [0, 1, 1],
      [1, 1, 2],
    ]);
    await Promise.all([a.exited, b.exited]);
  });
});

