import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { World, Rng, Kind, quantize, AttackResult, type ZoneDef } from '../src/world/index.js';
import { Recorder, testZone, playerAt, FREE_MOVE, expectedView, worldView } from './helpers/world.js';

function playerSlots(w: World): number[] {
  const out: number[] = [];
  for (let s = 0; s < w.store.highWater; s++) if (w.store.kind[s] === Kind.player) out.push(s);
  return out;
}

function setEq(a: Iterable<number>, b: Iterable<number>): void {
  assert.deepEqual([...a].sort((x, y) => x - y), [...b].sort((x, y) => x - y));
}

describe('visibility', () => {
  test('views follow radius, hysteresis and cap (nearest first); enters and leaves are exactly the set differences', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.integer({ min: 2, max: 40 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 10, max: 80 }),
        fc.integer({ min: 0, max: 20 }),
        fc.integer({ min: 1, max: 3 }),
        (seed, nPlayers, cap, radius, hysteresis, refreshTicks) => {
          const def = testZone({
            aoi: { radius, hysteresis, visibleCap: cap, cellSize: 16, refreshTicks, updateTicks: 1 },
            movement: { maxSpeed: 400, speedTolerance: 0, burstMs: 100, teleportDistance: 200 },
          });
          const rec = new Recorder();
          const w = new World(def, rec, 0);
          rec.attach(w);
          const rng = new Rng(seed);
          const ids: number[] = [];
          for (let i = 0; i < nPlayers; i++) ids.push(w.addPlayer(i + 1, playerAt(`p${i}`, rng.range(0, 256), rng.range(0, 256)), 0));
          let now = 0;
          for (let t = 0; t < 25; t++) {
            now += 50;
            for (let i = 0; i < ids.length; i++) {
              const slot = w.store.slotOf(ids[i]!);
              if (slot < 0) continue;
              if (rng.chance(0.04)) {
                w.removePlayer(ids[i]!);
                continue;
              }
              const x = Math.min(256, Math.max(0, w.store.x[slot]! + rng.range(-15, 15)));
              const y = Math.min(256, Math.max(0, w.store.y[slot]! + rng.range(-15, 15)));
              w.applyMove(ids[i]!, t, x, y, now);
            }
            if (rng.chance(0.3)) ids.push(w.addPlayer(1000 + t, playerAt(`n${t}`, rng.range(0, 256), rng.range(0, 256)), now));
            const prev = new Map<number, Set<number>>();
            for (const o of playerSlots(w)) prev.set(o, worldView(w, o));
            rec.clear();
            w.tick(now, rec);
            const bySession = new Map(rec.deltas.map((d) => [d.session, d]));
            for (const o of playerSlots(w)) {
              const before = prev.get(o)!;
              const refreshed = (w.tickCount + o) % refreshTicks === 0;
              const want = refreshed ? expectedView(w, o, before) : new Set([...before].filter((id) => w.store.isLive(id)));
              const got = worldView(w, o);
              setEq(got, want);
              assert.ok(got.size <= cap);
              const session = w.store.session[o]!;
              const d = bySession.get(session);
              setEq(d?.enters.map((e) => e.id) ?? [], [...want].filter((id) => !before.has(id)));
              setEq(d?.leaves ?? [], [...before].filter((id) => !want.has(id)));
              // The client-side model built only from enters/leaves matches the server's view.
              setEq(rec.view(session).keys(), got);
            }
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  test('after convergence, everyone within range sees everyone else and nobody beyond range + hysteresis is seen', () => {
    const def = testZone({ aoi: { radius: 30, hysteresis: 6, visibleCap: 1024, cellSize: 16, refreshTicks: 1, updateTicks: 1 } });
    const rec = new Recorder();
    const w = new World(def, rec, 0);
    rec.attach(w);
    const rng = new Rng(42);
    const ids: number[] = [];
    for (let i = 0; i < 300; i++) ids.push(w.addPlayer(i + 1, playerAt(`p${i}`, rng.range(0, 256), rng.range(0, 256)), 0));
    w.tick(50, rec);
    let pairsInRange = 0;
    for (const a of ids) {
      for (const b of ids) {
        if (a === b) continue;
        const sa = w.store.slotOf(a);
        const sb = w.store.slotOf(b);
        const d = Math.hypot(w.store.x[sa]! - w.store.x[sb]!, w.store.y[sa]! - w.store.y[sb]!);
        const aSeesB = rec.view(w.store.session[sa]!).has(b);
        if (d <= 30) {
          pairsInRange++;
          assert.ok(aSeesB, `${a} should see ${b} at ${d}`);
          assert.equal(aSeesB, rec.view(w.store.session[sb]!).has(a), 'visibility is symmetric');
        }
        if (d > 36) assert.ok(!aSeesB);
      }
    }
    assert.ok(pairsInRange > 300, `the layout should have many pairs in range (${pairsInRange})`);
  });

  test('hysteresis: an entity stays visible until beyond radius + hysteresis, and re-enters only within radius', () => {
    const def = testZone({ aoi: { radius: 20, hysteresis: 5, visibleCap: 8, cellSize: 8, refreshTicks: 1, updateTicks: 1 }, movement: FREE_MOVE });
    const rec = new Recorder();
    const w = new World(def, rec, 0);
    rec.attach(w);
    const a = w.addPlayer(1, playerAt('a', 100, 100), 0);
    const b = w.addPlayer(2, playerAt('b', 110, 100), 0);
    let now = 0;
    const step = (x: number): boolean => {
      now += 1000;
      assert.equal(w.applyMove(b, 0, x, 100, now), 0);
      w.tick(now, rec);
      return rec.view(1).has(b);
    };
    assert.equal(step(110), true);
    assert.equal(step(122), true); // 22 > 20 but within 25
    assert.equal(step(125), true); // exactly 25 stays
    assert.equal(step(125.5), false); // beyond 25 leaves
    assert.equal(step(122), false); // back within 25 but not within 20: still out
    assert.equal(step(120), true); // exactly 20 enters
    void a;
  });

  test('the cap keeps the nearest; an already-visible entity is not swapped for one barely nearer', () => {
    const def = testZone({ aoi: { radius: 50, hysteresis: 5, visibleCap: 2, cellSize: 16, refreshTicks: 1, updateTicks: 1 }, movement: FREE_MOVE });
    const rec = new Recorder();
    const w = new World(def, rec, 0);
    rec.attach(w);
    w.addPlayer(1, playerAt('o', 100, 100), 0);
    const near = w.addPlayer(2, playerAt('near', 110, 100), 0);
    const mid = w.addPlayer(3, playerAt('mid', 120, 100), 0);
    const far = w.addPlayer(4, playerAt('far', 130, 100), 0);
    w.tick(50, rec);
    setEq(rec.view(1).keys(), [near, mid]);
    // far moves to 118: nearer than mid (20) but not by more than the hysteresis.
    assert.equal(w.applyMove(far, 1, 118, 100, 2000), 0);
    w.tick(2050, rec);
    setEq(rec.view(1).keys(), [near, mid]);
    // far moves to 112: 8 nearer than mid, more than the hysteresis: it takes mid's place.
    assert.equal(w.applyMove(far, 2, 112, 100, 4000), 0);
    w.tick(4050, rec);
    setEq(rec.view(1).keys(), [near, far]);
  });

  test('updates carry only entities whose quantized state changed', () => {
    const rec = new Recorder();
    const w = new World(testZone(), rec, 0);
    rec.attach(w);
    w.addPlayer(1, playerAt('watcher', 100, 100), 0);
    const still = w.addPlayer(2, playerAt('still', 105, 100), 0);
    const mover = w.addPlayer(3, playerAt('mover', 95, 100), 0);
    w.tick(50, rec);
    const watcher = () => rec.deltas.find((d) => d.session === 1);
    rec.clear();
    assert.equal(w.applyMove(mover, 1, 96, 100, 100), 0);
    w.tick(100, rec);
    assert.deepEqual(
      watcher()!.updates.map((u) => u.id),
      [mover],
      'only the mover, never the one standing still',
    );
    assert.equal(watcher()!.updates[0]!.qx, quantize(96));
    assert.equal(watcher()!.updates[0]!.qx, 96 * 16);
    assert.equal(watcher()!.updates[0]!.flags & 8, 8, 'moving flag');
    // A move smaller than half a 1/16 step changes nothing published: no delta at all.
    rec.clear();
    assert.equal(w.applyMove(mover, 2, 96.02, 100, 150), 0);
    w.tick(150, rec);
    assert.equal(watcher(), undefined);
    // The moving flag clears MOVING_HOLD_MS after the last move: one update.
    rec.clear();
    w.tick(400, rec);
    assert.deepEqual(
      watcher()!.updates.map((u) => [u.id, u.flags & 8]),
      [[mover, 0]],
    );
    // Nothing changes: every observer is skipped (no begin/end).
    rec.clear();
    w.tick(450, rec);
    assert.equal(rec.deltas.length, 0);
    void still;
  });

  test('snapshot resets the view to the nearest entities within radius; later deltas are relative to it', () => {
    const def = testZone({ aoi: { radius: 20, hysteresis: 5, visibleCap: 3, cellSize: 8, refreshTicks: 1, updateTicks: 1 } });
    const rec = new Recorder();
    const w = new World(def, rec, 0);
    rec.attach(w);
    const ids = [0, 5, 10, 15, 19, 22].map((dx, i) => w.addPlayer(10 + i, playerAt(`e${i}`, 100 + dx, 100), 0));
    const o = ids[0]!;
    assert.equal(w.snapshot(o, rec), true);
    const snap = rec.snapshots.at(-1)!;
    setEq(
      snap.entities.map((e) => e.id),
      [ids[1]!, ids[2]!, ids[3]!],
    );
    assert.equal(snap.entities.find((e) => e.id === ids[1])!.name, 'e1');
    // The next tick is consistent with the snapshot (the recorder throws otherwise).
    w.tick(50, rec);
    assert.equal(w.snapshot(0x12345, rec), false, 'stale id');
  });

  test('hits are reported to the target, the attacker and observers who see the target, not to others', () => {
    const rec = new Recorder();
    const def = testZone({ aoi: { radius: 30, hysteresis: 5, visibleCap: 16, cellSize: 16, refreshTicks: 1, updateTicks: 1 } });
    const w = new World(def, rec, 0);
    rec.attach(w);
    const a = w.addPlayer(1, playerAt('a', 100, 100), 0);
    const b = w.addPlayer(2, playerAt('b', 102, 100), 0);
    w.addPlayer(3, playerAt('near', 120, 100), 0);
    w.addPlayer(4, playerAt('far', 200, 200), 0);
    w.tick(50, rec);
    rec.clear();
    assert.equal(w.applyAttack(a, b, 100), AttackResult.ok);
    w.tick(100, rec);
    const got = (session: number) => rec.deltas.find((d) => d.session === session)?.damages ?? [];
    for (const session of [1, 2, 3]) {
      assert.equal(got(session).length, 1, `session ${session}`);
      assert.equal(got(session)[0]!.attacker, a);
      assert.equal(got(session)[0]!.target, b);
    }
    assert.equal(got(4).length, 0);
    // Events do not repeat on the next tick.
    rec.clear();
    w.tick(150, rec);
    assert.equal(got(3).length, 0);
  });

  test('an entity that disappears leaves every view at the next tick, even between refreshes', () => {
    const def: ZoneDef = testZone({ aoi: { radius: 30, hysteresis: 5, visibleCap: 16, cellSize: 16, refreshTicks: 4, updateTicks: 1 } });
    const rec = new Recorder();
    const w = new World(def, rec, 0);
    rec.attach(w);
    w.addPlayer(1, playerAt('a', 100, 100), 0);
    const b = w.addPlayer(2, playerAt('b', 110, 100), 0);
    for (let t = 1; t <= 4; t++) w.tick(t * 50, rec);
    assert.ok(rec.view(1).has(b));
    w.removePlayer(b);
    rec.clear();
    w.tick(250, rec);
    assert.deepEqual(rec.deltas.find((d) => d.session === 1)?.leaves, [b]);
  });
});
