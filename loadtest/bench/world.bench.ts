// World tick cost: one zone with N players random-walking (a Move each per
// tick, as a 20 Hz client would send) among the default zone's 200 NPCs,
// deltas emitted into a counting writer that reads every field an encoder
// would. Reports tick p50/p99, the input cost, what the deltas carry, heap
// bytes allocated per tick in steady state, and checkpoint cost.
//
// Baseline, same run: the same views computed by brute force (every observer
// scans every entity), i.e. what the grid saves; and the 50 ms budget of a
// 20 Hz tick.

import { report, median, percentile, heapBytesPerOp } from './harness.js';
import { World, Rng, Kind, defaultZoneDefs, newPlayerState, type DeltaWriter, type WorldEvents, type ZoneDef } from '../../src/world/index.js';

class CountingWriter implements DeltaWriter {
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

class CountingEvents implements WorldEvents {
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

interface Sim {
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

function makeSim(players: number, def: ZoneDef): Sim {
  const events = new CountingEvents();
  const w = new World(def, events, 0);
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

/** The same views by scanning every entity per observer (no grid): the baseline. Returns ms per tick. */
function bruteForceAoiMs(w: World, rounds: number): number {
  const st = w.store;
  const r = w.def.aoi.radius + w.def.aoi.hysteresis;
  const r2 = r * r;
  const times: number[] = [];
  let sink = 0;
  for (let k = 0; k < rounds; k++) {
    const t0 = performance.now();
    for (let o = 0; o < st.highWater; o++) {
      if (st.kind[o] !== Kind.player) continue;
      const ox = st.x[o]!;
      const oy = st.y[o]!;
      for (let e = 0; e < st.highWater; e++) {
        if (st.kind[e] === Kind.free) continue;
        const dx = st.x[e]! - ox;
        const dy = st.y[e]! - oy;
        if (dx * dx + dy * dy <= r2) sink++;
      }
    }
    times.push(performance.now() - t0);
  }
  if (sink < 0) console.log(sink);
  return median(times);
}

function run(players: number, refreshTicks: number, measureHeap: boolean, size = 1024): void {
  const def = defaultZoneDefs(1, { size })[0]!;
  def.aoi.refreshTicks = refreshTicks;
  const sim = makeSim(players, def);
  for (let i = 0; i < 100; i++) sim.step(); // JIT warm-up, views converge
  const ticks = players >= 5000 ? 200 : 400;
  const tickMs: number[] = [];
  const inputMs: number[] = [];
  // CPU time as well as wall time: on a shared machine the wall-clock median
  // includes time the scheduler gave to other processes.
  let tickCpuUs = 0;
  sim.writer.reset();
  const rejectedBefore = sim.events.rejected;
  for (let i = 0; i < ticks; i++) {
    sim.now += 50;
    const t0 = performance.now();
    sim.inputs();
    const t1 = performance.now();
    const c1 = process.cpuUsage();
    sim.tick();
    const c2 = process.cpuUsage(c1);
    const t2 = performance.now();
    tickCpuUs += c2.user + c2.system;
    inputMs.push(t1 - t0);
    tickMs.push(t2 - t1);
  }
  const wr = sim.writer;
  const p50 = median(tickMs);
  const per = { observers: wr.observers, updates: wr.updates, enters: wr.enters, leaves: wr.leaves, damages: wr.damages };
  const rejected = sim.events.rejected - rejectedBefore;
  // Long enough that one-time JIT and feedback allocations amortize away.
  const heap = measureHeap ? heapBytesPerOp(sim.step, players >= 5000 ? 300 : 1500) : undefined;
  const npcs = sim.w.store.countByKind[Kind.npc]!;
  report({
    name: `world tick ${players} players + ${npcs} NPCs in ${size}x${size}, AOI refresh every ${refreshTicks}`,
    opsPerSec: 1000 / p50,
    tickP50Ms: p50,
    tickP99Ms: percentile(tickMs, 99),
    tickCpuMeanMs: tickCpuUs / 1000 / ticks,
    inputP50Ms: median(inputMs),
    budgetUsedP50: (p50 + median(inputMs)) / 50,
    observersPerTick: per.observers / ticks,
    updatesPerTick: per.updates / ticks,
    entersPerTick: per.enters / ticks,
    leavesPerTick: per.leaves / ticks,
    damagesPerTick: per.damages / ticks,
    rejectedMovesPerTick: rejected / ticks,
    ...(heap === undefined ? {} : { heapBytesPerTick: heap }),
  });

  if (size !== 1024) return;
  if (refreshTicks === 1) {
    // Baseline: just finding candidates by brute force, without selection or diffing.
    const brute = bruteForceAoiMs(sim.w, players >= 5000 ? 3 : 10);
    report({ name: `baseline: brute-force AOI scan ${players} players`, opsPerSec: 1000 / brute, scanMs: brute, fullTickWithGridMs: p50, gridSpeedup: brute / p50 });
  } else {
    const buf = new Uint8Array(sim.w.checkpointBound());
    const times: number[] = [];
    let bytes = 0;
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now();
      bytes = sim.w.checkpointInto(buf, sim.now);
      times.push(performance.now() - t0);
    }
    const restore: number[] = [];
    const copy = buf.slice(0, bytes);
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      World.restore(def, copy, sim.events, sim.now);
      restore.push(performance.now() - t0);
    }
    report({ name: `checkpoint ${players} players + ${npcs} NPCs`, opsPerSec: 1000 / median(times), writeMs: median(times), restoreMs: median(restore), bytes, bytesPerEntity: bytes / sim.w.store.count });
  }
}

// The default zone is 1024 x 1024: 5,000 players there is a crowd in which
// every player sees the 64-entity cap. 2048 x 2048 is a more usual density.
run(1000, 2, true);
run(1000, 1, false);
run(5000, 2, true);
run(5000, 1, false);
run(5000, 2, false, 2048);
