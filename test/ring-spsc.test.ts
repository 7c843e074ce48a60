import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { once } from 'node:events';
import fc from 'fast-check';
import { SpscRing, RingError, recordBytes, REC_HEADER } from '../src/ring/index.js';
import { checkRecord, patternByte } from './helpers/records.js';
import type { RingWorkerData } from './fixtures/ring-worker.js';

const FIXTURE = new URL('./fixtures/ring-worker.js', import.meta.url);

/** A fixture worker whose 'exit' is awaited through `exited` (listening late would miss it). */
function startWorker(data: RingWorkerData): Worker & { exited: Promise<unknown> } {
  const w = new Worker(FIXTURE, { workerData: data }) as Worker & { exited: Promise<unknown> };
  w.exited = once(w, 'exit');
  return w;
}

// ---------------------------------------------------------------- model

interface Rec {
  type: number;
  session: number;
  len: number;
  id: number;
  /** Ring position right after this record (padding before it included). */
  end: number;
}

/** What the ring promises: records of recordBytes(len), never straddling the end (padding), FIFO. */
class Model {
  head = 0;
  tailPublished = 0;
  tailReserved = 0;
  committed: Rec[] = [];
  pending: Rec[] = [];
  nextId = 1;
  pushed = 0;
  full = 0;
  oversize = 0;
  drained = 0;
  emptyDrains = 0;
  constructor(readonly cap: number) {}

  /** 'ok' with the record's end position, or why it is refused. */
  place(len: number): number | 'full' | 'oversize' {
    const need = recordBytes(len);
    if (need > this.cap / 2) return 'oversize';
    const rem = this.cap - (this.tailReserved & (this.cap - 1));
    const pad = need > rem ? rem : 0;
    if (this.tailReserved + pad + need - this.head > this.cap) return 'full';
    return this.tailReserved + pad + need;
  }
}

interface Real {
  ring: SpscRing;
}

type Cmd = fc.Command<Model, Real>;

function writePattern(data: Uint8Array, off: number, len: number, id: number): void {
  for (let i = 0; i < len; i++) data[off + i] = patternByte(id, i);
}

function expectPlaced(m: Model, off: number, len: number, placed: number | 'full' | 'oversize'): boolean {
  if (placed === 'full' || placed === 'oversize') {
    assert.equal(off, -1, `expected refusal (${placed})`);
    if (placed === 'full') m.full++;
    else m.oversize++;
    return false;
  }
  assert.ok(off >= REC_HEADER, `expected a payload offset, got ${off}`);
  assert.equal(off % 8, 0, 'payload 8-byte aligned');
  assert.ok(off + len <= m.cap, 'payload contiguous inside the data region');
  return true;
}

class ReserveCmd implements Cmd {
  constructor(
    readonly type: number,
    readonly session: number,
    readonly len: number,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const placed = m.place(this.len);
    const off = r.ring.reserve(this.type, this.session, this.len);
    if (!expectPlaced(m, off, this.len, placed)) return;
    const id = m.nextId++;
    writePattern(r.ring.data, off, this.len, id);
    m.pending.push({ type: this.type, session: this.session, len: this.len, id, end: placed as number });
    m.tailReserved = placed as number;
  }
  toString(): string {
    return `reserve(${this.type},${this.session},${this.len})`;
  }
}

class PushCmd implements Cmd {
  constructor(
    readonly type: number,
    readonly session: number,
    readonly len: number,
    readonly srcOffset: number,
  ) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const placed = m.place(this.len);
    const id = m.nextId;
    const src = new Uint8Array(this.srcOffset + this.len + 3).fill(0xee);
    writePattern(src, this.srcOffset, this.len, id);
    const ok = r.ring.push(this.type, this.session, src, this.srcOffset, this.len);
    if (placed === 'full' || placed === 'oversize') {
      assert.equal(ok, false);
      if (placed === 'full') m.full++;
      else m.oversize++;
      return;
    }
    assert.equal(ok, true);
    m.nextId++;
    m.pending.push({ type: this.type, session: this.session, len: this.len, id, end: placed });
    m.tailReserved = placed;
    commitModel(m); // push publishes earlier reservations too
  }
  toString(): string {
    return `push(${this.type},${this.session},${this.len},@${this.srcOffset})`;
  }
}

function commitModel(m: Model): void {
  m.pushed += m.pending.length;
  m.committed.push(...m.pending);
  m.pending = [];
  m.tailPublished = m.tailReserved;
}

class CommitCmd implements Cmd {
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    r.ring.commit();
    commitModel(m);
  }
  toString(): string {
    return 'commit';
  }
}

class DrainCmd implements Cmd {
  constructor(readonly max: number) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const want = m.committed.slice(0, Math.min(this.max, m.committed.length));
    let i = 0;
    const n = r.ring.drain((type, session, data, off, len) => {
      const w = want[i++];
      assert.ok(w, 'delivered more records than committed');
      assert.equal(type, w.type);
      assert.equal(session, w.session >>> 0);
      assert.equal(len, w.len);
      assert.equal(off % 8, 0);
      for (let k = 0; k < len; k++) if (data[off + k] !== patternByte(w.id, k)) assert.fail(`record ${w.id} byte ${k} corrupted`);
    }, this.max);
    assert.equal(n, want.length);
    assert.equal(i, want.length);
    if (n === 0) m.emptyDrains++;
    m.committed.splice(0, want.length);
    m.drained += want.length;
    if (want.length > 0) m.head = want[want.length - 1]!.end;
  }
  toString(): string {
    return `drain(${this.max})`;
  }
}

function invariants(m: Model, r: Real): void {
  assert.equal(r.ring.usedBytes(), m.tailPublished - m.head);
  assert.equal(r.ring.isEmpty(), m.tailPublished === m.head);
  const s = r.ring.stats();
  assert.equal(s.pushedRecords, m.pushed);
  assert.equal(s.fullFailures, m.full);
  assert.equal(s.oversize, m.oversize);
  assert.equal(s.drainedRecords, m.drained);
}

describe('SpscRing against an array model (fast-check)', () => {
  test('push/reserve/commit/drain sequences, wrap-around, full and empty edges, odd sizes', () => {
    let fulls = 0;
    let laps = 0;
    let empties = 0;
    const len = fc.oneof(fc.integer({ min: 0, max: 24 }), fc.integer({ min: 0, max: 140 }), fc.constantFrom(0, 1, 7, 8, 9, 15, 16, 17, 111, 112, 113, 240, 241));
    const cmds = [
      fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffffffff }), len).map(([t, s, l]) => new ReserveCmd(t, s, l)),
      fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffffffff }), len, fc.integer({ min: 0, max: 5 })).map(([t, s, l, o]) => new PushCmd(t, s, l, o)),
      fc.constant(new CommitCmd()),
      fc.oneof(fc.integer({ min: 1, max: 3 }), fc.constant(1_000_000)).map((n) => new DrainCmd(n)),
    ];
    fc.assert(
      fc.property(fc.constantFrom(256, 512, 1024), fc.commands(cmds, { maxCommands: 400, size: 'max' }), (cap, commands) => {
        const ring = SpscRing.create(cap);
        const model = new Model(cap);
        fc.modelRun(() => ({ model, real: { ring } }), commands);
        invariants(model, { ring });
        // Whatever is left drains in order.
        new CommitCmd().run(model, { ring });
        new DrainCmd(1_000_000).run(model, { ring });
        invariants(model, { ring });
        assert.equal(ring.isEmpty(), true);
        fulls += model.full;
        laps += Math.floor(model.head / cap);
        empties += model.emptyDrains;
      }),
      { numRuns: 300 },
    );
    // The generator really reached the edges this test is about.
    assert.ok(fulls > 100 && laps > 100 && empties > 100, `fulls ${fulls} laps ${laps} empty drains ${empties}`);
  });

  test('a second instance over the same memory (another thread) sees the same records', () => {
    const a = SpscRing.create(512);
    const b = new SpscRing(a.buffer, 0);
    for (let i = 0; i < 100; i++) {
      assert.equal(a.push(7, i, new Uint8Array([i, i + 1, i + 2])), true);
      let seen = 0;
      b.drain((type, session, data, off, len) => {
        assert.deepEqual([type, session, len, data[off], data[off + 2]], [7, i, 3, i & 0xff, (i + 2) & 0xff]);
        seen++;
      });
      assert.equal(seen, 1);
    }
  });
});

describe('SpscRing edges', () => {
  test('capacity must be a power of two in range (setup throws with a code)', () => {
    for (const bad of [0, 100, 255, 3000, 2 ** 31]) {
      assert.throws(() => SpscRing.create(bad), (e: unknown) => e instanceof RingError && e.code === 'MMO_ERR_RING_CAPACITY');
    }
    assert.throws(() => new SpscRing(new SharedArrayBuffer(4096)), (e: unknown) => e instanceof RingError && e.code === 'MMO_ERR_RING_LAYOUT');
  });

  test('maxPayload fits at every position of an empty ring; one byte more never does', () => {
    const ring = SpscRing.create(256);
    assert.equal(ring.maxPayload, 112);
    for (let step = 0; step < 40; step++) {
      assert.equal(ring.push(1, 1, new Uint8Array(ring.maxPayload)), true, `step ${step}`);
      assert.equal(ring.drain(() => {}), 1);
      assert.equal(ring.push(1, 1, new Uint8Array(1 + (step % 13))), true);
      assert.equal(ring.drain(() => {}), 1);
    }
    assert.equal(ring.reserve(1, 1, ring.maxPayload + 1), -1);
    assert.equal(ring.stats().oversize, 1);
  });

  test('a handler that throws consumes its record and the ones before it, not the ones after', () => {
    const ring = SpscRing.create(1024);
    for (let i = 0; i < 5; i++) ring.push(i, 0, new Uint8Array(4));
    const seen: number[] = [];
    assert.throws(() =>
      ring.drain((type) => {
        seen.push(type);
        if (type === 2) throw new Error('poison');
      }),
    );
    ring.drain((type) => seen.push(type));
    assert.deepEqual(seen, [0, 1, 2, 3, 4]);
  });

  test('reset() empties the ring and a new instance continues from zero', () => {
    const ring = SpscRing.create(512);
    for (let i = 0; i < 10; i++) ring.push(1, i, new Uint8Array(30));
    ring.reserve(1, 99, 10); // uncommitted
    ring.reset();
    assert.equal(ring.isEmpty(), true);
    assert.equal(ring.usedBytes(), 0);
    const other = new SpscRing(ring.buffer);
    assert.equal(other.drain(() => assert.fail('nothing to read')), 0);
    other.push(2, 5, new Uint8Array([9]));
    let got = -1;
    ring.drain((_t, s) => (got = s));
    assert.equal(got, 5);
  });
});

// ---------------------------------------------------------------- threads

interface ConsumeResult {
  records: number;
  error: string | null;
}

/** Drains `ring` on this thread until `count` records of `stream` are verified or the deadline passes. */
async function consumeVerified(ring: SpscRing, stream: number, count: number, maxExtra: number, deadlineMs: number, worker?: Worker): Promise<ConsumeResult> {
  let next = 0;
  let error: string | null = null;
  const onRecord = (type: number, session: number, data: Uint8Array, off: number, len: number): void => {
    if (error !== null) return;
    if (type !== (next & 0xffff) || session !== stream) error = `record ${next}: type ${type} session ${session}`;
    else error = checkRecord(data, off, len, stream, next, maxExtra);
    next++;
  };
  let workerError: unknown = null;
  worker?.once('error', (e) => (workerError = e));
  const deadline = performance.now() + deadlineMs;
  while (next < count && error === null && workerError === null) {
    for (let spin = 0; spin < 1000; spin++) ring.drain(onRecord, 4096);
    if (performance.now() > deadline) break;
    await new Promise((r) => setImmediate(r));
  }
  if (workerError !== null) throw workerError;
  return { records: next, error };
}

describe('SpscRing.drainUntil', () => {
  test('delivers exactly the records committed before the tail it was given, across wrap-around, then drain() goes on from there', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 12 })), { minLength: 1, maxLength: 40 }), (rounds) => {
        const r = SpscRing.create(1024);
        const reader = new SpscRing(r.buffer, 0);
        let next = 1;
        let expected = 1;
        for (const [before, after] of rounds) {
          for (let i = 0; i < before && r.push(1, next, new Uint8Array(next % 50)); i++) next++;
          const until = reader.tailNow();
          const cut = next;
          for (let i = 0; i < after && r.push(1, next, new Uint8Array(next % 50)); i++) next++;
          reader.drainUntil((_t, session) => {
            assert.equal(session, expected++);
          }, until);
          assert.equal(expected, cut, 'up to the tail read, not past it');
          reader.drain((_t, session) => {
            assert.equal(session, expected++);
          });
          assert.equal(expected, next, 'the rest follows in order');
        }
      }),
      { seed: 20261206, numRuns: 200 },
    );
  });
});

describe('SpscRing across two threads', () => {
  test('10,000,000 records: in order, none lost, none duplicated, none torn', async () => {
    const COUNT = 10_000_000;
    const MAX_EXTRA = 24;
    const ring = SpscRing.create(1 << 16);
    const control = new SharedArrayBuffer(64);
    const w = startWorker({ mode: 'spsc-produce', ring: ring.buffer, control, stream: 3, count: COUNT, maxExtra: MAX_EXTRA, batch: 8 });
    const done = once(w, 'message');
    const r = await consumeVerified(ring, 3, COUNT, MAX_EXTRA, 50_000, w);
    assert.equal(r.error, null);
    assert.equal(r.records, COUNT);
    const [msg] = (await done) as [{ done: number }];
    assert.equal(msg.done, COUNT);
    // Nothing more than the COUNT records was ever published.
    assert.equal(ring.drain(() => {}), 0);
    assert.equal(ring.stats().drainedRecords, COUNT);
    await w.exited;
  });

  test('a producer terminated mid-stream leaves a whole prefix; a new producer continues at the shared tail', async () => {
    const MAX_EXTRA = 40;
    const ring = SpscRing.create(4096);
    const control = new Int32Array(new SharedArrayBuffer(64));
    const w = startWorker({ mode: 'spsc-produce', ring: ring.buffer, control: control.buffer as SharedArrayBuffer, stream: 1, count: 1e9, maxExtra: MAX_EXTRA, batch: 5 });
    // Drain while it produces, then kill it mid-stream.
    let next = 0;
    let error: string | null = null;
    const verify =
      (stream: number) =>
      (_t: number, session: number, data: Uint8Array, off: number, len: number): void => {
        if (error === null && session !== stream) error = `session ${session} while expecting stream ${stream}`;
        if (error === null) error = checkRecord(data, off, len, stream, next, MAX_EXTRA);
        next++;
      };
    const deadline = performance.now() + 20_000;
    while (next < 50_000 && performance.now() < deadline) {
      ring.drain(verify(1));
      await new Promise((r) => setImmediate(r));
    }
    await w.terminate();
    ring.drain(verify(1));
    assert.equal(error, null);
    assert.ok(next >= 50_000, `the producer ran (${next} records)`);
    // Everything it committed was read; reservations it had not committed never appear.
    // (the worker counts a batch after committing it, so the count may trail by one batch)
    const counted = Atomics.load(control, 0);
    assert.ok(next >= counted && next <= counted + 5, `read ${next}, producer counted ${counted}`);
    assert.equal(ring.isEmpty(), true);

    next = 0;
    const w2 = startWorker({ mode: 'spsc-produce', ring: ring.buffer, control: control.buffer as SharedArrayBuffer, stream: 2, count: 20_000, maxExtra: MAX_EXTRA, batch: 3 });
    const r = await consumeVerifiedWith(ring, verify(2), () => next >= 20_000, 20_000);
    assert.equal(r, true);
    assert.equal(error, null);
    await w2.exited;
  });

  test('a consumer terminated mid-stream: the next consumer gets everything again from the last acknowledged head (at-least-once), with no gap', async () => {
    const COUNT = 200_000;
    const MAX_EXTRA = 40;
    const ring = SpscRing.create(8192);
    const prodControl = new SharedArrayBuffer(64);
    const consControl = new Int32Array(new SharedArrayBuffer(64));
    const producer = startWorker({ mode: 'spsc-produce', ring: ring.buffer, control: prodControl, stream: 4, count: COUNT, maxExtra: MAX_EXTRA, batch: 4 });
    const c1 = startWorker({ mode: 'spsc-consume', ring: ring.buffer, control: consControl.buffer as SharedArrayBuffer, stream: 4, count: COUNT, maxExtra: MAX_EXTRA, ackEvery: 50 });
    const deadline = performance.now() + 20_000;
    while (Atomics.load(consControl, 0) < 30_000 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    await c1.terminate();
    const verifiedBefore = Atomics.load(consControl, 0);
    assert.ok(verifiedBefore >= 30_000 && verifiedBefore < COUNT, `first consumer verified ${verifiedBefore}`);
    const c2 = startWorker({ mode: 'spsc-consume', ring: ring.buffer, control: consControl.buffer as SharedArrayBuffer, stream: 4, count: COUNT, maxExtra: MAX_EXTRA, ackEvery: 50 });
    const [res] = (await once(c2, 'message')) as [{ next: number; first: number; error: string | null }];
    assert.equal(res.error, null);
    assert.equal(res.next, COUNT);
    // The new consumer started at or before the first record the old one had not verified.
    assert.ok(res.first <= verifiedBefore, `resumed at ${res.first}, after ${verifiedBefore}`);
    await producer.exited;
    await c2.exited;
  });
});

async function consumeVerifiedWith(ring: SpscRing, h: (t: number, s: number, d: Uint8Array, o: number, l: number) => void, done: () => boolean, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!done() && performance.now() < deadline) {
    ring.drain(h);
    await new Promise((r) => setImmediate(r));
  }
  return done();
}

