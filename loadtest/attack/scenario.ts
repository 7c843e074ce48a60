// attack: --clients honest SDK bots play while the --attacks run against the
// same server for --duration seconds. Phases: before (honest play only),
// during (the attacks), after (the attacks stopped; RTT in 2 s slices until it
// recovers). Pass criteria (issue 15): zero unexpected disconnects of honest
// players, RTT p99 during under --max-attack-rtt-p99 (250 ms) and back under
// --max-rtt-p99 (50 ms) within --recover-within (10 s) of the end, nothing the
// database was given lost, server RSS growth under --max-rss-growth-mb
// (200 MB), the server alive throughout, and every attacker socket refused or
// closed by the server with a code.

import { histogramQuantileBetween, round, type MetricsText } from '../server/probe.js';
import { pMs } from '../swarm/counters.js';
import { commonChecks } from '../scenarios/checks.js';
import type { Scenario, ScenarioContext } from '../scenarios/types.js';
import { ALL_ATTACKS, runAttacks, type AttackReport } from './index.js';

const SLICE_SEC = 2;

interface PhaseRtt {
  p50: number | null;
  p99: number | null;
  samples: number;
}

async function takeRtt(ctx: ScenarioContext): Promise<PhaseRtt> {
  await ctx.freshReports();
  const h = ctx.swarm.rttWindow;
  const r = { p50: nr(pMs(h, 50)), p99: nr(pMs(h, 99)), samples: h.totalCount };
  ctx.swarm.resetWindow();
  return r;
}

function nr(v: number | null): number | null {
  return v === null ? null : round(v, 2);
}

/** Counter deltas of one labelled metric between two scrapes. */
function labelledDelta(a: MetricsText | null, b: MetricsText | null, name: string): Record<string, number> {
  const before = a?.labelled(name) ?? {};
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(b?.labelled(name) ?? {})) {
    const d = v - (before[k] ?? 0);
    if (d !== 0) out[k.replace(/^\{|\}$/g, '')] = round(d, 0);
  }
  return out;
}

function valueDelta(a: MetricsText | null, b: MetricsText | null, name: string): number | null {
  const x = a?.value(name);
  const y = b?.value(name);
  return x === undefined || y === undefined ? null : y - x;
}

export const attack: Scenario = {
  name: 'attack',
  description: 'honest players play while --attacks (default all) run for --duration seconds; checks what the players felt and that every attacker was refused or closed',
  async run(ctx) {
    const o = ctx.opts;
    const names = o.attacks ?? [...ALL_ATTACKS];
    const u = new URL(ctx.swarm.opts.url);
    await ctx.ramp(o.clients);
    await ctx.startWindow();
    const beforeSec = Math.min(10, Math.max(4, o.durationSec / 6));
    ctx.swarm.resetWindow();
    await ctx.sleep(beforeSec * 1000);
    const rttBefore = await takeRtt(ctx);
    const c0 = await ctx.freshReports().then(() => ctx.swarm.totals());
    const m0 = await ctx.probe.scrape();
    const cpu0 = await ctx.probe.sampleCpu();
    const rss0 = await ctx.probe.sampleRssMb();
    let rssMax = rss0 ?? 0;
    let alive = true;
    let maxDegrade = 0;
    const watch = setInterval(() => {
      void (async () => {
        const r = await ctx.probe.sampleRssMb();
        if (r !== null && r > rssMax) rssMax = r;
        const m = await ctx.probe.scrape();
        if (m === null && ctx.probe.rssMb() === null) alive = false;
        const lvl = m?.value('mmo_degrade_level');
        if (lvl !== undefined && lvl > maxDegrade) maxDegrade = lvl;
      })();
    }, 1000);

    ctx.log(`attack: ${names.join(', ')} for ${o.durationSec} s at intensity ${o.attackIntensity ?? 1}`);
    const deadline = performance.now() + o.durationSec * 1000;
    let reports: AttackReport[] = [];
    const running = runAttacks(names, {
      host: u.hostname === 'localhost' ? '127.0.0.1' : u.hostname,
      port: Number(u.port),
      wsPath: u.pathname,
      deadline,
      intensity: o.attackIntensity ?? 1,
      seed: o.seed,
      log: ctx.log,
    }).then((r) => (reports = r));
    await ctx.sleep(deadline - performance.now());
    const rttDuring = await takeRtt(ctx);
    const m1 = await ctx.probe.scrape();
    const cpu1 = await ctx.probe.sampleCpu();
    const c1 = ctx.swarm.totals();

    // After: 2 s slices until the attackers' sockets are all accounted for and at least recoverWithin + 10 s passed.
    const recoverWithin = o.recoverWithinSec ?? 10;
    const slices: Array<number | null> = [];
    const afterStart = ctx.now();
    let done = false;
    void running.then(() => (done = true));
    while (!done || ctx.now() - afterStart < recoverWithin + 10) {
      await ctx.sleep(SLICE_SEC * 1000);
      slices.push((await takeRtt(ctx)).p99);
      if (ctx.now() - afterStart > 120) break;
    }
    await running;
    clearInterval(watch);
    // The slice from which every later slice is under the limit: how long RTT took to recover.
    let from = slices.length;
    for (let i = slices.length - 1; i >= 0; i--) {
      const p = slices[i];
      if (p !== null && p !== undefined && p < o.maxRttP99Ms) from = i;
      else break;
    }
    const m2 = await ctx.probe.scrape();
    const rssEnd = await ctx.probe.sampleRssMb();
    await ctx.endWindow();

    const dc = (k: keyof typeof c1) => c1[k] - c0[k];
    const loopDuring = histogramQuantileBetween(m0?.buckets('mmo_eventloop_delay_seconds') ?? [], m1?.buckets('mmo_eventloop_delay_seconds') ?? [], 0.99);
    const secs = (cpu1.atMs - cpu0.atMs) / 1000;
    const e = ctx.extra;
    e.attacks = names;
    e.attackIntensity = o.attackIntensity ?? 1;
    e.attackSec = o.durationSec;
    e.rttBefore = rttBefore;
    e.rttDuring = rttDuring;
    e.rttAfterSlicesP99 = slices;
    e.rttRecoveredAfterSec = from < slices.length ? from * SLICE_SEC : null;
    e.movesRefusedDuring = dc('moveRejectedIllegal') + dc('moveRejectedState');
    e.moveRejectsDuring = { illegal: dc('moveRejectedIllegal'), state: dc('moveRejectedState'), obstacle: dc('moveRejectedObstacle') };
    e.honestServerErrorsDuring = dc('serverErrors');
    e.unexpectedDuring = dc('unexpectedDisconnects');
    e.serverAlive = alive && m2 !== null;
    e.serverRssBeforeMb = rss0 === null ? null : round(rss0, 1);
    e.serverRssMaxMb = round(rssMax, 1);
    e.serverRssAfterMb = rssEnd === null ? null : round(rssEnd, 1);
    e.rssGrowthMb = rss0 === null ? null : round(rssMax - rss0, 1);
    e.serverEventLoopP99DuringMs = loopDuring === null ? null : loopDuring === Infinity ? 'over the top bucket' : round(loopDuring * 1000, 2);
    e.serverCoresDuring = cpu0.cpuSeconds !== null && cpu1.cpuSeconds !== null && secs > 0 ? round((cpu1.cpuSeconds - cpu0.cpuSeconds) / secs, 3) : null;
    e.degradeLevelMax = maxDegrade;
    e.degradeSteps = labelledDelta(m0, m2, 'mmo_degrade_steps_total');
    e.admission = labelledDelta(m0, m2, 'mmo_admission_total');
    e.protocolRejected = labelledDelta(m0, m2, 'mmo_protocol_rejected_total');
    e.wsCloses = labelledDelta(m0, m2, 'mmo_ws_closes_total');
    e.authRequests = labelledDelta(m0, m2, 'mmo_auth_requests_total');
    e.persistFailures = valueDelta(m0, m2, 'mmo_persist_failures_total');
    e.persistInvalid = valueDelta(m0, m2, 'mmo_persist_invalid_total');
    e.persistDbUp = m2?.value('mmo_persist_db_up') ?? null;
    e.attackers = Object.fromEntries(reports.map((r) => [r.name, { sockets: r.sockets, outcomes: r.outcomes, sent: r.sent }]));
    e.attackerSocketsLeftOpen = reports.reduce((n, r) => n + (r.outcomes['open-at-end'] ?? 0), 0);
  },
  check(r, o) {
    const f = commonChecks(r, o);
    const during = r.rttDuring as PhaseRtt | undefined;
    const maxDuring = o.maxAttackRttP99Ms ?? 250;
    if (!during || during.p99 === null) f.push('no RTT measured during the attack');
    else if (during.p99 >= maxDuring) f.push(`honest RTT p99 during the attack ${during.p99} ms >= ${maxDuring} ms`);
    const rec = r.rttRecoveredAfterSec as number | null;
    const within = o.recoverWithinSec ?? 10;
    if (rec === null || rec > within) f.push(`honest RTT p99 not back under ${o.maxRttP99Ms} ms within ${within} s of the attack's end (slices ${JSON.stringify(r.rttAfterSlicesP99)})`);
    const growth = r.rssGrowthMb as number | null;
    const maxGrowth = o.maxRssGrowthMb ?? 200;
    if (growth !== null && growth >= maxGrowth) f.push(`server RSS grew ${growth} MB >= ${maxGrowth} MB`);
    if (r.serverAlive !== true) f.push('the server stopped answering');
    if ((r.attackerSocketsLeftOpen as number) > 0) f.push(`${r.attackerSocketsLeftOpen as number} attacker sockets were never refused or closed by the server`);
    if ((r.persistFailures as number | null) || (r.persistInvalid as number | null)) f.push(`database writes failed (${r.persistFailures as number}) or were dropped (${r.persistInvalid as number})`);
    if (r.persistDbUp === 0) f.push('the database was down at the end');
    const rf = (r.attackers as Record<string, { sent: Record<string, number> }>)['resume-forgery'];
    if (rf && (rf.sent.ownerRefused ?? 0) > 0) f.push(`${rf.sent.ownerRefused} owners could not resume their session after a forgery attempt`);
    const ab = (r.attackers as Record<string, { sent: Record<string, number> }>)['auth-bruteforce'];
    if (ab && (ab.sent.cracked ?? 0) > 0) f.push('a guessed password was accepted');
    if (ab && (ab.sent.ownerRefused ?? 0) > 0) f.push("the guessed account's owner could not log in during the attack");
    return f;
  },
};
