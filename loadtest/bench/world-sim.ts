// The simulated zone the world benchmarks tick: N players random-walking (a
// Move each per tick, as a 20 Hz client would send) in one World, deltas
// emitted into a counting writer that reads every field an encoder would.
// Shared by world.bench.ts, world-hooks.bench.ts and admin-view.bench.ts.

import { World, Rng, newPlayerState, type DeltaWriter, type WorldEvents, type WorldOptions, type ZoneDef } from '../../src/world/index.js';

export class CountingWriter implements DeltaWriter {
  observers = 0;
  enters = 0;
  updates = 0;
  leaves = 0;
  damages = 0;
  deaths = 0;
  checksum = 0;
  constructor(private readonly w: World) {}
  begin(_o: number, session: number): void {
    this.observers++;
    this.checksum = (this.checksum + session) | 0;
  }
  enter(s: number): void {
    const st = this.w.store;
    this.enters++;
    this.checksum = (this.checksum + st.id[s]! + st.kind[s]! + st.qx[s]! + st.qy[s]! + st.hp[s]! + st.maxHp[s]! + st.level[s]! + st.flags[s]! + st.names[s]!.length) | 0;
  }
  update(s: number): void {
    const st = this.w.store;
    this.updates++;
    this.checksum = (this.checksum + st.id[s]! + st.qx[s]! + st.qy[s]! + st.hp[s]! + st.flags[s]! + st.facing[s]!) | 0;
  }
  leave(id: number): void {
    this.leaves++;
    this.checksum = (this.checksum + id) | 0;
  }
  damage(a: number, t: number, amount: number, left: number): void {
    this.damages++;
    this.checksum = (this.checksum + a + t + amount + left) | 0;
  }
  death(e: number, k: number): void {
    this.deaths++;
    this.checksum = (this.checksum + e + k) | 0;
  }
  end(): void {}
  reset(): void {
    this.observers = this.enters = this.updates = this.leaves = this.damages = this.deaths = 0;
  }
}

export class CountingEvents implements WorldEvents {
  rejected = 0;
  other = 0;
  moveRejected(): void {
    this.rejected++;
  }
  selfState(): void {
    this.other++;
  }
  levelUp(): void {
    this.other++;
  }
  itemGained(): void {
    this.other++;
  }
  respawn(): void {
    this.other++;
  }
  handoff(): void {
    this.other++;
  }
}

export interface Sim {
  w: World;
  writer: CountingWriter;
  events: CountingEvents;
  ids: Uint32Array;
  heading: Float64Array;
  rng: Rng;
  now: number;
  step: () => void;
  inputs: () => void;
  tick: () => void;
}

/** `opts`: the World's options (content hooks for world-hooks.bench.ts). */
export function makeSim(players: number, def: ZoneDef, opts: WorldOptions = {}): Sim {
  const events = new CountingEvents();
  const w = new World(def, events, 0, opts);
  const writer = new CountingWriter(w);
  const rng = new Rng(2024);
  const ids = new Uint32Array(players);
  const heading = new Float64Array(players);
  for (let i = 0; i < players; i++) {
    const st = newPlayerState(`bot${i}`);
    st.x = rng.range(8, def.width - 8);
    st.y = rng.range(8, def.height - 8);
    const id = w.addPlayer(i + 1, st, 0);
    if (id <= 0) throw new Error(`addPlayer failed: ${id}`);
    ids[i] = id;
    heading[i] = rng.range(0, 2 * Math.PI);
  }
  // 90 % of max speed per 50 ms tick; portals would hand bots off, so bots turn back near the edges.
  const stepLen = def.movement.maxSpeed * 0.9 * 0.05;
  const sim: Sim = {
    w,
    writer,
    events,
    ids,
    heading,
    rng,
    now: 0,
    inputs() {
      const store = w.store;
      for (let i = 0; i < ids.length; i++) {
        const s = store.slotOf(ids[i]!);
        if (s < 0 || (store.flags[s]! & 1) !== 0) continue;
        if (rng.float() < 0.02) heading[i] = rng.range(0, 2 * Math.PI);
        let x = store.x[s]! + Math.cos(heading[i]!) * stepLen;
        let y = store.y[s]! + Math.sin(heading[i]!) * stepLen;
        if (x < 16 || x > def.width - 16 || y < 16 || y > def.height - 16) {
          heading[i] = Math.atan2(def.height / 2 - store.y[s]!, def.width / 2 - store.x[s]!);
          x = store.x[s]!;
          y = store.y[s]!;
        }
        if (w.applyMove(ids[i]!, 0, x, y, sim.now) !== 0) heading[i] = rng.range(0, 2 * Math.PI);
      }
    },
    tick() {
      w.tick(sim.now, writer);
    },
    step() {
      sim.now += 50;
      sim.inputs();
      sim.tick();
    },
  };
  return sim;
}
