import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { World, defaultZoneDefs, Rng } from '../src/world/index.js';
import { Recorder } from './helpers/world.js';
import { newScript, runScript } from './helpers/world-script.js';

function zone(seed = 0) {
  return defaultZoneDefs(1, { size: 512, npcsPerZone: 150, seed })[0]!;
}

function run(seed: number, scriptSeed: number, ticks: number) {
  const rec = new Recorder();
  const w = new World(zone(seed), rec, 0);
  rec.attach(w);
  const st = newScript(scriptSeed, 0);
  runScript(w, rec, st, ticks);
  const bytes = new Uint8Array(w.checkpointBound());
  const n = w.checkpointInto(bytes, st.now);
  return { w, rec, st, checkpoint: bytes.subarray(0, n) };
}

describe('determinism', () => {
  test('the same seed and the same inputs give the same outputs and the same final state, without Math.random', () => {
    const random = Math.random;
    Math.random = () => {
      throw new Error('Math.random used in the simulation');
    };
    try {
      const a = run(0, 99, 300);
      const b = run(0, 99, 300);
      assert.ok(a.rec.deltas.length > 1000, `a busy run (${a.rec.deltas.length} deltas)`);
      assert.ok(a.w.stats[1]! > 10, 'with attacks');
      assert.ok(a.w.stats[2]! + a.w.stats[3]! > 0, 'and kills');
      assert.deepEqual(a.rec.deltas, b.rec.deltas);
      assert.deepEqual(a.rec.events, b.rec.events);
      assert.deepEqual(a.rec.snapshots, b.rec.snapshots);
      assert.deepEqual(a.st.sayCounts, b.st.sayCounts);
      assert.deepEqual(a.checkpoint, b.checkpoint);
    } finally {
      Math.random = random;
    }
  });

  test('another zone seed gives another world', () => {
    const a = new World(zone(0), new Recorder(), 0);
    const b = new World(zone(1), new Recorder(), 0);
    assert.notDeepEqual(Array.from(a.store.x.subarray(0, 150)), Array.from(b.store.x.subarray(0, 150)));
  });

  test('the PRNG is a pure function of its seed and uniform enough for gameplay', () => {
    const a = new Rng(12345);
    const b = new Rng(12345);
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 100_000; i++) {
      const v = a.float();
      assert.equal(v, b.float());
      assert.ok(v >= 0 && v < 1);
      buckets[Math.floor(v * 10)]!++;
    }
    for (const c of buckets) assert.ok(Math.abs(c - 10_000) < 500, `bucket ${c}`);
    const r = new Rng(0);
    for (let i = 0; i < 1000; i++) {
      const k = r.int(-3, 3);
      assert.ok(Number.isInteger(k) && k >= -3 && k <= 3);
    }
    assert.notEqual(new Rng(1).nextU32(), new Rng(2).nextU32());
  });
});
