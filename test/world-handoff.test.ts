import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  World,
  MoveResult,
  INVENTORY_SLOTS,
  MAX_NAME_BYTES,
  PLAYER_STATE_MAX_BYTES,
  defaultZoneDefs,
  validateZoneSet,
  encodePlayerState,
  decodePlayerState,
  newPlayerState,
  type PlayerState,
} from '../src/world/index.js';
import { Recorder, playerAt } from './helpers/world.js';

function zones(n: number) {
  const defs = defaultZoneDefs(n);
  const recs = defs.map(() => new Recorder());
  const worlds = defs.map((d, i) => {
    const w = new World(d, recs[i]!, 0);
    recs[i]!.attach(w);
    return w;
  });
  return { defs, recs, worlds };
}

const stateArb: fc.Arbitrary<PlayerState> = fc.record({
  name: fc.string({ minLength: 1, maxLength: 16, unit: 'grapheme' }).filter((s) => new TextEncoder().encode(s).length <= MAX_NAME_BYTES),
  level: fc.integer({ min: 1, max: 60 }),
  xp: fc.integer({ min: 0, max: 0xffffffff }),
  hp: fc.integer({ min: 1, max: 1280 }),
  maxHp: fc.integer({ min: 1280, max: 1280 }),
  x: fc.integer({ min: 100, max: 900 }),
  y: fc.integer({ min: 100, max: 900 }),
  inventory: fc
    .array(fc.tuple(fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 1, max: 65535 })), { minLength: INVENTORY_SLOTS, maxLength: INVENTORY_SLOTS })
    .chain((pairs) => fc.array(fc.boolean(), { minLength: INVENTORY_SLOTS, maxLength: INVENTORY_SLOTS }).map((used) => Uint16Array.from(pairs.flatMap(([item, count], i) => (used[i] ? [item, count] : [0, 0]))))),
});

describe('portals and handoff', () => {
  test('stepping into a portal removes the player and hands over its exact state; the next zone reproduces it', () => {
    const { worlds, recs, defs } = zones(3);
    const [z1, z2] = worlds as [World, World];
    const inv = new Uint16Array(INVENTORY_SLOTS * 2);
    inv.set([5, 12, 0, 0, 9, 1]);
    const id = z1.addPlayer(77, playerAt('Ærwyn', 1013, 512, { level: 7, xp: 1234, hp: 150, maxHp: 220, inventory: inv }), 0);
    const watcher = z1.addPlayer(78, playerAt('w', 1000, 512), 0);
    z1.tick(50, recs[0]!);
    assert.equal(z1.applyMove(id, 3, 1015, 512, 300), MoveResult.accepted, 'not yet in the portal (x >= 1016)');
    assert.equal(z1.applyMove(id, 4, 1017, 512, 600), MoveResult.handoff);
    const [h] = recs[0]!.eventsOf('handoff');
    assert.ok(h);
    assert.equal(h.session, 77);
    assert.equal(h.targetZone, 2);
    assert.equal(h.x, 24);
    assert.equal(h.y, 512);
    assert.deepEqual({ ...h.state, inventory: Array.from(h.state.inventory) }, { name: 'Ærwyn', level: 7, xp: 1234, hp: 150, maxHp: 220, x: 24, y: 512, inventory: Array.from(inv) });
    assert.equal(z1.store.slotOf(id), -1, 'gone from zone 1');
    assert.equal(z1.applyMove(id, 5, 1018, 512, 700), MoveResult.noPlayer);
    recs[0]!.clear();
    z1.tick(700, recs[0]!);
    assert.deepEqual(recs[0]!.deltas.find((d) => d.session === 78)?.leaves, [id]);

    // Through the ring's wire format, as the zone worker would send it.
    const buf = new Uint8Array(PLAYER_STATE_MAX_BYTES);
    const len = encodePlayerState(h.state, buf, 0);
    assert.ok(len > 0);
    const arrived = newPlayerState('');
    assert.equal(decodePlayerState(buf.subarray(0, len), 0, arrived), len);
    const id2 = z2.addPlayer(77, arrived, 700);
    assert.ok(id2 > 0);
    const again = z2.playerState(id2)!;
    assert.deepEqual({ ...again, inventory: Array.from(again.inventory) }, { ...h.state, inventory: Array.from(h.state.inventory) });
    // Walking back west into zone 2's west portal leads to zone 1's east side.
    let x = 24;
    let now = 700;
    let r: number = MoveResult.accepted;
    while (r === MoveResult.accepted) {
      now += 100;
      x -= 0.8;
      r = z2.applyMove(id2, 0, x, 512, now);
    }
    assert.equal(r, MoveResult.handoff);
    const back = recs[1]!.eventsOf('handoff')[0]!;
    assert.equal(back.targetZone, 1);
    assert.equal(back.x, defs[0]!.width - 24);
    void watcher;
  });

  test('any player state survives the binary form exactly; truncated bytes are refused', () => {
    fc.assert(
      fc.property(stateArb, (s) => {
        const buf = new Uint8Array(PLAYER_STATE_MAX_BYTES + 8);
        const end = encodePlayerState(s, buf, 8);
        assert.ok(end > 8 && end <= PLAYER_STATE_MAX_BYTES + 8);
        const out = newPlayerState('');
        assert.equal(decodePlayerState(buf, 8, out), end);
        assert.deepEqual({ ...out, inventory: Array.from(out.inventory) }, { ...s, inventory: Array.from(s.inventory) });
        assert.equal(decodePlayerState(buf.subarray(0, end - 1), 8, newPlayerState('')), -1);
        // Through a world: addPlayer then playerState gives the same state back.
        const w = new World(defaultZoneDefs(1)[0]!, new Recorder(), 0);
        const id = w.addPlayer(1, out, 0);
        const back = w.playerState(id)!;
        const free = !w.terrain.pointBlocked(s.x, s.y);
        // A saved position inside a wall (the map changed) is replaced by a spawn point.
        const where = free ? { x: s.x, y: s.y } : { x: back.x, y: back.y };
        if (!free) assert.ok(w.def.spawnPoints.some((p) => p.x === back.x && p.y === back.y));
        assert.deepEqual({ ...back, inventory: Array.from(back.inventory) }, { ...s, ...where, inventory: Array.from(s.inventory) });
      }),
      { numRuns: 60 },
    );
    const long = newPlayerState('x'.repeat(MAX_NAME_BYTES + 1));
    assert.equal(encodePlayerState(long, new Uint8Array(1024), 0), -1);
  });

  test('default zones form a valid ring: every portal leads to a free spot of the next zone', () => {
    for (const n of [1, 2, 3, 7]) {
      const defs = defaultZoneDefs(n);
      validateZoneSet(defs);
      assert.deepEqual(
        defs.map((d) => d.id),
        Array.from({ length: n }, (_, i) => i + 1),
      );
      assert.equal(new Set(defs.map((d) => d.name)).size, n);
      // Following east portals from zone 1 visits every zone and returns.
      let z = 1;
      const seen = new Set<number>();
      for (let i = 0; i < n; i++) {
        seen.add(z);
        const east = defs[z - 1]!.portals.find((p) => p.rect.x > defs[z - 1]!.width / 2);
        if (n === 1) assert.equal(east, undefined);
        else z = east!.targetZone;
      }
      assert.equal(seen.size, n);
      if (n > 1) assert.equal(z, 1);
      for (const d of defs) {
        assert.ok(d.obstacles.length > 0, 'some walls');
        assert.ok(d.npcs.reduce((a, g) => a + g.count, 0) > 0, 'some NPCs');
      }
    }
  });
});
