import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { World, Kind } from '../src/world/index.js';
import { Recorder, testZone, playerAt } from './helpers/world.js';

describe('chat reach', () => {
  test('say reaches exactly the players within the say radius (speaker included); zone chat reaches every player', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.double({ min: 0, max: 256, noNaN: true }), fc.double({ min: 0, max: 256, noNaN: true }), fc.boolean()), {
          minLength: 1,
          maxLength: 80,
        }),
        fc.double({ min: 1, max: 120, noNaN: true }),
        (people, sayRadius) => {
          const def = testZone({
            sayRadius,
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
            const want: number[] = [];
            for (let o = 0; o < w.store.highWater; o++) {
              if (w.store.kind[o] !== Kind.player) continue;
              const dx = w.store.x[o]! - w.store.x[s]!;
              const dy = w.store.y[o]! - w.store.y[s]!;
              if (dx * dx + dy * dy <= sayRadius * sayRadius) want.push(w.store.session[o]!);
            }
            assert.deepEqual(
              Array.from(out.subarray(0, n)).sort((a, b) => a - b),
              want.sort((a, b) => a - b),
            );
            assert.ok(want.includes(w.store.session[s]!));
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
});
