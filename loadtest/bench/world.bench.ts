// World tick cost: one zone with N players random-walking (a Move each per
// tick, as a 20 Hz client would send) among the default zone's 200 NPCs,
// deltas emitted into a counting writer that reads every field an encoder
// would. Reports tick p50/p99, the input cost, what the deltas carry, heap
// bytes allocated per tick in steady state, and checkpoint cost.
//
// Baselines, same run: the AOI candidate scan done by brute force (every
// observer tests every entity), i.e. what the grid saves; the tick with the
// view recomputed every tick instead of every other; and the 50 ms budget of
// a 20 Hz tick.

import { report, median, percentile, heapBytesPerOp } from './harness.js';
import { World, Kind, defaultZoneDefs } from '../../src/world/index.js';
import { makeSim, type Sim } from './world-sim.js';

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

interface Measured {
  sim: Sim;
  label: string;
  tickMs: number[];
  inputMs: number[];
  tickCpuUs: number;
  counts: { observers: number; updates: number; enters: number; leaves: number; damages: number; rejected: number };
}

function measure(m: Measured): void {
  const sim = m.sim;
  const wr = sim.writer;
  const rejectedBefore = sim.events.rejected;
  const before = { observers: wr.observers, updates: wr.updates, enters: wr.enters, leaves: wr.leaves, damages: wr.damages };
  sim.now += 50;
  const t0 = performance.now();
  sim.inputs();
  const t1 = performance.now();
  // CPU time as well as wall time: on a shared machine the wall-clock figure
  // includes time the scheduler gave to other processes.
  const c1 = process.cpuUsage();
  sim.tick();
  const c2 = process.cpuUsage(c1);
  const t2 = performance.now();
  m.tickCpuUs += c2.user + c2.system;
  m.inputMs.push(t1 - t0);
  m.tickMs.push(t2 - t1);
  m.counts.observers += wr.observers - before.observers;
  m.counts.updates += wr.updates - before.updates;
  m.counts.enters += wr.enters - before.enters;
  m.counts.leaves += wr.leaves - before.leaves;
  m.counts.damages += wr.damages - before.damages;
  m.counts.rejected += sim.events.rejected - rejectedBefore;
}

/**
 * Runs the given configurations tick by tick in turn (so each sees the same
 * background load), then reports each.
 */
function run(players: number, configs: Array<{ refreshTicks: number; size: number; updateTicks?: number; playerShare?: number }>): Measured[] {
  const ms: Measured[] = configs.map(({ refreshTicks, size, updateTicks = 1, playerShare }) => {
    const def = defaultZoneDefs(1, { size })[0]!;
    def.aoi.refreshTicks = refreshTicks;
    def.aoi.updateTicks = updateTicks;
    if (playerShare !== undefined) def.aoi.playerShare = playerShare;
    return {
      sim: makeSim(players, def),
      label: `${size}x${size}, AOI refresh every ${refreshTicks}${updateTicks > 1 ? `, updates every ${updateTicks} ticks` : ''}${playerShare !== undefined ? `, playerShare ${playerShare}` : ''}`,
      tickMs: [],
      inputMs: [],
      tickCpuUs: 0,
      counts: { observers: 0, updates: 0, enters: 0, leaves: 0, damages: 0, rejected: 0 },
    };
  });
  // JIT warm-up and views converge. Rare paths (first respawn, first loot
  // expiry) still deoptimize now and then for a few thousand ticks: that is
  // part of what p99 shows.
  for (let i = 0; i < 200; i++) for (const m of ms) m.sim.step();
  const ticks = players >= 5000 ? 200 : 400;
  for (let i = 0; i < ticks; i++) for (const m of ms) measure(m);
  for (const m of ms) {
    const p50 = median(m.tickMs);
    const c = m.counts;
    report({
      name: `world tick ${players} players + ${m.sim.w.store.countByKind[Kind.npc]} NPCs, ${m.label}`,
      opsPerSec: 1000 / p50,
      tickP50Ms: p50,
      tickP99Ms: percentile(m.tickMs, 99),
      tickCpuMeanMs: m.tickCpuUs / 1000 / ticks,
      inputP50Ms: median(m.inputMs),
      budgetUsedP50: (p50 + median(m.inputMs)) / 50,
      observersPerTick: c.observers / ticks,
      updatesPerTick: c.updates / ticks,
      entersPerTick: c.enters / ticks,
      leavesPerTick: c.leaves / ticks,
      damagesPerTick: c.damages / ticks,
      rejectedMovesPerTick: c.rejected / ticks,
    });
  }
  return ms;
}

function heapAndCheckpoint(m: Measured, heapOps: number): void {
  const sim = m.sim;
  const players = sim.ids.length;
  // Long enough that one-time JIT and feedback allocations mostly amortize away.
  report({ name: `world heap per tick ${players} players, ${m.label}`, opsPerSec: 0, heapBytesPerTick: heapBytesPerOp(sim.step, heapOps), ticks: heapOps });
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
    World.restore(sim.w.def, copy, sim.events, sim.now);
    restore.push(performance.now() - t0);
  }
  report({ name: `checkpoint ${players} players + ${sim.w.store.countByKind[Kind.npc]} NPCs`, opsPerSec: 1000 / median(times), writeMs: median(times), restoreMs: median(restore), bytes, bytesPerEntity: bytes / sim.w.store.count });
}

function baseline(m: Measured): void {
  const players = m.sim.ids.length;
  const brute = bruteForceAoiMs(m.sim.w, players >= 5000 ? 3 : 10);
  const full = median(m.tickMs);
  report({ name: `baseline: brute-force AOI candidate scan, ${players} players`, opsPerSec: 1000 / brute, scanMs: brute, fullTickWithGridMs: full, gridSpeedup: brute / full });
}

// The default zone is 1024 x 1024: 5,000 players there is a crowd in which
// every player sees the 64-entity cap. 2048 x 2048 is a more usual density.
const small = run(1000, [
  { refreshTicks: 2, size: 1024 },
  { refreshTicks: 1, size: 1024 },
]);
baseline(small[1]!);
heapAndCheckpoint(small[0]!, 1500);
const big = run(5000, [
  { refreshTicks: 2, size: 1024 },
  { refreshTicks: 1, size: 1024 },
  { refreshTicks: 2, size: 2048 },
  // What world.aoi.updateTicks=4 (5 updates a second) saves the zone in the same crowd.
  { refreshTicks: 2, size: 1024, updateTicks: 4 },
  // Baseline for players-first (default world.aoi.playerShare 0.75): plain nearest-first, same crowd, same run.
  { refreshTicks: 1, size: 1024, playerShare: 0 },
]);
baseline(big[1]!);
heapAndCheckpoint(big[0]!, 300);
