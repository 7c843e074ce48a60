// What the dashboard's world viewer costs a zone (issue 16: under 2 % of its
// tick at 5,000 players). One zone of 5,000 random-walking players and the
// default 200 NPCs is ticked at 20 Hz of simulated time; in turn, in blocks
// of BLOCK ticks, the viewer is off, on at the rate the page polls (5
// snapshots a second: web/admin polls every 200 ms and the gateway shares one
// answer among viewers, admin/world-feed.ts CACHE_MS), and on at the most the
// zone ever answers (10 a second, zone/admin-view.ts MIN_SNAPSHOT_MS). A
// snapshot is what the worker does between ticks: AdminResponder.answer
// encodes every entity, then the answer is posted with its buffer
// transferred. Blocks alternate so all three see the same background load
// and the same world (the order turns each round); the garbage a snapshot leaves is paid for in the ticks
// that follow it, so tick times are compared too.
//
// Cost share = (viewer CPU ms per second of game time) / (tick CPU ms per
// second with the viewer off), CPU time not wall time (the machine is shared).
//
//   npm run bench -- admin-view --json

import { MessageChannel } from 'node:worker_threads';
import { report, median, percentile } from './harness.js';
import { makeSim } from './world-sim.js';
import { Kind, defaultZoneDefs } from '../../src/world/index.js';
import { AdminResponder } from '../../src/zone/admin-view.js';

const PLAYERS = Number(process.env.BENCH_PLAYERS ?? 5000);
const BLOCK = 20;
const BLOCKS_EACH = 9;
const TICK_MS = 50;
const modes = [
  { name: 'off', everyTicks: 0 },
  { name: 'on, 5 snapshots/s (the page)', everyTicks: 4 },
  { name: 'on, 10 snapshots/s (the zone cap)', everyTicks: 2 },
] as const;

const def = defaultZoneDefs(1)[0]!;
const sim = makeSim(PLAYERS, def);
const responder = new AdminResponder(() => sim.w, def.id, () => sim.now);
const { port1, port2 } = new MessageChannel();
let received = 0;
port2.on('message', () => received++);
port2.unref();

function cpuUs(fn: () => void): number {
  const c = process.cpuUsage();
  fn();
  const d = process.cpuUsage(c);
  return d.user + d.system;
}

interface Acc {
  tickCpuUs: number[];
  tickWallMs: number[];
  viewerCpuUs: number;
  encodeWallMs: number[];
  postWallMs: number[];
  snapshots: number;
  bytes: number;
  ticks: number;
}
const acc: Acc[] = modes.map(() => ({ tickCpuUs: [], tickWallMs: [], viewerCpuUs: 0, encodeWallMs: [], postWallMs: [], snapshots: 0, bytes: 0, ticks: 0 }));

let req = 1;
function snapshot(a: Acc): void {
  let out: ReturnType<AdminResponder['answer']> = null;
  let t1 = 0;
  const t0 = performance.now();
  a.viewerCpuUs += cpuUs(() => {
    out = responder.answer({ admin: 'snapshot', req: req++ });
    t1 = performance.now();
    if (out && out.answer.admin === 'snapshot' && out.answer.buf) {
      a.bytes = out.answer.buf.byteLength;
      port1.postMessage(out.answer, out.transfer);
    }
  });
  const t2 = performance.now();
  const o = out as ReturnType<AdminResponder['answer']>;
  if (!o || o.answer.admin !== 'snapshot' || !o.answer.buf) throw new Error(`the zone refused a snapshot ${TICK_MS} ms after the last (retry ${o && o.answer.admin === 'snapshot' ? o.answer.retryMs : '?'} ms)`);
  a.encodeWallMs.push(t1 - t0);
  a.postWallMs.push(t2 - t1);
  a.snapshots++;
}

// Warm-up: JIT, views converge, the encoder is compiled.
for (let i = 0; i < 100; i++) {
  sim.step();
  if (i % 2 === 0) snapshot(acc[2]!);
}
for (const a of acc) Object.assign(a, { viewerCpuUs: 0, encodeWallMs: [], postWallMs: [], snapshots: 0 });

for (let b = 0; b < BLOCKS_EACH; b++) {
  // The order turns each round, so no mode always follows another.
  for (let k = 0; k < modes.length; k++) {
    const m = (b + k) % modes.length;
    const a = acc[m]!;
    const every = modes[m]!.everyTicks;
    for (let i = 0; i < BLOCK; i++) {
      sim.now += TICK_MS;
      sim.inputs();
      const t0 = performance.now();
      a.tickCpuUs.push(cpuUs(sim.tick));
      a.tickWallMs.push(performance.now() - t0);
      a.ticks++;
      if (every > 0 && i % every === 0) snapshot(a);
    }
  }
}

const entities = sim.w.store.countByKind[Kind.player]! + sim.w.store.countByKind[Kind.npc]! + sim.w.store.countByKind[Kind.loot]!;
const off = acc[0]!;
const offTickCpuMeanMs = off.tickCpuUs.reduce((x, y) => x + y, 0) / off.ticks / 1000;
const enc = acc[2]!;
report({
  name: `admin view snapshot, ${PLAYERS} players + ${sim.w.store.countByKind[Kind.npc]} NPCs`,
  opsPerSec: 1000 / median(enc.encodeWallMs),
  encodeP50Ms: median(enc.encodeWallMs),
  encodeP99Ms: percentile(enc.encodeWallMs, 99),
  postP50Ms: median(enc.postWallMs),
  entities,
  bytes: enc.bytes,
  snapshots: enc.snapshots,
});
for (let m = 0; m < modes.length; m++) {
  const a = acc[m]!;
  const seconds = (a.ticks * TICK_MS) / 1000;
  const tickCpuMeanMs = a.tickCpuUs.reduce((x, y) => x + y, 0) / a.ticks / 1000;
  const viewerCpuMsPerSec = a.viewerCpuUs / 1000 / seconds;
  report({
    name: `zone tick ${PLAYERS} players, viewer ${modes[m]!.name}`,
    opsPerSec: 1000 / median(a.tickWallMs),
    tickP50Ms: median(a.tickWallMs),
    tickP99Ms: percentile(a.tickWallMs, 99),
    tickCpuMeanMs,
    tickCpuVsOff: tickCpuMeanMs / offTickCpuMeanMs,
    snapshotsPerSec: a.snapshots / seconds,
    viewerCpuMsPerSec,
    // Against the tick's own CPU per second with the viewer off (20 ticks a second).
    viewerShareOfTick: viewerCpuMsPerSec / (offTickCpuMeanMs * (1000 / TICK_MS)),
    ticks: a.ticks,
  });
}
if (received < 0) console.log(received);
port1.close();
