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
import { World, Rng, defaultZoneDefs, newPlayerState, type ContentHooks, type DeltaWriter, type WorldEvents, type ZoneApi } from '../../src/world/index.js';

const PLAYERS = 5000;
const WARMUP_TICKS = 150;
const TICKS = 200;

class SumWriter implements DeltaWriter {
  sum = 0;
  constructor(private readonly w: World) {}
  begin(_o: number, session: number): void {
    this.sum = (this.sum + session) | 0;
  }
  enter(s: number): void {
    const st = this.w.store;
    this.sum = (this.sum + st.id[s]! + st.qx[s]! + st.qy[s]! + st.hp[s]! + st.names[s]!.length) | 0;
  }
  update(s: number): void {
    const st = this.w.store;
    this.sum = (this.sum + st.id[s]! + st.qx[s]! + st.qy[s]! + st.hp[s]! + st.flags[s]!) | 0;
  }
  leave(id: number): void {
    this.sum = (this.sum + id) | 0;
  }
  damage(a: number, t: number, amount: number): void {
    this.sum = (this.sum + a + t + amount) | 0;
  }
  death(e: number, k: number): void {
    this.sum = (this.sum + e + k) | 0;
  }
  end(): void {}
}

const events: WorldEvents = { moveRejected() {}, selfState() {}, levelUp() {}, itemGained() {}, respawn() {}, handoff() {} };

interface Sim {
  label: string;
  w: World;
  writer: SumWriter;
  step: () => void;
  tickMs: number[];
  cpuUs: number;
}

function makeSim(label: string, hooks: ContentHooks | undefined): Sim {
  const def = defaultZoneDefs(1, { size: 1024 })[0]!;
  const w = new World(def, events, 0, { hooks });
  const writer = new SumWriter(w);
  const rng = new Rng(2024);
  const ids = new Uint32Array(PLAYERS);
  const heading = new Float64Array(PLAYERS);
  for (let i = 0; i < PLAYERS; i++) {
    const st = newPlayerState(`bot${i}`);
    st.x = rng.range(8, def.width - 8);
    st.y = rng.range(8, def.height - 8);
    const id = w.addPlayer(i + 1, st, 0);
    if (id <= 0) throw new Error(`addPlayer failed: ${id}`);
    ids[i] = id;
    heading[i] = rng.range(0, 2 * Math.PI);
  }
  const stepLen = def.movement.maxSpeed * 0.9 * 0.05;
  let now = 0;
  const sim: Sim = {
    label,
    w,
    writer,
    tickMs: [],
    cpuUs: 0,
    step() {
      now += 50;
      const store = w.store;
      for (let i = 0; i < PLAYERS; i++) {
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
        if (w.applyMove(ids[i]!, 0, x, y, now) !== 0) heading[i] = rng.range(0, 2 * Math.PI);
      }
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      w.tick(now, writer);
      sim.tickMs.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      sim.cpuUs += c.user + c.system;
    },
  };
  return sim;
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

const sims = [makeSim('no hooks', undefined), makeSim('empty onTick', emptyTick), makeSim('onTick reading every slot', readingTick)];
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
const host = sims[1]!.w.content!;
const call = measureSync(() => host.tick(0), { opsPerCall: 1, rounds: 7, roundMs: 300 });
report({ name: 'content hook call (empty onTick, timed and guarded)', opsPerSec: call.opsPerSec, nsPerCall: 1e9 / call.opsPerSec });
for (const i of [0, 1]) report({ name: `world heap per tick ${PLAYERS} players, ${sims[i]!.label}`, opsPerSec: 0, heapBytesPerTick: heapBytesPerOp(sims[i]!.step, 200), ticks: 200 });
