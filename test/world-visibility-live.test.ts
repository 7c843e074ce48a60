// The world-live scenario without sockets: players wander a default zone
// (walls, wolves and bears that kill them, respawns at spawn points) and at
// every tick each refreshed view must be exactly what the visibility rule
// gives from the server's positions, and the client model built from the
// deltas must equal it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { World, Rng, defaultZoneDefs } from '../src/world/index.js';
import { Recorder, playerAt, expectedView, worldView } from './helpers/world.js';

test('wanderers among NPCs, deaths and respawns: every refreshed view follows the rule; client models follow the views', () => {
  const SIZE = 512;
  const [def] = defaultZoneDefs(2, { size: SIZE, npcsPerZone: 40 });
  const rec = new Recorder();
  const w = new World(def!, rec, 0);
  rec.attach(w);
  const rng = new Rng(7);
  const bots: Array<{ id: number; tx: number; ty: number; seq: number }> = [];
  for (let i = 0; i < 250; i++) {
    const x = 40 + rng.range(0, SIZE - 80);
    const y = 40 + rng.range(0, SIZE - 80);
    bots.push({ id: w.addPlayer(i + 1, playerAt(`p${i}`, x, y), 0), tx: x, ty: y, seq: 0 });
  }
  let now = 0;
  let respawns = 0;
  for (let t = 0; t < 1200; t++) {
    now += 50;
    if (t % 5 === 0) {
      for (const b of bots) {
        const slot = w.store.slotOf(b.id);
        const x = w.store.x[slot]!;
        const y = w.store.y[slot]!;
        const d = Math.hypot(b.tx - x, b.ty - y);
        if (d < 1.5) {
          b.tx = 40 + rng.range(0, SIZE - 80);
          b.ty = 40 + rng.range(0, SIZE - 80);
          continue;
        }
        w.applyMove(b.id, ++b.seq, x + ((b.tx - x) / d) * 1.5, y + ((b.ty - y) / d) * 1.5, now);
      }
    }
    const players = bots.map((b) => w.store.slotOf(b.id));
    const prev = new Map(players.map((o) => [o, worldView(w, o)]));
    rec.clear();
    w.tick(now, rec);
    respawns += rec.eventsOf('respawn').length;
    for (const o of players) {
      const got = worldView(w, o);
      if ((w.tickCount + o) % def!.aoi.refreshTicks === 0) assert.deepEqual(got, expectedView(w, o, prev.get(o)!), `tick ${t}: view of slot ${o}`);
      assert.deepEqual(new Set(rec.view(w.store.session[o]!).keys()), got, `tick ${t}: client model of slot ${o}`);
    }
  }
  assert.ok(respawns > 5, `${respawns} respawns: the scenario exercises deaths`);
});
