// A deterministic input script for world tests: players walk, fight, loot,
// join, leave and go link-dead, all decided by a seeded Rng from the world's
// own state, so two worlds in the same state fed the same script must stay
// identical. Used by the determinism and checkpoint tests.

import { World, Rng, Kind, InteractAction, INVENTORY_SLOTS } from '../../src/world/index.js';
import { playerAt, type Recorder } from './world.js';

export interface ScriptState {
  rng: Rng;
  now: number;
  nextSession: number;
  /** Player entity ids by session. */
  players: Map<number, number>;
  sayCounts: number[];
}

export function newScript(seed: number, now: number, players: Map<number, number> = new Map(), nextSession = 1): ScriptState {
  return { rng: new Rng(seed), now, nextSession, players, sayCounts: [] };
}

function nearest(w: World, slot: number, kind: number, maxD: number): number {
  const s = w.store;
  let best = -1;
  let bestD = maxD * maxD;
  for (let e = 0; e < s.highWater; e++) {
    if (e === slot || s.kind[e] !== kind) continue;
    const dx = s.x[e]! - s.x[slot]!;
    const dy = s.y[e]! - s.y[slot]!;
    const d2 = dx * dx + dy * dy;
    if (d2 < bestD) {
      bestD = d2;
      best = e;
    }
  }
  return best;
}

/** Runs `ticks` ticks of 50 ms with inputs between them. */
export function runScript(w: World, rec: Recorder, st: ScriptState, ticks: number, joins = true): void {
  const { rng } = st;
  const out = new Uint32Array(4096);
  for (let t = 0; t < ticks; t++) {
    st.now += 50;
    if (joins && rng.chance(0.2)) {
      const session = st.nextSession++;
      const inv = new Uint16Array(INVENTORY_SLOTS * 2);
      inv[0] = rng.int(1, 5);
      inv[1] = rng.int(1, 9);
      const id = w.addPlayer(session, playerAt(`p${session}`, rng.range(0, w.def.width), rng.range(0, w.def.height), { level: rng.int(1, 20), inventory: inv }), st.now);
      if (id > 0) {
        st.players.set(session, id);
        w.snapshot(id, rec);
      }
    }
    for (const [session, id] of [...st.players]) {
      const slot = w.store.slotOf(id);
      if (slot < 0) {
        st.players.delete(session);
        continue;
      }
      const roll = rng.float();
      if (roll < 0.005) {
        w.removePlayer(id);
        st.players.delete(session);
      } else if (roll < 0.01) {
        w.setLinkDead(id, (w.store.flags[slot]! & 4) === 0);
      } else if (roll < 0.7) {
        // Mostly honest steps, now and then a cheat.
        const step = rng.chance(0.05) ? 20 : 0.35;
        const a = rng.range(0, 2 * Math.PI);
        w.applyMove(id, t, w.store.x[slot]! + step * Math.cos(a), w.store.y[slot]! + step * Math.sin(a), st.now);
      } else if (roll < 0.85) {
        const target = nearest(w, slot, rng.chance(0.5) ? Kind.npc : Kind.player, 4);
        if (target >= 0) w.applyAttack(id, w.store.id[target]!, st.now);
      } else if (roll < 0.9) {
        const loot = nearest(w, slot, Kind.loot, 4);
        if (loot >= 0) w.applyInteract(id, w.store.id[loot]!, InteractAction.loot, st.now);
      } else if (roll < 0.92) {
        st.sayCounts.push(w.sayRecipients(id, out));
      }
    }
    w.tick(st.now, rec);
  }
}
