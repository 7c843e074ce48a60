// Runs one scenario end to end: (spawns the server,) starts the bot swarm,
// runs the scenario, measures, stops everything, and returns the result line
// with the scenario's verdict. The CLI (run.ts), the soak test and
// bench:compare all call runLoadtest().

import { DEFAULT_BEHAVIOUR } from './swarm/bot.js';
import { errorCount, pMs, diffCounters, type Counters } from './swarm/counters.js';
import { Swarm, isLoopbackUrl, loopbackAddresses, type BotCost } from './swarm/swarm.js';
import { ServerProbe, threadBreakdown, round, histogramQuantileBetween, type CpuSample } from './server/probe.js';
import { spawnServer, type SpawnedServer } from './server/spawn.js';
import { NetFaultProxy } from './netfault/proxy.js';
import { getScenario } from './scenarios/index.js';
import type { LoadtestOptions, ScenarioContext, ServerSample } from './scenarios/types.js';
import type { BotKind } from './swarm/protocol.js';

export type { LoadtestOptions } from './scenarios/types.js';

export const DEFAULT_OPTIONS: LoadtestOptions = {
  scenario: 'steady',
  clients: 100,
  durationSec: 30,
  spawnServer: false,
  rampPerSec: 500,
  workers: 2,
  probeBots: 10,
  addresses: 128,
  serverConfig: {},
  serverArgs: [],
  progressMs: 5000,
  sampleMs: 2000,
  seed: 1,
  behaviour: {},
  viaProxy: false,
  dropVia: 'client',
  stormDeadlineSec: 10,
  turnoverPctPerMin: 5,
  churnPerSec: 0,
  maxRttP99Ms: 50,
  maxRssGrowthPct: 5,
  maxHeapSlopeMbPerMin: 1,
  log: (line) => process.stderr.write(`${line}\n`),
};

export interface LoadtestResult {
  scenario: string;
  clients: number;
  connected: number;
  unexpectedDisconnects: number;
  errors: number;
  msgsInPerSec: number;
  msgsOutPerSec: number;
  serverCpuSeconds: number | null;
  msgsPerServerCpuSecond: number | null;
  rttP50Ms: number | null;
  rttP99Ms: number | null;
  rttP999Ms: number | null;
  serverRssStartMb: number | null;
  serverRssEndMb: number | null;
  heapSlopeMbPerMin?: number | null;
  pass: boolean;
  failures: string[];
  [key: string]: unknown;
}

/** Above this many clients the bots default to the lean engine (the SDK bots cost ~31 us per message). */
export const LEAN_ABOVE_CLIENTS = 2000;
/**
 * The attack scenario switches sooner: its honest bots share the cores with
 * the server and the attackers, and 1,000 SDK bots alone took 1.05 of this
 * machine's 2 cores, so their RTT measured the CPU queue, not the server.
 */
export const ATTACK_LEAN_ABOVE_CLIENTS = 500;

/** The bots a run uses, and how many full SDK bots go beside lean ones. */
export function resolveBots(o: Pick<LoadtestOptions, 'clients' | 'bots' | 'fullBots'> & { scenario?: string }): { bots: BotKind; fullBots: number } {
  const leanAbove = o.scenario === 'attack' ? ATTACK_LEAN_ABOVE_CLIENTS : LEAN_ABOVE_CLIENTS;
  const bots = o.bots ?? (o.clients > leanAbove ? 'lean' : 'sdk');
  if (bots !== 'lean') return { bots, fullBots: 0 };
  const want = o.fullBots ?? Math.min(50, Math.ceil(o.clients / 100));
  return { bots, fullBots: Math.max(0, Math.min(want, Math.floor(o.clients / 2))) };
}

interface WindowMark {
  atSec: number;
  /** Bot threads' own CPU and messages (the main kind's, and the full SDK bots'). */
  cost: ReturnType<Swarm['botCost']>;
  /** This process's CPU (driver and bot threads), us. */
  botCpuUs: number;
  /** The server's event-loop delay histogram buckets (from /metrics). */
  loop: Array<[number, number]>;
  counters: Counters;
  cpu: CpuSample;
}

/** Least-squares slope of y over x; null with fewer than 2 points. */
export function slope(points: ReadonlyArray<readonly [number, number]>): number | null {
  const n = points.length;
  if (n < 2) return null;
  let sx = 0;
  let sy = 0;
  for (const [x, y] of points) {
    sx += x;
    sy += y;
  }
  const mx = sx / n;
  const my = sy / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) * (x - mx);
  }
  return den === 0 ? null : num / den;
}

/**
 * Heap growth in MB per minute over [from, to] s: the slope of the lower
 * envelope (the minimum of each of `bins` equal slices), because heap used
 * saw-tooths between collections and what must not grow is the floor.
 */
export function heapSlopeMbPerMin(samples: readonly ServerSample[], from: number, to: number, bins = 6): number | null {
  const pts = samples.filter((s) => s.t >= from && s.t <= to && s.heapUsedMb !== null);
  if (pts.length < 3) return null;
  const width = (to - from) / bins;
  const env: Array<[number, number]> = [];
  for (let b = 0; b < bins; b++) {
    const inBin = pts.filter((s) => s.t >= from + b * width && s.t < from + (b + 1) * width + (b === bins - 1 ? 1e-9 : 0));
    if (inBin.length === 0) continue;
    const low = inBin.reduce((m, s) => (s.heapUsedMb! < m.heapUsedMb! ? s : m));
    env.push([low.t, low.heapUsedMb!]);
  }
  const s = slope(env.length >= 3 ? env : pts.map((p) => [p.t, p.heapUsedMb!] as [number, number]));
  return s === null ? null : s * 60;
}

export async function runLoadtest(partial: Partial<LoadtestOptions>): Promise<LoadtestResult> {
  const opts: LoadtestOptions = { ...DEFAULT_OPTIONS, ...partial };
  const { bots, fullBots } = resolveBots(opts);
  opts.bots = bots;
  opts.fullBots = fullBots;
  const scenario = getScenario(opts.scenario);
  const log = opts.log;
  const t0 = performance.now();
  const now = () => (performance.now() - t0) / 1000;

  let server: SpawnedServer | null = null;
  let proxy: NetFaultProxy | null = null;
  let swarm: Swarm | null = null;
  const timers: NodeJS.Timeout[] = [];
  try {
    let url = opts.url;
    let pid = opts.serverPid;
    if (opts.spawnServer) {
      server = opts.peerScript
        ? await spawnServer({ script: opts.peerScript, args: opts.peerArgs ?? [] })
        : // /debug/gc lets the soak read the heap's floor after a full collection.
          await spawnServer({ config: { 'debug.gcEndpoint': true, ...opts.serverConfig }, args: opts.serverArgs, nodeArgs: ['--expose-gc'] });
      // Colyseus serves matchmaking and rooms at the root; ours and the bare peer at /ws.
      url = opts.bots === 'colyseus' || opts.bots === 'lean-colyseus' ? `ws://127.0.0.1:${server.port}` : server.wsUrl;
      pid = server.pid;
      log(`server pid ${server.pid} listening on ${server.port}`);
    }
    if (!url) throw Object.assign(new Error('no server: give --url or --spawn-server'), { code: 'MMO_ERR_LOADTEST_OPTIONS' });
    const httpUrl = url.replace(/^ws/, 'http').replace(/^(https?:\/\/[^/]+).*$/, '$1');
    const probe = new ServerProbe({ ...(pid !== undefined ? { pid } : {}), httpUrl });
    const loopback = isLoopbackUrl(url);
    if (opts.viaProxy || opts.dropVia === 'proxy') {
      if (!loopback) throw Object.assign(new Error('the netfault proxy only works on 127.0.0.0/8'), { code: 'MMO_ERR_LOADTEST_OPTIONS' });
      const u = new URL(url);
      proxy = await NetFaultProxy.start({
        target: { host: u.hostname === 'localhost' ? '127.0.0.1' : u.hostname, port: Number(u.port) },
        sourceAddress: 'mirror',
        maxConnections: opts.clients * 2 + 100,
        lifetimeMs: (opts.durationSec + 600) * 1000,
        unref: true,
      });
      url = `ws://127.0.0.1:${proxy.port}${u.pathname}${u.search}`;
      log(`bots go through the netfault proxy on ${proxy.port}`);
    }

    const serverRssStartMb = await probe.sampleRssMb();
    swarm = await Swarm.start({
      url,
      kind: bots,
      fullBots,
      workers: opts.workers,
      probeBots: Math.min(opts.probeBots, Math.floor(opts.clients / 2)),
      addresses: loopback ? loopbackAddresses(opts.addresses) : [],
      behaviour: scaledBehaviour(opts),
      seed: opts.seed,
    });
    const sw = swarm;
    sw.on('workerError', (e: Error) => log(`bot worker error: ${e.stack ?? e.message}`));

    // Server sampling (heap from /metrics, RSS from /proc or /metrics).
    const samples: ServerSample[] = [];
    const sample = async () => {
      const m = await probe.scrape();
      const heap = m?.value('mmo_nodejs_heap_size_used_bytes');
      samples.push({ t: now(), heapUsedMb: heap === undefined ? null : heap / (1024 * 1024), rssMb: await probe.sampleRssMb() });
    };
    void sample();
    timers.push(setInterval(() => void sample(), opts.sampleMs));

    // Progress lines.
    let lastProgress = { t: now(), c: sw.totals() };
    if (opts.progressMs > 0) {
      timers.push(
        setInterval(() => {
          const t = now();
          const c = sw.totals();
          const dt = Math.max(0.001, t - lastProgress.t);
          const d = diffCounters(c, lastProgress.c);
          lastProgress = { t, c };
          const h = sw.takeInterval();
          log(
            `[${t.toFixed(0).padStart(4)}s] ${opts.scenario} connected ${sw.connected()}/${opts.clients}` +
              `  in ${fmt(d.msgsIn / dt)}/s  out ${fmt(d.msgsOut / dt)}/s` +
              `  rtt p50 ${fmtMs(pMs(h, 50))} p99 ${fmtMs(pMs(h, 99))}` +
              `  errors ${errorCount(c)}  unexpected ${c.unexpectedDisconnects}  bot-loop p99 ${sw.botLoopDelayP99Ms.toFixed(0)} ms`,
          );
        }, opts.progressMs),
      );
    }

    let win0: WindowMark | null = null;
    let win1: WindowMark | null = null;
    const extra: Record<string, unknown> = {};
    const mark = async (): Promise<WindowMark> => {
      await ctx.freshReports();
      const u = process.cpuUsage();
      const loop = (await probe.scrape())?.buckets('mmo_eventloop_delay_seconds') ?? [];
      return { atSec: now(), botCpuUs: u.user + u.system, cost: sw.botCost(), loop, counters: sw.totals(), cpu: await probe.sampleCpu() };
    };
    const ctx: ScenarioContext = {
      opts,
      swarm: sw,
      probe,
      proxy,
      now,
      log,
      samples,
      extra,
      sleep: (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms))),
      freshReports: () =>
        new Promise((resolve) => {
          let seen = 0;
          const fn = () => {
            if (++seen < sw.workerCount) return;
            sw.off('report', fn);
            clearTimeout(t);
            resolve();
          };
          const t = setTimeout(() => {
            sw.off('report', fn);
            resolve();
          }, 5000);
          sw.on('report', fn);
        }),
      waitConnected: async (target, timeoutMs) => {
        const end = performance.now() + timeoutMs;
        while (sw.connected() < target) {
          if (performance.now() > end) return false;
          await new Promise((r) => setTimeout(r, 200));
        }
        return true;
      },
      ramp: async (n, target) => {
        const before = sw.live();
        await sw.spawn(n, opts.rampPerSec);
        await ctx.freshReports();
        const want = target ?? before + n;
        const ok = await ctx.waitConnected(want, 30_000 + (n / Math.max(1, opts.rampPerSec)) * 1000);
        if (!ok) log(`ramp: only ${sw.connected()} of ${want} connected`);
        return ok;
      },
      startWindow: async () => {
        win0 = await mark();
        sw.resetWindow();
      },
      endWindow: async () => {
        win1 = await mark();
      },
    };

    const budgetMs = (opts.durationSec + opts.clients / Math.max(1, opts.rampPerSec) + 180) * 1000;
    let budgetTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      scenario.run(ctx),
      new Promise((_, reject) => {
        budgetTimer = setTimeout(() => reject(Object.assign(new Error(`scenario ${opts.scenario} overran its time budget of ${budgetMs / 1000} s`), { code: 'MMO_ERR_LOADTEST_TIMEOUT' })), budgetMs);
      }),
    ]);
    clearTimeout(budgetTimer);
    win0 ??= await mark();
    win1 ??= await mark();
    const w0: WindowMark = win0;
    const w1: WindowMark = win1;
    for (const t of timers) clearInterval(t);
    timers.length = 0;
    await sample();

    const totals = sw.totals();
    const d = diffCounters(w1.counters, w0.counters);
    const botCpu = w1.botCpuUs - w0.botCpuUs;
    const loopP99 = histogramQuantileBetween(w0.loop, w1.loop, 0.99);
    const secs = Math.max(0.001, w1.atSec - w0.atSec);
    const cpu = w0.cpu.cpuSeconds !== null && w1.cpu.cpuSeconds !== null ? w1.cpu.cpuSeconds - w0.cpu.cpuSeconds : null;
    const msgs = d.msgsIn + d.msgsOut;
    const serverRssEndMb = await probe.sampleRssMb();
    const rtt = sw.rttWindow.totalCount > 0 ? sw.rttWindow : sw.rtt;
    const usPer = (a: BotCost, b: BotCost) => (a.msgs - b.msgs > 0 ? round((a.cpuUs - b.cpuUs) / (a.msgs - b.msgs), 2) : null);
    const usPerPart = (a: BotCost, b: BotCost, k: 'userUs' | 'systemUs') => (a[k] < 0 || b[k] < 0 || a.msgs - b.msgs <= 0 ? null : round((a[k] - b[k]) / (a.msgs - b.msgs), 2));
    const result: LoadtestResult = {
      scenario: opts.scenario,
      clients: opts.clients,
      botKind: bots,
      botUsPerMessage: usPer(w1.cost.main, w0.cost.main),
      // Where it goes: user space (JS, Node, libuv) and the kernel (loopback TCP reads and writes).
      botUserUsPerMessage: usPerPart(w1.cost.main, w0.cost.main, 'userUs'),
      botSystemUsPerMessage: usPerPart(w1.cost.main, w0.cost.main, 'systemUs'),
      fullBots,
      fullBotUsPerMessage: fullBots > 0 ? usPer(w1.cost.full, w0.cost.full) : null,
      botCpuSource: w1.cost.cpuSource,
      connected: sw.connected(),
      unexpectedDisconnects: totals.unexpectedDisconnects,
      errors: errorCount(totals),
      msgsInPerSec: round(d.msgsIn / secs, 1),
      msgsOutPerSec: round(d.msgsOut / secs, 1),
      serverCpuSeconds: cpu === null ? null : round(cpu, 2),
      msgsPerServerCpuSecond: cpu === null || cpu <= 0 ? null : Math.round(msgs / cpu),
      rttP50Ms: nullRound(pMs(rtt, 50)),
      rttP99Ms: nullRound(pMs(rtt, 99)),
      rttP999Ms: nullRound(pMs(rtt, 99.9)),
      rttSamples: rtt.totalCount,
      rttAllBotsP50Ms: nullRound(pMs(sw.rttAllWindow, 50)),
      rttAllBotsP99Ms: nullRound(pMs(sw.rttAllWindow, 99)),
      serverRssStartMb: nullRound(serverRssStartMb, 1),
      serverRssEndMb: nullRound(serverRssEndMb, 1),
      windowSec: round(secs, 1),
      serverCores: cpu === null ? null : round(cpu / secs, 3),
      serverEventLoopP99Ms: loopP99 === null ? null : loopP99 === Infinity ? 'over the top bucket' : round(loopP99 * 1000, 2),
      bytesInPerSec: Math.round(d.bytesIn / secs),
      bytesOutPerSec: Math.round(d.bytesOut / secs),
      meanFrameBytesIn: d.msgsIn > 0 ? Math.round(d.bytesIn / d.msgsIn) : null,
      connectP50Ms: nullRound(pMs(sw.connectTime, 50)),
      connectP99Ms: nullRound(pMs(sw.connectTime, 99)),
      botLoopDelayP99Ms: round(sw.botLoopDelayP99Ms, 1),
      probeLoopDelayP99Ms: round(sw.probeLoopDelayP99Ms, 1),
      botCpuCores: round(botCpu / 1e6 / secs, 3),
      counters: totals,
      errorCodes: sw.errorCodes(),
      serverThreads: threadBreakdown(w0.cpu, w1.cpu),
      ...extra,
      pass: true,
      failures: [],
    };
    const failures = scenario.check(result, opts);
    result.failures = failures;
    result.pass = failures.length === 0;
    return result;
  } finally {
    for (const t of timers) clearInterval(t);
    if (swarm) await swarm.stop().catch((e: Error) => log(`stopping the swarm: ${e.message}`));
    if (proxy) await proxy.close();
    if (server) {
      const code = await server.stop();
      if (code !== 0) log(`server exited with ${code}; last output:\n${server.tail().slice(-15).join('\n')}`);
    }
  }
}

/** The bots' behaviour, with the zone and global chat shares scaled to the swarm unless given. */
export function scaledBehaviour(opts: LoadtestOptions): typeof DEFAULT_BEHAVIOUR {
  const b = { ...DEFAULT_BEHAVIOUR, ...opts.behaviour };
  const chatsPerSec = (opts.clients * 1000) / b.chatIntervalMs;
  if (opts.behaviour.zoneChatShare === undefined) b.zoneChatShare = Math.min(0.15, 2 / Math.max(1e-9, chatsPerSec));
  if (opts.behaviour.globalChatShare === undefined) b.globalChatShare = Math.min(0.05, 1 / Math.max(1e-9, chatsPerSec));
  return b;
}

function nullRound(v: number | null, digits = 2): number | null {
  return v === null ? null : round(v, digits);
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function fmtMs(v: number | null): string {
  return v === null ? '-' : `${v.toFixed(1)} ms`;
}
