// The reliable record stream between two nodes (src/cluster/stream.ts) over a
// fake transport that drops, duplicates and reorders messages at random
// (fast-check, seeded), with a fake clock and explicit flushes and ticks:
// each side receives every record of the other exactly once, in order, and
// nothing is reset for mere loss. A restarted peer makes the other side
// reset (once) and the stream carries on; a peer that never acknowledges
// overflows the bounded resend buffer, which resets instead of growing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PeerStreams, TICK_MS, RTO_MS } from '../src/cluster/stream.js';
import { BATCH_HEADER, BatchHeader, Kind, readBatch } from '../src/cluster/wire.js';

interface Msg {
  to: string;
  from: string;
  data: Uint8Array;
}

/** A node's streams on the fake wire: what it received, in the order it was delivered. */
interface Side {
  id: string;
  s: PeerStreams;
  got: number[];
  resets: string[];
  /** Delivered batches whose records did not read whole (garbage that passed the header checks). */
  bad: number;
  flushPending: boolean;
}

function makeNet(seed: number) {
  let now = 0;
  const wire: Msg[] = [];
  let rnd = seed >>> 0 || 1;
  const random = (): number => {
    // xorshift32: stream ids differ per side and per reset, the same in every run of a seed.
    rnd ^= rnd << 13;
    rnd ^= rnd >>> 17;
    rnd ^= rnd << 5;
    return (rnd >>> 0) / 0x1_0000_0000;
  };
  const sides = new Map<string, Side>();
  const make = (id: string, opts: { maxBatches?: number; maxBytes?: number } = {}): Side => {
    const side: Side = { id, s: null as unknown as PeerStreams, got: [], resets: [], bad: 0, flushPending: false };
    side.s = new PeerStreams({
      self: id,
      transport: {
        up: true,
        publish: (subject, data) => {
          const [, , to, from] = subject.split('.');
          assert.equal(from, id);
          wire.push({ to: to!, from: from!, data });
        },
      },
      deliver: (_from, batch) => {
        if (readBatch(batch, (_k, _t, _z, session) => side.got.push(session)) < 0) side.bad++;
      },
      onReset: (peer) => side.resets.push(peer),
      now: () => now,
      schedule: () => (side.flushPending = true),
      random,
      ...opts,
    });
    sides.set(id, side);
    return side;
  };
  const deliver = (m: Msg): void => sides.get(m.to)?.s.receive(m.from, m.data);
  const flushAll = (): void => {
    for (const side of sides.values()) {
      if (side.flushPending) {
        side.flushPending = false;
        side.s.flush();
      }
    }
  };
  const tickAll = (ms: number): void => {
    now += ms;
    for (const side of sides.values()) side.s.tick();
  };
  return { wire, sides, make, deliver, flushAll, tickAll, get now() { return now; } };
}

const write = (side: Side, to: string, n: number): void => side.s.write(to, Kind.toZone, 0, 1, n, null, 0, 0);
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Delivers everything in order, without faults, ticking, until both sides hold nothing unacknowledged. */
function settle(net: ReturnType<typeof makeNet>, a: Side, b: Side): void {
  for (let i = 0; i < 5000; i++) {
    net.flushAll();
    while (net.wire.length > 0) net.deliver(net.wire.shift()!);
    const sa = a.s.state(b.id);
    const sb = b.s.state(a.id);
    if ((sa?.unacked ?? 0) === 0 && (sb?.unacked ?? 0) === 0) return;
    net.tickAll(TICK_MS);
  }
  assert.fail(`the streams never settled: ${JSON.stringify([a.s.state(b.id), b.s.state(a.id)])}`);
}

type Op =
  | { op: 'write'; from: 0 | 1; n: number }
  | { op: 'flush' }
  | { op: 'net'; pick: number; fault: 'ok' | 'drop' | 'dup' }
  | { op: 'tick'; ms: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('write' as const), from: fc.constantFrom(0 as const, 1 as const), n: fc.integer({ min: 1, max: 5 }) }) },
  { weight: 3, arbitrary: fc.constant({ op: 'flush' as const }) },
  { weight: 8, arbitrary: fc.record({ op: fc.constant('net' as const), pick: fc.nat(), fault: fc.constantFrom('ok' as const, 'ok' as const, 'ok' as const, 'drop' as const, 'dup' as const) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 300 }) }) },
);

test('stream: through drops, duplicates and reordering, each side gets every record of the other once, in order; no reset', () => {
  let runs = 0;
  let faults = 0;
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 50, maxLength: 600, size: 'max' }), fc.integer({ min: 1, max: 0x7fff_ffff }), (ops, seed) => {
      runs++;
      const net = makeNet(seed);
      const a = net.make('a');
      const b = net.make('b');
      const sent = [0, 0];
      for (const o of ops) {
        if (o.op === 'write') {
          const [src, dst] = o.from === 0 ? [a, b] : [b, a];
          for (let i = 0; i < o.n; i++) write(src, dst.id, ++sent[o.from]!);
        } else if (o.op === 'flush') {
          net.flushAll();
        } else if (o.op === 'tick') {
          net.tickAll(o.ms);
        } else if (net.wire.length > 0) {
          // Any message in flight, not only the oldest: reordering.
          const [m] = net.wire.splice(o.pick % net.wire.length, 1);
          if (o.fault === 'drop') {
            faults++;
            continue;
          }
          net.deliver(m!);
          if (o.fault === 'dup') {
            faults++;
            net.wire.splice(o.pick % (net.wire.length + 1), 0, m!);
          }
        }
      }
      settle(net, a, b);
      assert.deepEqual(b.got, range(1, sent[0]!), 'b got a\'s records once each, in order');
      assert.deepEqual(a.got, range(1, sent[1]!), 'a got b\'s records once each, in order');
      assert.deepEqual([a.resets, b.resets, a.s.resets, b.s.resets], [[], [], 0, 0], 'loss alone never resets the stream');
      assert.equal(a.s.unackedBytes + b.s.unackedBytes, 0, 'everything acknowledged is freed');
      assert.equal(a.bad + b.bad, 0);
    }),
    { seed: 18, numRuns: 300 },
  );
  assert.equal(runs, 300);
  assert.ok(faults > 1000, `the transport misbehaved often enough to matter: ${faults} drops and duplicates`);
});

test('stream: a burst lost in the middle is repaired by a NACK at once; a lost tail by the timeout', () => {
  const net = makeNet(7);
  const a = net.make('a');
  const b = net.make('b');
  for (let turn = 1; turn <= 6; turn++) {
    write(a, 'b', turn);
    net.flushAll();
  }
  assert.equal(net.wire.length, 6, 'one message per peer per turn');
  net.wire.splice(1, 3); // batches 2..4 lost
  for (const m of net.wire.splice(0, 3)) net.deliver(m);
  assert.deepEqual(b.got, [1]);
  assert.equal(b.s.gaps, 1, 'batch 5 shows the gap, batch 6 the same gap');
  assert.equal(net.wire.length, 1, 'one NACK');
  assert.equal(BatchHeader.ack(net.wire[0]!.data), 1, 'it asks for what follows batch 1');
  net.deliver(net.wire.shift()!);
  assert.equal(a.s.resent, 5, 'go-back-N: 2..6 again, without waiting for a timeout');
  while (net.wire.length > 0) net.deliver(net.wire.shift()!);
  assert.deepEqual(b.got, range(1, 6));
  settle(net, a, b);

  // The tail: the last batch is lost and nothing follows it.
  write(a, 'b', 7);
  net.flushAll();
  net.wire.length = 0;
  net.tickAll(RTO_MS - 1);
  while (net.wire.length > 0) net.deliver(net.wire.shift()!);
  assert.deepEqual(b.got, range(1, 6), 'not before the timeout');
  net.tickAll(1);
  assert.equal(a.s.timeouts, 1);
  while (net.wire.length > 0) net.deliver(net.wire.shift()!);
  assert.deepEqual(b.got, range(1, 7));
  settle(net, a, b);
  assert.equal(b.s.duplicates, 0);
});

test('stream: a peer that restarts is a new stream; the other side resets once and what it sends after arrives once, in order', () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom('ok', 'ok', 'ok', 'drop', 'dup'), { minLength: 50, maxLength: 400 }), fc.integer({ min: 1, max: 0x7fff_ffff }), (faults, seed) => {
      const net = makeNet(seed);
      const a = net.make('a');
      let b = net.make('b');
      let n = 0;
      let f = 0;
      // In order (NATS keeps one publisher's order on a subject), with drops and duplicates.
      const step = (): void => {
        net.flushAll();
        for (const m of net.wire.splice(0, net.wire.length)) {
          const fault = faults[f++ % faults.length];
          if (fault !== 'drop') net.deliver(m);
          if (fault === 'dup') net.deliver(m);
        }
        net.tickAll(TICK_MS);
      };
      for (let i = 0; i < 40; i++) {
        write(a, 'b', ++n);
        write(b, 'a', 1);
        step();
      }
      // b restarts: a new process, nothing of the old one's state; messages in flight either way stay in flight.
      b = net.make('b');
      let afterReset = -1;
      for (let i = 0; i < 400 && afterReset < 0; i++) {
        write(a, 'b', ++n);
        step();
        if (a.resets.length > 0 && afterReset < 0) afterReset = n + 1;
      }
      assert.deepEqual(a.resets, ['b'], 'a noticed the restart and reset once');
      for (let i = 0; i < 40; i++) {
        write(a, 'b', ++n);
        write(b, 'a', 1);
        step();
      }
      settle(net, a, b);
      assert.deepEqual(b.got, range(afterReset, n), 'the new b got every record a sent after its reset once, in order, and nothing of the old stream');
      assert.deepEqual([a.resets, b.resets], [['b'], []], 'no second reset either side');
    }),
    { seed: 18, numRuns: 100 },
  );
});

test('stream: a peer that never acknowledges overflows the bounded resend buffer: reset and counted, memory released', () => {
  const net = makeNet(3);
  const a = net.make('a', { maxBatches: 8, maxBytes: 1 << 20 });
  net.make('b');
  for (let i = 1; i <= 8; i++) {
    a.s.write('b', Kind.toZone, 0, 1, i, new Uint8Array(100), 0, 100);
    net.flushAll();
    net.tickAll(TICK_MS);
  }
  net.wire.length = 0; // b hears nothing: NATS drops it all
  assert.equal(a.s.state('b')!.unacked, 8);
  assert.equal(a.s.unackedBytes, 8 * (BATCH_HEADER + 12 + 100));
  assert.deepEqual(a.resets, []);
  a.s.write('b', Kind.toZone, 0, 1, 9, null, 0, 0);
  net.flushAll();
  assert.deepEqual(a.resets, ['b']);
  assert.equal(a.s.overflows, 1);
  assert.equal(a.s.resets, 1);
  assert.equal(a.s.unackedBytes, 0);
  assert.equal(a.s.state('b'), null, 'forgotten: the next record to b starts a new stream');

  // By bytes too.
  const c = net.make('c', { maxBatches: 1024, maxBytes: 1000 });
  for (let i = 0; i < 3; i++) {
    c.s.write('d', Kind.toZone, 0, 1, i, new Uint8Array(400), 0, 400);
    net.flushAll();
  }
  assert.equal(c.s.overflows, 1, 'the third batch would pass 1000 bytes');
});

test('stream: garbage on the subject is counted and dropped, never thrown; a real stream beside it is intact', () => {
  const net = makeNet(11);
  const a = net.make('a');
  const b = net.make('b');
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.constantFrom('x', 'y', 'b', ''), (bytes, from) => {
      if (from === 'b') return; // b's real stream
      a.s.receive(from, bytes);
    }),
    { seed: 18, numRuns: 500 },
  );
  const bad = new Uint8Array(BATCH_HEADER);
  a.s.receive('x', bad);
  assert.ok(a.s.malformed >= 1, 'a header of another version or stream 0 is malformed');
  for (let i = 1; i <= 20; i++) write(b, 'a', i);
  settle(net, a, b);
  assert.deepEqual(a.got.slice(-20), range(1, 20));
});
