// reconnect-storm: N players connected, every socket dropped at the same
// instant (the bots kill their sockets, or the netfault proxy resets every
// link), everyone reconnecting. Measures how many come back on their own
// session (same session, same player entity, no second copy of the player),
// how long until the last one is back, the frames replayed, and the server's
// event-loop delay p99 during the storm. Passes when all are back on their own
// sessions within --storm-deadline seconds (default 10).

import { histogramQuantileBetween, round } from '../server/probe.js';
import { pMs, diffCounters } from '../swarm/counters.js';
import type { Scenario } from './types.js';

export const reconnectStorm: Scenario = {
  name: 'reconnect-storm',
  description: 'N players; all sockets dropped at once; measures who is back on their own session and when',
  async run(ctx) {
    const { clients, durationSec, stormDeadlineSec, dropVia } = ctx.opts;
    await ctx.ramp(clients);
    // Settle: everyone past their snapshot and playing before the cut.
    await ctx.sleep(Math.min(5, Math.max(1, durationSec / 4)) * 1000);
    await ctx.startWindow();
    await ctx.freshReports();
    const before = ctx.swarm.totals();
    const costBefore = ctx.swarm.botCost();
    const scrapeBefore = await ctx.probe.scrape();
    const loopBefore = scrapeBefore?.buckets('mmo_eventloop_delay_seconds') ?? [];
    // Sessions moved to another gateway thread's owner by their resume (net.gatewayThreads >= 2).
    const migratedBefore = scrapeBefore?.value('mmo_session_moves_total{kind="migrated"}') ?? 0;
    const t0 = ctx.now();
    let dropped: number;
    if (dropVia === 'proxy') {
      if (!ctx.proxy) throw new Error('reconnect-storm --drop-via proxy needs the proxy');
      dropped = await ctx.swarm.drop(false);
      const cut = ctx.proxy.cut('all', 'rst');
      ctx.log(`storm: the proxy reset ${cut} links (${dropped} bots were playing)`);
    } else {
      dropped = await ctx.swarm.drop(true);
      ctx.log(`storm: ${dropped} bots killed their sockets`);
    }
    // Wait for every dropped bot to be accounted for: back on its session, on a new one, or given up.
    const limit = Math.max(stormDeadlineSec * 3, 30);
    let settled = false;
    while (ctx.now() - t0 < limit) {
      await ctx.sleep(250);
      const d = diffCounters(ctx.swarm.totals(), before);
      if (d.backOwn + d.lostSessions + d.gaveUp >= dropped) {
        settled = true;
        break;
      }
    }
    await ctx.freshReports();
    const scrapeAfter = await ctx.probe.scrape();
    const loopAfter = scrapeAfter?.buckets('mmo_eventloop_delay_seconds') ?? [];
    const migrated = scrapeAfter ? (scrapeAfter.value('mmo_session_moves_total{kind="migrated"}') ?? 0) - migratedBefore : null;
    const stormSec = ctx.now() - t0;
    // The bots' own CPU over the storm (their threads' clocks, as of the reports just taken): how much of the time to get back is theirs.
    const costAfter = ctx.swarm.botCost();
    const stormBotCpuSec = (costAfter.main.cpuUs + costAfter.full.cpuUs - costBefore.main.cpuUs - costBefore.full.cpuUs) / 1e6;
    await ctx.swarm.audit();
    const d = diffCounters(ctx.swarm.totals(), before);
    const back = ctx.swarm.backTime;
    const p99Loop = histogramQuantileBetween(loopBefore, loopAfter, 0.99);
    Object.assign(ctx.extra, {
      dropped,
      dropVia,
      backOwn: d.backOwn,
      backOwnShare: dropped > 0 ? round(d.backOwn / dropped, 4) : null,
      lostSessions: d.lostSessions,
      gaveUp: d.gaveUp,
      duplicatePlayers: d.duplicateSelf,
      lastBackMs: back.totalCount > 0 ? round(back.maxValue / 1000, 1) : null,
      backP50Ms: pMs(back, 50),
      backP99Ms: pMs(back, 99),
      replayedFrames: d.replayed,
      seqGaps: d.seqGaps,
      resyncSnapshots: d.snapshots,
      sessionsMigrated: migrated,
      eventLoopP99MsDuringStorm: p99Loop === null ? null : p99Loop === Infinity ? 'over the top bucket' : round(p99Loop * 1000, 1),
      stormSettled: settled,
      stormObservedSec: round(stormSec, 1),
      stormBotCpuSeconds: round(stormBotCpuSec, 2),
      stormBotCores: stormSec > 0 ? round(stormBotCpuSec / stormSec, 3) : null,
    });
    // Play on for the rest of the duration: the resumed sessions must carry traffic.
    const rest = durationSec - (ctx.now() - t0);
    if (rest > 0) await ctx.sleep(rest * 1000);
    await ctx.endWindow();
  },
  check(r, o) {
    const f: string[] = [];
    const dropped = r.dropped as number;
    if (!(dropped >= o.clients)) f.push(`only ${dropped} of ${o.clients} bots were playing when the sockets were dropped`);
    if ((r.backOwn as number) < dropped) f.push(`${r.backOwn as number} of ${dropped} back on their own session (lost ${r.lostSessions as number}, gave up ${r.gaveUp as number})`);
    const last = r.lastBackMs as number | null;
    if (last === null || last > o.stormDeadlineSec * 1000) f.push(`last client back after ${last ?? '?'} ms (limit ${o.stormDeadlineSec * 1000} ms)`);
    if ((r.duplicatePlayers as number) > 0) f.push(`${r.duplicatePlayers as number} duplicate players seen after the storm`);
    if ((r.connected as number) < o.clients) f.push(`only ${r.connected as number} of ${o.clients} connected at the end`);
    if ((r.unexpectedDisconnects as number) > 0) f.push(`${r.unexpectedDisconnects as number} unexpected disconnects`);
    if ((r.errors as number) > 0) f.push(`${r.errors as number} errors (${JSON.stringify(r.errorCodes)})`);
    return f;
  },
};
