// What content hooks cost a zone tick: one 1024 x 1024 zone with 5,000
// players random-walking (a Move each per tick) among the reference game's
// 200 NPCs, ticked with
//   - no content hooks (the baseline, as world.bench.ts),
//   - an empty onTick (the fixed cost: a try, two clock reads, a call),
//   - an onTick that reads every slot's kind and HP (a light real hook),
// the three worlds stepped in turn within the same run so each sees the
// same background load; medians of tick wall time and mean CPU time. Then
// the cost of one empty hook call alone (ContentHost.tick, timed over
// millions of calls: the tick figures are far noisier than the hook), and
// heap bytes per tick with and without the hook (the same expected).
//
// `npm run bench -- world-hooks [--json]`

import { report, median, heapBytesPerOp, measureSync } from './harness.js';
import { defaultZoneDefs, type ContentHooks, type ZoneApi } from '../../src/world/index.js';
import { makeSim, type Sim } from './world-sim.js';

const PLAYERS = 5000;
const WARMUP_TICKS = 150;
const TICKS = 200;

interface HookSim {
  label: string;
  sim: Sim;
  /** Moves then one timed tick (wall and CPU). */
  step: () => void;
  tickMs: number[];
  cpuUs: number;
}

function makeHookSim(label: string, hooks: ContentHooks | undefined): HookSim {
  const def = defaultZoneDefs(1, { size: 1024 })[0]!;
  const sim = makeSim(PLAYERS, def, { hooks });
  const h: HookSim = {
    label,
    sim,
    tickMs: [],
    cpuUs: 0,
    step() {
      sim.now += 50;
      sim.inputs();
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      sim.tick();
      h.tickMs.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      h.cpuUs += c.user + c.system;
    },
  };
  return h;
}

let seen = 0;
const emptyTick: ContentHooks = { onTick() {} };
const readingTick: ContentHooks = {
  onTick(z: ZoneApi) {
    let n = 0;
    for (let s = 0, hw = z.highWater; s < hw; s++) if (z.kind[s] === 0 && z.hp[s]! > 0) n++;
    seen = n;
  },
};

const sims = [makeHookSim('no hooks', undefined), makeHookSim('empty onTick', emptyTick), makeHookSim('onTick reading every slot', readingTick)];
for (let i = 0; i < WARMUP_TICKS; i++) for (const s of sims) s.step();
for (const s of sims) {
  s.tickMs.length = 0;
  s.cpuUs = 0;
}
for (let i = 0; i < TICKS; i++) for (const s of sims) s.step();
const base = median(sims[0]!.tickMs);
const baseCpu = sims[0]!.cpuUs / 1000 / TICKS;
for (const s of sims) {
  const p50 = median(s.tickMs);
  const cpu = s.cpuUs / 1000 / TICKS;
  report({
    name: `world tick ${PLAYERS} players, ${s.label}`,
    opsPerSec: 1000 / p50,
    tickP50Ms: p50,
    tickCpuMeanMs: cpu,
    vsNoHooksP50Ms: p50 - base,
    vsNoHooksCpuMs: cpu - baseCpu,
    ticks: TICKS,
  });
}
if (seen < 0) console.log(seen);

// One empty hook call, alone: what the tick figures above cannot resolve.
const host = sims[1]!.sim.w.content!;
const call = measureSync(() => host.tick(0), { opsPerCall: 1, rounds: 7, roundMs: 300 });
report({ name: 'content hook call (empty onTick, timed and guarded)', opsPerSec: call.opsPerSec, nsPerCall: 1e9 / call.opsPerSec });
for (const i of [0, 1]) report({ name: `world heap per tick ${PLAYERS} players, ${sims[i]!.label}`, opsPerSec: 0, heapBytesPerTick: heapBytesPerOp(sims[i]!.step, 200), ticks: 200 });
