import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { World, Rng, MoveReject, MoveResult, AttackResult, type Rect } from '../src/world/index.js';
import { Terrain, segmentHitsOpenRect } from '../src/world/terrain.js';
import { Recorder, testZone, playerAt } from './helpers/world.js';

// maxSpeed 10 u/s, tolerance 10 %, burst 500 ms: budget refills at 11 u/s and holds 5.5 units.
const MOVEMENT = { maxSpeed: 10, speedTolerance: 0.1, burstMs: 500, teleportDistance: 30 };
const RATE = 11 / 1000;
const CAPACITY = 5.5;
const WALLS: Rect[] = [
  { x: 60, y: 40, w: 8, h: 120 },
  { x: 150, y: 120, w: 60, h: 10 },
];

function insideWall(x: number, y: number): boolean {
  return WALLS.some((r) => x > r.x && x < r.x + r.w && y > r.y && y < r.y + r.h);
}

function setup(obstacles: Rect[] = []) {
  const rec = new Recorder();
  const w = new World(testZone({ movement: MOVEMENT, obstacles, spawnPoints: [{ x: 20, y: 20 }] }), rec, 0);
  rec.attach(w);
  return { w, rec };
}

describe('movement', () => {
  test('accepted movement never exceeds max speed x elapsed time + burst, positions stay in bounds and out of walls', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            dt: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 400 })), // 0: packets bunched by jitter
            dx: fc.double({ min: -12, max: 12, noNaN: true }),
            dy: fc.double({ min: -12, max: 12, noNaN: true }),
            wild: fc.option(fc.tuple(fc.double({ min: -50, max: 300 }), fc.double({ min: -50, max: 300 })), { freq: 10 }),
          }),
          { minLength: 1, maxLength: 120 },
        ),
        (moves) => {
          const { w } = setup(WALLS);
          const id = w.addPlayer(1, playerAt('p', 20, 20), 0);
          const slot = w.store.slotOf(id);
          let now = 0;
          // Accepted moves: time and cumulative path length.
          const times: number[] = [0];
          const path: number[] = [0];
          let x = w.store.x[slot]!;
          let y = w.store.y[slot]!;
          for (const m of moves) {
            now += m.dt;
            const tx = m.wild ? m.wild[0] : x + m.dx;
            const ty = m.wild ? m.wild[1] : y + m.dy;
            const r = w.applyMove(id, 1, tx, ty, now);
            const nx = w.store.x[slot]!;
            const ny = w.store.y[slot]!;
            if (r === MoveResult.accepted) {
              // The straight segment never passes through a wall (sampled independently of the slab test).
              for (let k = 0; k <= 64; k++) assert.ok(!insideWall(x + ((nx - x) * k) / 64, y + ((ny - y) * k) / 64));
              times.push(now);
              path.push(path.at(-1)! + Math.hypot(nx - x, ny - y));
            } else {
              assert.equal(nx, x);
              assert.equal(ny, y);
            }
            x = nx;
            y = ny;
            assert.ok(x >= 0 && x <= 256 && y >= 0 && y <= 256);
            assert.ok(!insideWall(x, y));
          }
          // Over every window of accepted moves: distance <= rate * elapsed + capacity.
          for (let i = 0; i < times.length; i++) {
            for (let j = i + 1; j < times.length; j++) {
              const allowed = RATE * (times[j]! - times[i]!) + CAPACITY + 1e-6 * (j - i);
              assert.ok(path[j]! - path[i]! <= allowed, `moved ${path[j]! - path[i]!} in ${times[j]! - times[i]!} ms, allowed ${allowed}`);
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  test('an honest client at full speed is never rejected, even when jitter bunches its packets', () => {
    const { w, rec } = setup();
    const id = w.addPlayer(1, playerAt('p', 10, 128), 0);
    const rng = new Rng(3);
    // Client moves at exactly max speed, sending every 50 ms of its own time;
    // the network delays each packet by 0..300 ms, in order (a TCP stream).
    let arrival = 0;
    let x = 10;
    for (let i = 1; i <= 400; i++) {
      const sent = i * 50;
      arrival = Math.max(arrival, sent + rng.range(0, 300));
      x += 10 * 0.05;
      if (x > 250) break;
      assert.equal(w.applyMove(id, i, x, 128, Math.round(arrival)), MoveResult.accepted, `move ${i}`);
    }
    assert.equal(rec.eventsOf('moveRejected').length, 0);
  });

  test('a server stall: the moves it bunched pass while the stall is reported, are refused without it, and the allowance is bounded', () => {
    // The client walks at max speed (10 u/s) sending every 50 ms; the server
    // reads nothing for 2 s, then gets all 40 moves at once (20 units, past
    // the 5.5-unit burst capacity).
    const run = (stallMs: number, graceMs: number) => {
      const rec = new Recorder();
      const w = new World(testZone({ movement: { ...MOVEMENT, stallGraceMs: graceMs }, spawnPoints: [{ x: 20, y: 20 }] }), rec, 0);
      rec.attach(w);
      const id = w.addPlayer(1, playerAt('p', 10, 128), 0);
      let x = 10;
      for (let i = 1; i <= 20; i++) {
        x += 0.5;
        assert.equal(w.applyMove(id, i, x, 128, i * 50), MoveResult.accepted);
      }
      w.movement.setStall(stallMs);
      let refused = 0;
      for (let i = 21; i <= 60; i++) {
        x += 0.5;
        if (w.applyMove(id, i, x, 128, 1000 + 2000) !== MoveResult.accepted) refused++;
        x = w.store.x[w.store.slotOf(id)]!;
      }
      return refused;
    };
    assert.ok(run(0, 5000) > 0, 'no stall reported: the bunch is over the burst budget');
    assert.equal(run(2000, 5000), 0, 'a reported 2 s stall excuses 2 s of walking');
    assert.ok(run(2000, 500) > 0, 'stallGraceMs caps the allowance');

    // A cheater who stood still gains at most capacity + rate * min(stall, grace) in one bunch.
    const w2 = new World(testZone({ movement: { ...MOVEMENT, stallGraceMs: 1000 }, spawnPoints: [{ x: 20, y: 20 }] }), new Recorder(), 0);
    const id = w2.addPlayer(2, playerAt('c', 10, 128), 0);
    const slot = w2.store.slotOf(id);
    w2.movement.setStall(60_000);
    let moved = 0;
    for (let i = 1; i <= 100; i++) {
      const x0 = w2.store.x[slot]!;
      if (w2.applyMove(id, i, x0 + 1, 128, 10_000) === MoveResult.accepted) moved += 1;
    }
    assert.ok(moved <= CAPACITY + RATE * 1000 + 1e-6, `moved ${moved} units in one bunch`);
    assert.ok(moved >= CAPACITY + RATE * 1000 - 1, `moved ${moved}: the allowance is given`);
    w2.movement.setStall(0);
    assert.notEqual(w2.applyMove(id, 101, w2.store.x[slot]! + 1, 128, 10_000), MoveResult.accepted, 'no stall, no budget left');
  });

  test('a speed hack is rejected and counted; each rejection sends the authoritative position', () => {
    const { w, rec } = setup();
    const id = w.addPlayer(7, playerAt('cheat', 10, 128), 0);
    const slot = w.store.slotOf(id);
    let rejected = 0;
    for (let i = 1; i <= 200; i++) {
      // 1.5x max speed, one packet every 50 ms.
      const x = w.store.x[slot]! + 15 * 0.05;
      const r = w.applyMove(id, i, x, 128, i * 50);
      if (r !== MoveResult.accepted) {
        assert.equal(r, MoveReject.speed);
        rejected++;
        // The correction is where the server has the player now, for this input.
        assert.deepEqual(rec.events.at(-1), { type: 'moveRejected', session: 7, seq: i, x: w.store.x[slot], y: 128, reason: MoveReject.speed });
      }
    }
    // Each accepted step is 0.75 units; the budget allows RATE * 10 s + CAPACITY in all.
    const maxAccepted = Math.floor((RATE * 10_000 + CAPACITY) / 0.75);
    assert.ok(rejected >= 200 - maxAccepted, `rejected ${rejected}, expected at least ${200 - maxAccepted}`);
    assert.equal(w.moveRejects[MoveReject.speed], rejected);
    assert.equal(rec.eventsOf('moveRejected').length, rejected);
    // It got no farther than the budget allows over 10 s.
    assert.ok(w.store.x[slot]! - 10 <= RATE * 10_000 + CAPACITY);
  });

  test('a teleport is rejected and counted, whatever the budget', () => {
    const { w, rec } = setup();
    const id = w.addPlayer(1, playerAt('p', 10, 128), 0);
    assert.equal(w.applyMove(id, 5, 200, 128, 60_000), MoveReject.teleport);
    assert.equal(w.moveRejects[MoveReject.teleport], 1);
    assert.deepEqual(rec.eventsOf('moveRejected')[0], { type: 'moveRejected', session: 1, seq: 5, x: 10, y: 128, reason: MoveReject.teleport });
  });

  test('the segment test agrees with the reference slab test and with dense sampling', () => {
    // Half-unit coordinates so edges and corners get hit exactly; a 32-unit zone (one obstacle
    // bucket) and a 256-unit one (segments and walls spanning several buckets).
    for (const size of [32, 256]) {
      const coord = fc.integer({ min: 0, max: 2 * size }).map((v) => v / 2);
      fc.assert(
        fc.property(fc.tuple(coord, coord, coord, coord), fc.tuple(coord, coord, coord, coord), ([rx, ry, rw, rh], [x0, y0, x1, y1]) => {
          fc.pre(rw > 0 && rh > 0 && rx + rw <= size && ry + rh <= size);
          const rect = { x: rx, y: ry, w: rw, h: rh };
          const t = new Terrain(testZone({ width: size, height: size, spawnPoints: [{ x: 0, y: 0 }], obstacles: [rect] }));
          const blocked = t.segmentBlocked(x0, y0, x1, y1);
          assert.equal(blocked, segmentHitsOpenRect(x0, y0, x1, y1, rx, ry, rx + rw, ry + rh));
          for (let k = 0; k <= 256; k++) {
            const px = x0 + ((x1 - x0) * k) / 256;
            const py = y0 + ((y1 - y0) * k) / 256;
            if (px > rx && px < rx + rw && py > ry && py < ry + rh) assert.ok(blocked, `sample (${px}, ${py}) is inside`);
          }
          assert.equal(t.pointBlocked(x0, y0), x0 > rx && x0 < rx + rw && y0 > ry && y0 < ry + rh);
        }),
        { numRuns: 1000 },
      );
    }
  });

  test('walls block crossing but not walking along their edge; bounds and non-numbers are refused', () => {
    const { w } = setup(WALLS);
    const id = w.addPlayer(1, playerAt('p', 58, 100), 0);
    assert.equal(w.applyMove(id, 1, 62, 100, 1000), MoveReject.obstacle, 'into the wall');
    assert.equal(w.applyMove(id, 2, 60, 100, 2000), MoveResult.accepted, 'up to its face');
    assert.equal(w.applyMove(id, 3, 60, 104, 3000), MoveResult.accepted, 'along its face');
    assert.equal(w.applyMove(id, 4, 61, 104, 4000), MoveReject.obstacle);
    // Corner-cutting across the wall's corner is blocked; passing exactly through the corner point is not.
    const b = w.addPlayer(2, playerAt('b', 59, 42), 0);
    assert.equal(w.applyMove(b, 1, 62, 39, 1000), MoveReject.obstacle, 'cuts the corner');
    const corner = w.addPlayer(3, playerAt('corner', 59, 41), 0);
    assert.equal(w.applyMove(corner, 1, 61, 39, 1000), MoveResult.accepted, 'touches only the corner point');
    const c = w.addPlayer(4, playerAt('c', 2, 2), 0);
    assert.equal(w.applyMove(c, 1, -1, 2, 1000), MoveReject.bounds);
    assert.equal(w.applyMove(c, 2, Number.NaN, 2, 2000), MoveReject.bounds);
    assert.equal(w.applyMove(c, 3, 2, Number.POSITIVE_INFINITY, 3000), MoveReject.bounds);
    assert.equal(w.moveRejects[MoveReject.bounds], 3);
    assert.equal(w.moveRejects[MoveReject.obstacle], 3);
  });

  test('dead players cannot move; unknown entities are reported, not crashed on', () => {
    const rec = new Recorder();
    const w = new World(testZone({ movement: MOVEMENT, combat: { ...testZone().combat, playerDamageBase: 1000, attackCooldownMs: 0 } }), rec, 0);
    rec.attach(w);
    const a = w.addPlayer(1, playerAt('a', 100, 100), 0);
    const b = w.addPlayer(2, playerAt('b', 101, 100), 0);
    assert.equal(w.applyAttack(a, b, 10), AttackResult.ok);
    assert.equal(w.applyMove(b, 1, 101.5, 100, 100), MoveReject.dead);
    assert.equal(w.moveRejects[MoveReject.dead], 1);
    assert.equal(w.applyMove(0xdead, 1, 1, 1, 100), MoveResult.noPlayer);
    assert.equal(w.applyMove(0, 1, 1, 1, 100), MoveResult.noPlayer);
  });
});
