// The world-live scenario without sockets: players wander a default zone
// (walls, wolves and bears that kill them, respawns at spawn points) and at
// every tick each refreshed view must be exactly what the visibility rule
// gives from the server's positions, and the client model built from the
// deltas must equal it. With aoi.updateTicks > 1 the same holds at each
// player's update ticks, the model's entity states are then current, nothing
// but combat events goes out in between, and those events are not held back.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World, Rng, defaultZoneDefs } from '../src/world/index.js';
import { Recorder, playerAt, expectedView, worldView, type DeltaRecord } from './helpers/world.js';

const SIZE = 512;
const TICKS = 1200;

interface Run {
  w: World;
  rec: Recorder;
  bots: Array<{ id: number; tx: number; ty: number; seq: number }>;
  rng: Rng;
  now: number;
}

function start(updateTicks: number): Run {
  const [def] = defaultZoneDefs(2, { size: SIZE, npcsPerZone: 40 });
  def!.aoi = { ...def!.aoi, updateTicks };
  const rec = new Recorder();
  const w = new World(def!, rec, 0);
  rec.attach(w);
  const rng = new Rng(7);
  const bots: Run['bots'] = [];
  for (let i = 0; i < 250; i++) {
    const x = 40 + rng.range(0, SIZE - 80);
    const y = 40 + rng.range(0, SIZE - 80);
    bots.push({ id: w.addPlayer(i + 1, playerAt(`p${i}`, x, y), 0), tx: x, ty: y, seq: 0 });
  }
  return { w, rec, bots, rng, now: 0 };
}

/** One tick: every fifth, each bot steps toward its waypoint. Returns each player's view before the tick. */
function step(r: Run, t: number): Map<number, Set<number>> {
  const { w, rng } = r;
  r.now += 50;
  if (t % 5 === 0) {
    for (const b of r.bots) {
      const slot = w.store.slotOf(b.id);
      const x = w.store.x[slot]!;
      const y = w.store.y[slot]!;
      const d = Math.hypot(b.tx - x, b.ty - y);
      if (d < 1.5) {
        b.tx = 40 + rng.range(0, SIZE - 80);
        b.ty = 40 + rng.range(0, SIZE - 80);
        continue;
      }
      w.applyMove(b.id, ++b.seq, x + ((b.tx - x) / d) * 1.5, y + ((b.ty - y) / d) * 1.5, r.now);
    }
  }
  const prev = new Map(r.bots.map((b) => w.store.slotOf(b.id)).map((o) => [o, worldView(w, o)]));
  r.rec.clear();
  w.tick(r.now, r.rec);
  return prev;
}

/** Combat events about the session's own player in this tick's deltas: "damage target amount hpLeft" / "death". */
function ownEvents(deltas: readonly DeltaRecord[], session: number, self: number): string[] {
  const out: string[] = [];
  for (const d of deltas) {
    if (d.session !== session) continue;
    for (const x of d.damages) if (x.target === self) out.push(`damage ${x.attacker} ${x.amount} ${x.hpLeft}`);
    for (const x of d.deaths) if (x.entity === self) out.push(`death ${x.killer}`);
  }
  return out.sort();
}

test('wanderers among NPCs, deaths and respawns: every refreshed view follows the rule; client models follow the views', () => {
  const r = start(1);
  const { w, rec } = r;
  let respawns = 0;
  for (let t = 0; t < TICKS; t++) {
    const prev = step(r, t);
    respawns += rec.eventsOf('respawn').length;
    for (const [o, before] of prev) {
      const got = worldView(w, o);
      if ((w.tickCount + o) % w.def.aoi.refreshTicks === 0) assert.deepEqual(got, expectedView(w, o, before), `tick ${t}: view of slot ${o}`);
      assert.deepEqual(new Set(rec.view(w.store.session[o]!).keys()), got, `tick ${t}: client model of slot ${o}`);
    }
  }
  assert.ok(respawns > 5, `${respawns} respawns: the scenario exercises deaths`);
});

test('aoi.updateTicks 4: views and entity states are exact at each update tick, only combat events in between, and those on time', () => {
  const N = 4;
  const every = start(1); // the same world sending every tick: the reference for events
  const r = start(N);
  const { w, rec } = r;
  let ownChecked = 0;
  let between = 0;
  const updatesBySession = new Map<number, number>();
  for (let t = 0; t < TICKS; t++) {
    step(every, t);
    const prev = step(r, t);
    for (const [o, before] of prev) {
      const session = w.store.session[o]!;
      const mine = rec.deltas.filter((d) => d.session === session);
      if ((w.tickCount + o) % N === 0) {
        const got = worldView(w, o);
        assert.deepEqual(got, expectedView(w, o, before), `tick ${t}: view of slot ${o}`);
        const model = rec.view(session);
        assert.deepEqual(new Set(model.keys()), got, `tick ${t}: client model of slot ${o}`);
        for (const [id, v] of model) {
          const now = rec.read(id & 0xffff);
          assert.deepEqual([v.qx, v.qy, v.hp, v.flags, v.facing], [now.qx, now.qy, now.hp, now.flags, now.facing], `tick ${t}: slot ${o}'s model of ${id} is current`);
        }
        if (mine.some((d) => d.updates.length > 0)) updatesBySession.set(session, (updatesBySession.get(session) ?? 0) + 1);
      } else {
        for (const d of mine) {
          assert.equal(d.enters.length + d.leaves.length + d.updates.length, 0, `tick ${t}: slot ${o} got view changes between its updates`);
          between++;
        }
      }
      // The player's own hits and death arrive the tick they happen, as when sending every tick.
      const self = w.store.id[o]!;
      const want = ownEvents(every.rec.deltas, session, self);
      assert.deepEqual(ownEvents(rec.deltas, session, self), want, `tick ${t}: slot ${o}'s own combat events`);
      ownChecked += want.length;
    }
  }
  // The premise of the comparison: both worlds played the same game.
  for (const b of r.bots) {
    const s = w.store.slotOf(b.id);
    const s1 = every.w.store.slotOf(b.id);
    assert.deepEqual([w.store.x[s], w.store.y[s], w.store.hp[s]], [every.w.store.x[s1], every.w.store.y[s1], every.w.store.hp[s1]]);
  }
  assert.ok(ownChecked > 100, `${ownChecked} own combat events compared: the scenario fights`);
  assert.ok(between > 100, `${between} event-only deltas between updates`);
  for (const [session, n] of updatesBySession) assert.ok(n <= TICKS / N + 1, `session ${session}: ${n} position updates in ${TICKS} ticks`);
});
