// soak: N players for a long time, some leaving and others joining all along.
// Passes with zero unexpected disconnects, server RSS growth under 5 % after
// warm-up, heap slope near zero over the second half, RTT p99 under 50 ms.

import { heapSlopeMbPerMin, slope } from '../runner.js';
import { round } from '../server/probe.js';
import type { Scenario, ScenarioContext } from './types.js';
import { commonChecks } from './checks.js';

export const soak: Scenario = {
  name: 'soak',
  description: 'N players for --duration seconds with --turnover percent of them replaced per minute; checks RSS growth, heap slope, RTT p99',
  async run(ctx) {
    const { clients, durationSec, turnoverPctPerMin } = ctx.opts;
    await ctx.ramp(clients);
    await ctx.startWindow();
    const start = ctx.now();
    // Warm-up: JIT, pools and buffers reach their working size. RSS growth is measured from its end.
    const warmupSec = Math.min(60, durationSec * 0.25);
    const everySec = 5;
    const perTurn = (clients * turnoverPctPerMin) / 100 / (60 / everySec);
    let owed = 0;
    let warmRss: number | null = null;
    let left = 0;
    const floors = heapFloors(ctx, start + durationSec / 2, Math.max(1, durationSec / 2 / 8));
    while (ctx.now() - start < durationSec) {
      await ctx.sleep(Math.min(everySec, durationSec - (ctx.now() - start)) * 1000);
      if (warmRss === null && ctx.now() - start >= warmupSec) {
        warmRss = await ctx.probe.sampleRssMb();
        // RTT, like RSS growth, is judged after warm-up (JIT, first snapshots, pools growing).
        ctx.swarm.resetWindow();
      }
      owed += perTurn;
      const n = Math.floor(owed);
      if (n > 0 && ctx.now() - start < durationSec - everySec) {
        owed -= n;
        left += n;
        ctx.swarm.leave(n);
        await ctx.swarm.spawn(n, ctx.opts.rampPerSec);
      }
    }
    // Let the last joiners finish their handshakes before the final count.
    await ctx.waitConnected(clients, 15_000);
    // Bots with a world model (SDK bots; with lean bots, the full ones) look for a second copy of themselves.
    await ctx.swarm.audit();
    await ctx.endWindow();
    const end = ctx.now();
    const floor = await floors.stop();
    const rssEnd = await ctx.probe.sampleRssMb();
    ctx.extra.warmupSec = round(warmupSec, 1);
    ctx.extra.rttAfterWarmup = warmRss !== null;
    ctx.extra.serverRssWarmMb = warmRss === null ? null : round(warmRss, 1);
    ctx.extra.rssGrowthPct = warmRss === null || rssEnd === null ? null : round(((rssEnd - warmRss) / warmRss) * 100, 2);
    // Heap slope over the second half: from the floors after forced full
    // collections when the server serves /debug/gc (a spawned server does),
    // else from the lower envelope of the sampled heap use.
    if (floor.length >= 3) {
      const s = slope(floor);
      ctx.extra.heapSlopeMbPerMin = s === null ? null : round(s * 60, 3);
      ctx.extra.heapSlopeFrom = 'floors after a full GC';
      ctx.extra.heapFloorsMb = floor.map(([, mb]) => round(mb, 2));
    } else {
      ctx.extra.heapSlopeMbPerMin = nullRound(heapSlopeMbPerMin(ctx.samples, start + (end - start) / 2, end));
      ctx.extra.heapSlopeFrom = 'lower envelope of sampled heap use';
    }
    ctx.extra.heapUsedEndMb = nullRound(ctx.samples.filter((s) => s.heapUsedMb !== null).at(-1)?.heapUsedMb ?? null);
    ctx.extra.replaced = left;
  },
  check(r, o) {
    const f = commonChecks(r, o);
    const growth = r.rssGrowthPct as number | null;
    if (growth === null) f.push('server RSS unknown (no pid and no /metrics)');
    else if (growth >= o.maxRssGrowthPct) f.push(`server RSS grew ${growth} % after warm-up (limit ${o.maxRssGrowthPct} %)`);
    const hs = r.heapSlopeMbPerMin as number | null;
    if (hs === null) f.push('heap slope unknown (no mmo_nodejs_heap_size_used_bytes in /metrics)');
    else if (hs > o.maxHeapSlopeMbPerMin) f.push(`heap grows ${hs} MB/min over the second half (limit ${o.maxHeapSlopeMbPerMin})`);
    const p99 = r.rttP99Ms as number | null;
    if (p99 === null) f.push('no RTT measured');
    else if (p99 >= o.maxRttP99Ms) f.push(`RTT p99 ${p99} ms (limit ${o.maxRttP99Ms} ms)`);
    return f;
  },
};

function nullRound(v: number | null): number | null {
  return v === null ? null : round(v, 3);
}

/**
 * From `fromSec` on, every `everySec`, the server's heap after a forced full
 * collection ([seconds, MB]); stop() takes a last one and returns them all.
 * Empty when the server does not serve /debug/gc (not spawned by the driver).
 */
function heapFloors(ctx: ScenarioContext, fromSec: number, everySec: number): { stop(): Promise<Array<[number, number]>> } {
  const floors: Array<[number, number]> = [];
  let served = true;
  let inFlight: Promise<void> = Promise.resolve();
  const take = () => {
    if (!served) return;
    inFlight = inFlight.then(async () => {
      const mb = await ctx.probe.gcHeapMb();
      // Not served at all: stop asking. A later miss (a timeout on a loaded server) only skips a point.
      if (mb === null) served = floors.length > 0;
      else floors.push([ctx.now(), mb]);
    });
  };
  let every: NodeJS.Timeout | undefined;
  const first = setTimeout(() => {
    take();
    every = setInterval(take, everySec * 1000);
  }, Math.max(0, (fromSec - ctx.now()) * 1000));
  return {
    async stop() {
      clearTimeout(first);
      clearInterval(every);
      take();
      await inFlight;
      return floors;
    },
  };
}
