import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { World, Kind } from '../src/world/index.js';
import { Recorder, testZone, playerAt } from './helpers/world.js';

describe('chat reach', () => {
  test('say reaches exactly the players within the say radius, the nearest sayMaxListeners of them (speaker included); zone chat reaches every player', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.double({ min: 0, max: 256, noNaN: true }), fc.double({ min: 0, max: 256, noNaN: true }), fc.boolean()), {
          minLength: 1,
          maxLength: 80,
        }),
        fc.double({ min: 1, max: 120, noNaN: true }),
        fc.oneof(fc.integer({ min: 1, max: 20 }), fc.constant(undefined)),
        (people, sayRadius, sayMaxListeners) => {
          const def = testZone({
            sayRadius,
            ...(sayMaxListeners === undefined ? {} : { sayMaxListeners }),
            npcs: [
              {
                name: 'Crow',
                count: 20,
                levelMin: 1,
                levelMax: 1,
                aggroRadius: 0,
                leashRadius: 10,
                wanderRadius: 0,
                speed: 1,
                respawnDelayMs: 1000,
                loot: [],
              },
            ],
          });
          const w = new World(def, new Recorder(), 0);
          const ids = people.map(([x, y, linkDead], i) => {
            const id = w.addPlayer(100 + i, playerAt(`p${i}`, x, y), 0);
            if (linkDead) w.setLinkDead(id, true);
            return id;
          });
          const out = new Uint32Array(256);
          for (const speaker of ids) {
            const s = w.store.slotOf(speaker);
            const n = w.sayRecipients(speaker, out);
            const d2 = (o: number) => (w.store.x[o]! - w.store.x[s]!) ** 2 + (w.store.y[o]! - w.store.y[s]!) ** 2;
            const inRange = new Map<number, number>(); // session -> squared distance
            for (let o = 0; o < w.store.highWater; o++) {
              if (w.store.kind[o] === Kind.player && d2(o) <= sayRadius * sayRadius) inRange.set(w.store.session[o]!, o === s ? -1 : d2(o));
            }
            const got = Array.from(out.subarray(0, n));
            const cap = sayMaxListeners ?? 64;
            assert.equal(new Set(got).size, n, 'nobody twice');
            assert.ok(got.includes(w.store.session[s]!), 'the speaker hears itself');
            assert.ok(got.every((r) => inRange.has(r)), 'only players in range');
            // The nearest `cap` (ties in distance may pick either): the distances heard are the smallest ones.
            const nearest = [...inRange.values()].sort((a, b) => a - b).slice(0, cap);
            assert.deepEqual(got.map((r) => inRange.get(r)!).sort((a, b) => a - b), nearest);
          }
          const z = w.zoneRecipients(out);
          assert.deepEqual(
            Array.from(out.subarray(0, z)).sort((a, b) => a - b),
            people.map((_, i) => 100 + i),
          );
        },
      ),
      { numRuns: 100 },
    );
  });

  test('recipients are bounded by the output array; unknown speakers get -1', () => {
    const w = new World(testZone(), new Recorder(), 0);
    const a = w.addPlayer(1, playerAt('a', 100, 100), 0);
    for (let i = 0; i < 10; i++) w.addPlayer(2 + i, playerAt(`p${i}`, 101, 100), 0);
    assert.equal(w.sayRecipients(a, new Uint32Array(4)), 4);
    assert.equal(w.zoneRecipients(new Uint32Array(3)), 3);
    assert.equal(w.sayRecipients(0x9999, new Uint32Array(4)), -1);
  });

  test('a crowd: a Say line reaches the 64 nearest of 500 players within the radius, not all of them', () => {
    const w = new World(testZone({ sayRadius: 32 }), new Recorder(), 0);
    const speaker = w.addPlayer(1, playerAt('s', 128, 128), 0);
    // Rings of players around the speaker, 0.05 to 25 units away.
    for (let i = 0; i < 500; i++) {
      const r = 0.05 * (i + 1);
      w.addPlayer(2 + i, playerAt(`p${i}`, 128 + r * Math.cos(i), 128 + r * Math.sin(i)), 0);
    }
    const out = new Uint32Array(1024);
    const n = w.sayRecipients(speaker, out);
    assert.equal(n, 64);
    assert.deepEqual(
      Array.from(out.subarray(0, n)).sort((a, b) => a - b),
      Array.from({ length: 64 }, (_, i) => 1 + i), // the speaker and the 63 nearest
    );
  });
});
