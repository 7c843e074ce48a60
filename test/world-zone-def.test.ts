import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { World, WorldError, defaultZoneDefs, validateZoneDef, validateZoneSet, zoneCapacity, type ZoneDef } from '../src/world/index.js';
import { Recorder } from './helpers/world.js';

function issues(fn: () => void): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof WorldError, String(e));
    assert.equal(e.code, 'MMO_ERR_ZONE_DEF');
    return [...e.issues];
  }
  assert.fail('expected the definition to be rejected');
}

describe('zone definitions', () => {
  test('every problem is listed at once, naming the key and what is allowed', () => {
    const d = defaultZoneDefs(1)[0]!;
    const bad: ZoneDef = {
      ...d,
      width: 5000,
      aoi: { ...d.aoi, visibleCap: 0, refreshTicks: 17 },
      movement: { ...d.movement, maxSpeed: -1 },
      spawnPoints: [{ x: 10, y: 10 }],
      obstacles: [{ x: 0, y: 0, w: 20, h: 20 }],
      npcs: [{ ...d.npcs[0]!, levelMin: 9, levelMax: 2 }],
    };
    const got = issues(() => validateZoneDef(bad));
    assert.ok(got.some((i) => /width = 5000: allowed a number from 16 to 4096/.test(i)), got.join('\n'));
    assert.ok(got.some((i) => /aoi\.visibleCap = 0: allowed an integer from 1 to 1024/.test(i)));
    assert.ok(got.some((i) => /aoi\.refreshTicks = 17/.test(i)));
    assert.ok(got.some((i) => /movement\.maxSpeed = -1/.test(i)));
    assert.ok(got.some((i) => /spawnPoints\[0\] is inside an obstacle/.test(i)));
    assert.ok(got.some((i) => /npcs\[0\]\.levelMax is below levelMin/.test(i)));
    assert.throws(() => new World(bad, new Recorder(), 0), WorldError);
  });

  test('zones that need more than 65,536 entity slots are refused', () => {
    const d = defaultZoneDefs(1)[0]!;
    const big = { ...d, maxPlayers: 65_000 };
    assert.ok(zoneCapacity(big) > 65_536);
    assert.ok(issues(() => validateZoneDef(big)).some((i) => /entity slots/.test(i)));
  });

  test('portal links are checked across zones', () => {
    const [a, b] = defaultZoneDefs(2) as [ZoneDef, ZoneDef];
    const missing = { ...a, portals: [{ ...a.portals[0]!, targetZone: 9 }] };
    assert.ok(issues(() => validateZoneSet([missing, b])).some((i) => /leads to zone 9, which does not exist/.test(i)));
    const bounce = { ...a, portals: [{ ...a.portals[0]!, targetX: 4, targetY: b.height / 2 }] };
    assert.ok(issues(() => validateZoneSet([bounce, b])).some((i) => /arrives inside a portal of zone 2/.test(i)));
    assert.ok(issues(() => validateZoneSet([a, { ...b, id: 1 }])).some((i) => /zone id 1 is used twice/.test(i)));
    const self = { ...a, portals: [{ ...a.portals[0]!, targetZone: 1 }] };
    assert.ok(issues(() => validateZoneDef(self)).some((i) => /leads to its own zone/.test(i)));
  });

  test('the default world: N zones with spawn points, walls clear of them, NPCs and sane tuning', () => {
    assert.throws(() => defaultZoneDefs(0), WorldError);
    const defs = defaultZoneDefs(4);
    validateZoneSet(defs);
    for (const d of defs) {
      assert.ok(d.width <= 4096 && d.height <= 4096);
      assert.ok(d.spawnPoints.length >= 1);
      assert.ok(d.aoi.radius + d.aoi.hysteresis > d.sayRadius, 'say reaches only players one can see');
      assert.ok(d.movement.teleportDistance > (d.movement.maxSpeed * (1 + d.movement.speedTolerance) * d.movement.burstMs) / 1000, 'a teleport is beyond any budget');
      const w = new World(d, new Recorder(), 0);
      assert.equal(w.store.countByKind[1], d.npcs.reduce((n, g) => n + g.count, 0));
    }
  });
});
