import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { DegradeController, type DegradeSettings, type LoadSample } from '../src/net/degrade.js';
import { ConfigError } from '../src/config/errors.js';
import { World, Rng } from '../src/world/index.js';
import { Recorder, testZone, playerAt, FREE_MOVE } from './helpers/world.js';

const cfg: DegradeSettings = {
  loopLagMs: 50,
  gatewayBusy: 0.9,
  tickBudget: 0.8,
  raiseAfterMs: 2000,
  restoreAfterMs: 10_000,
  restoreRatio: 0.5,
  updateTicks: [2, 4],
  visibleCap: [48, 32],
};

interface Logged {
  level: 'warn' | 'info';
  obj: Record<string, unknown>;
  msg: string;
}

function rig(zones = 3) {
  const calls: string[] = [];
  const logs: Logged[] = [];
  const c = new DegradeController(
    cfg,
    zones,
    {
      shed: (on) => calls.push(`shed ${on}`),
      zoneAoi: (z, u, v) => calls.push(`zone ${z} ${u}/${v}`),
    },
    {
      warn: (obj, msg) => logs.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }),
      info: (obj, msg) => logs.push({ level: 'info', obj: obj as Record<string, unknown>, msg }),
    },
  );
  return { c, calls, logs };
}

/** A period's sample: loop p99 about `loopMs`, the gateway `busy`, zones' tick shares and players. */
function load(loopMs: number, busy: number, ticks: number[], players: number[] = ticks.map(() => 10)): LoadSample {
  const samples = 100;
  return {
    loopSamples: samples,
    loopOver: loopMs >= cfg.loopLagMs ? 5 : 0,
    loopWarm: loopMs >= cfg.loopLagMs * cfg.restoreRatio ? 5 : 0,
    loopMaxMs: loopMs,
    gatewayBusy: busy,
    zoneTickShare: Float64Array.from(ticks),
    zonePlayers: Float64Array.from(players),
  };
}

describe('degradation controller (fake clock)', () => {
  test('steps up one level per raiseAfterMs of overload, shedding first, then the busiest zone; each step logged once', () => {
    const { c, calls, logs } = rig();
    const hot = load(80, 0.5, [0.95, 0.1, 0.1]);
    let t = 0;
    c.evaluate(hot, t);
    assert.equal(c.level, 0, 'one bad second is not a trend');
    t += 1000;
    c.evaluate(hot, t);
    assert.equal(c.level, 0);
    t += 1000;
    c.evaluate(hot, t);
    assert.equal(c.level, 1, 'over for raiseAfterMs: shed');
    assert.deepEqual(calls, ['shed true']);
    assert.equal(logs.length, 1);
    assert.equal(logs[0]!.obj.step, 'shed');
    assert.deepEqual(logs[0]!.obj.why, ['loop', 'zoneTick']);
    // The next step needs another raiseAfterMs at this level.
    t += 1000;
    c.evaluate(hot, t);
    assert.equal(c.level, 1);
    t += 1000;
    c.evaluate(hot, t);
    assert.equal(c.level, 2);
    // The gateway's loop is over too, so the crowded zones join the hot one: all have 10 players.
    assert.deepEqual(calls.slice(1), ['zone 0 2/48', 'zone 1 2/48', 'zone 2 2/48']);
    t += 2000;
    c.evaluate(hot, t);
    assert.equal(c.level, 3);
    t += 2000;
    calls.length = 0;
    c.evaluate(hot, t);
    assert.equal(c.level, 3, 'the top level is the last');
    assert.deepEqual(calls, ['zone 0 4/32', 'zone 1 4/32', 'zone 2 4/32'], 'settings are re-sent every period (a restarted zone forgets them)');
    assert.deepEqual(
      logs.map((l) => l.obj.step),
      ['shed', 'reduce_1', 'reduce_2'],
      'one log line per step, none while holding at the top',
    );
    assert.deepEqual([...c.stepsUp], [1, 1, 1]);
  });

  test('only a hot zone is reduced when the gateway is fine', () => {
    const { c, calls } = rig();
    const hot = load(5, 0.2, [0.1, 0.9, 0.2], [50, 5, 40]);
    for (let t = 0; t <= 4000; t += 1000) c.evaluate(hot, t);
    assert.equal(c.level, 2);
    assert.deepEqual(calls, ['shed true', 'zone 1 2/48']);
    assert.deepEqual([...c.reduced], [0, 1, 0]);
  });

  test('the gateway over budget reduces the fullest zones (at or above the mean)', () => {
    const { c, calls } = rig();
    const busy = load(5, 0.97, [0.1, 0.1, 0.1], [300, 10, 200]);
    for (let t = 0; t <= 4000; t += 1000) c.evaluate(busy, t);
    assert.equal(c.level, 2);
    assert.deepEqual([...c.reduced], [1, 0, 1]);
    assert.ok(calls.includes('zone 0 2/48') && calls.includes('zone 2 2/48') && !calls.some((x) => x.startsWith('zone 1')));
  });

  test('restores one step per restoreAfterMs of calm; the band between calm and over holds (hysteresis)', () => {
    const { c, calls, logs } = rig();
    const hot = load(80, 0.95, [0.9, 0.1, 0.1], [10, 0, 0]);
    let t = 0;
    for (; t <= 6000; t += 1000) c.evaluate(hot, t);
    assert.equal(c.level, 3);
    // Below the thresholds but above restoreRatio x them: hold, however long.
    const band = load(30, 0.6, [0.5, 0.1, 0.1], [10, 0, 0]);
    for (let i = 0; i < 30; i++, t += 1000) c.evaluate(band, t);
    assert.equal(c.level, 3, 'no restore while the load sits just under the thresholds');
    const calm = load(5, 0.2, [0.1, 0.1, 0.1], [10, 0, 0]);
    calls.length = 0;
    const start = t;
    for (; t <= start + 9000; t += 1000) c.evaluate(calm, t);
    assert.equal(c.level, 3, 'calm for less than restoreAfterMs');
    c.evaluate(calm, t);
    assert.equal(c.level, 2, 'one step down after restoreAfterMs');
    assert.equal(calls.at(-1), 'zone 0 2/48', 'the reduced zone goes back to the first reduce step');
    // A spike resets the calm timer.
    t += 1000;
    c.evaluate(load(80, 0.2, [0.1, 0.1, 0.1], [10, 0, 0]), t);
    assert.equal(c.level, 2);
    for (let i = 0; i < 9; i++) c.evaluate(calm, (t += 1000));
    assert.equal(c.level, 2, 'the calm clock started again after the spike');
    for (let i = 0; i < 2; i++) c.evaluate(calm, (t += 1000));
    assert.equal(c.level, 1);
    assert.ok(calls.includes('zone 0 0/0'), 'leaving the reduce steps restores the zone configuration');
    for (let i = 0; i < 11; i++) c.evaluate(calm, (t += 1000));
    assert.equal(c.level, 0);
    assert.equal(calls.at(-1), 'shed false');
    assert.deepEqual(
      logs.filter((l) => l.level === 'info').map((l) => l.obj.step),
      ['reduce_2', 'reduce_1', 'shed'],
    );
    assert.deepEqual([...c.stepsDown], [1, 1, 1]);
    assert.equal(c.reducedZones, 0);
  });

  test('visibleCap and updateTicks must have as many entries (a config error naming the key)', () => {
    assert.throws(
      () => new DegradeController({ ...cfg, visibleCap: [32] }, 1, { shed() {}, zoneAoi() {} }, { warn() {}, info() {} }),
      (e: unknown) => e instanceof ConfigError && /degrade\.visibleCap/.test(e.message),
    );
  });
});

describe('world: run-time area-of-interest load (ToZone.aoiLoad)', () => {
  test('a lower visible cap shrinks views to it, and restoring brings them back', () => {
    const def = testZone({ aoi: { radius: 60, hysteresis: 4, visibleCap: 20, cellSize: 16, refreshTicks: 1, updateTicks: 1 }, movement: FREE_MOVE });
    const rec = new Recorder();
    const w = new World(def, rec, 0);
    rec.attach(w);
    const rng = new Rng(7);
    for (let i = 0; i < 40; i++) w.addPlayer(i + 1, playerAt(`p${i}`, 128 + rng.range(-20, 20), 128 + rng.range(-20, 20)), 0);
    let now = 50;
    w.tick(now, rec);
    assert.equal(rec.view(1).size, 20);
    w.setAoiLoad(0, 8);
    w.tick((now += 50), rec);
    for (let s = 1; s <= 40; s++) assert.equal(rec.view(s).size, 8, `session ${s} sees the lowered cap`);
    assert.deepEqual(w.aoiLoad(), { updateTicks: 1, visibleCap: 8 });
    w.setAoiLoad(0, 5000);
    assert.equal(w.aoiLoad().visibleCap, 20, 'never above the configured cap');
    w.setAoiLoad(0, 0);
    w.tick((now += 50), rec);
    assert.equal(rec.view(1).size, 20);
  });

  test('fewer update frames at updateTicks 4, and no change lost when going back to 1', () => {
    const def = testZone({ aoi: { radius: 60, hysteresis: 4, visibleCap: 64, cellSize: 16, refreshTicks: 1, updateTicks: 1 }, movement: FREE_MOVE });
    const rec = new Recorder();
    const w = new World(def, rec, 0);
    rec.attach(w);
    const rng = new Rng(3);
    const ids: number[] = [];
    for (let i = 0; i < 12; i++) ids.push(w.addPlayer(i + 1, playerAt(`p${i}`, 128 + rng.range(-10, 10), 128 + rng.range(-10, 10)), 0));
    let now = 0;
    let seq = 0;
    const wander = () => {
      seq++;
      for (const id of ids) {
        const s = w.store.slotOf(id);
        w.applyMove(id, seq, w.store.x[s]! + rng.range(-1, 1), w.store.y[s]! + rng.range(-1, 1), now);
      }
    };
    const frames = (ticks: number) => {
      let n = 0;
      for (let i = 0; i < ticks; i++) {
        now += 50;
        wander();
        rec.clear();
        w.tick(now, rec);
        n += rec.deltas.filter((d) => d.updates.length > 0).length;
      }
      return n;
    };
    const full = frames(40);
    w.setAoiLoad(4, 0);
    const reduced = frames(40);
    assert.ok(reduced <= full / 3, `update frames at updateTicks 4: ${reduced}, at 1: ${full}`);
    // Back to 1, and everyone stands still: on the very next tick, moves made since a player's last update at 4 must reach it.
    w.setAoiLoad(0, 0);
    now += 50;
    w.tick(now, rec);
    for (const id of ids) {
      const slot = w.store.slotOf(id);
      for (let s = 1; s <= ids.length; s++) {
        const seen = rec.view(s).get(id);
        if (!seen) continue;
        assert.equal(seen.qx, w.store.qx[slot], `session ${s}'s model of ${id} is where it is`);
        assert.equal(seen.qy, w.store.qy[slot]);
      }
    }
  });
});
