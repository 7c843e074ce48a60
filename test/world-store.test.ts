import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { EntityStore, Kind, SLOT_MASK, MAX_GENERATION } from '../src/world/index.js';

describe('entity store', () => {
  test('ids carry a generation: a stale id never resolves to the slot\'s next occupant', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.nat()), { maxLength: 400 }), (ops) => {
        const st = new EntityStore(16);
        const live: number[] = [];
        const dead: number[] = [];
        for (const [alloc, pick] of ops) {
          if (alloc) {
            const s = st.alloc(Kind.npc);
            if (live.length === 16) {
              assert.equal(s, -1, 'full');
              continue;
            }
            assert.ok(s >= 0);
            const id = st.id[s]!;
            assert.notEqual(id, 0);
            assert.equal(id & SLOT_MASK, s);
            live.push(id);
          } else if (live.length > 0) {
            const id = live.splice(pick % live.length, 1)[0]!;
            st.free(id & SLOT_MASK);
            dead.push(id);
          }
          for (const id of live) assert.equal(st.slotOf(id), id & SLOT_MASK);
          for (const id of dead) assert.equal(st.slotOf(id), -1);
          assert.equal(st.count, live.length);
          assert.equal(st.countByKind[Kind.npc], live.length);
        }
      }),
      { numRuns: 100 },
    );
  });

  test('a new occupant starts from zero, and the generation wraps without ever making id 0', () => {
    const st = new EntityStore(1);
    const s = st.alloc(Kind.player);
    st.hp[s] = 50;
    st.names[s] = 'x';
    st.invItem[3] = 9;
    st.free(s);
    const t = st.alloc(Kind.loot);
    assert.equal(t, s);
    assert.equal(st.hp[t], 0);
    assert.equal(st.names[t], '');
    assert.equal(st.invItem[3], 0);
    const seen = new Set<number>();
    for (let i = 0; i < 40_000; i++) {
      st.free(0);
      st.alloc(Kind.npc);
      assert.notEqual(st.id[0], 0);
      assert.ok(st.id[0]! < 2 ** 31, 'ids stay V8 small integers');
      seen.add(st.id[0]!);
    }
    assert.equal(seen.size, MAX_GENERATION, 'every generation 1..32767 is used before one repeats');
    assert.equal(st.slotOf(0), -1);
    assert.throws(() => new EntityStore(70_000), RangeError);
  });
});
