// soak: N players for a long time, some leaving and others joining all along.
// Passes with zero unexpected disconnects, server RSS growth under 5 % after
// warm-up, heap slope near zero over the second half, RTT p99 under 50 ms.

import { heapSlopeMbPerMin } from '../runner.js';
import { round } from '../server/probe.js';
import type { Scenario } from './types.js';
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
    await ctx.endWindow();
    const end = ctx.now();
    const rssEnd = await ctx.probe.sampleRssMb();
    ctx.extra.warmupSec = round(warmupSec, 1);
    ctx.extra.rttAfterWarmup = warmRss !== null;
    ctx.extra.serverRssWarmMb = warmRss === null ? null : round(warmRss, 1);
    ctx.extra.rssGrowthPct = warmRss === null || rssEnd === null ? null : round(((rssEnd - warmRss) / warmRss) * 100, 2);
    ctx.extra.heapSlopeMbPerMin = nullRound(heapSlopeMbPerMin(ctx.samples, start + (end - start) / 2, end));
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
