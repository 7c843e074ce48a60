// The dashboard's live figures: one sample a second, the last 10 minutes kept
// here (600 samples, ~250 KB), and pushed to every open live stream.
//
// Read from the running objects, not from the /metrics text: counters and
// gauges through the prom-client registry's metric objects (getSingleMetric
// then get(), as a scrape does, without rendering), the zones' shared stats
// blocks and rings, the thread CPU table, the event-loop sampler. Cold path:
// once a second, allocates.

import type { Registry } from 'prom-client';
import type { ThreadRegistry } from '../../native-bindings/threads.js';
import type { MetricsRuntime } from '../metrics/registry.js';
import { ZoneStat, TICK_BUCKETS } from '../zone/shared.js';
import { ZONE_STATE_NAMES, type ZoneSet } from '../zone/host.js';

export const HISTORY_SECONDS = 600;

export interface ZoneSample {
  id: number;
  state: string;
  players: number;
  npcs: number;
  /** Tick time over the last second, ms (interpolated in the zone's histogram buckets). */
  tickP50Ms: number;
  tickP99Ms: number;
  ticks: number;
  /** Fraction of each ring in use now, 0..1. */
  inboundFill: number;
  outboundFill: number;
}

export interface LiveSample {
  /** Date.now(). */
  t: number;
  players: number;
  connected: number;
  zombies: number;
  handshakesPerSec: number;
  resumesPerSec: number;
  msgsInPerSec: number;
  msgsOutPerSec: number;
  /** Thread name -> CPU used over the last second, 0..1 of one core. */
  cpu: Record<string, number>;
  zones: ZoneSample[];
  /** Worst event-loop lateness of the gateway over the last second, ms. */
  loopLagMs: number;
  persistQueue: number;
  persistFailures: number;
  persistDbUp: boolean;
  rssBytes: number;
  heapUsedBytes: number;
}

type Values = Array<{ labels: Record<string, string | number>; value: number; metricName?: string }>;

/** A metric's current values through prom-client's own get() (what a scrape reads). */
async function valuesOf(registry: Registry, name: string): Promise<Values> {
  const m = registry.getSingleMetric(name) as unknown as { get(): Values | { values: Values } | Promise<{ values: Values }> } | undefined;
  if (!m) return [];
  const got = await m.get();
  return Array.isArray(got) ? got : got.values;
}

function sum(values: Values, pred: (l: Record<string, string | number>) => boolean = () => true): number {
  let t = 0;
  for (const v of values) if (pred(v.labels)) t += v.value;
  return t;
}

/** q-quantile of a bucket-count delta, linear within the bucket, in ms. */
export function bucketQuantileMs(counts: ArrayLike<number>, q: number): number {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  if (total === 0) return 0;
  const rank = q * total;
  let acc = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (c > 0 && acc + c >= rank) {
      const lo = i === 0 ? 0 : TICK_BUCKETS[i - 1]!;
      const hi = i < TICK_BUCKETS.length ? TICK_BUCKETS[i]! : TICK_BUCKETS[TICK_BUCKETS.length - 1]! * 2;
      return (lo + ((rank - acc) / c) * (hi - lo)) * 1000;
    }
    acc += c;
  }
  return TICK_BUCKETS[TICK_BUCKETS.length - 1]! * 1000;
}

export interface LiveDeps {
  registry: Registry;
  metrics: MetricsRuntime;
  zones: ZoneSet;
  threads: ThreadRegistry;
}

export class LiveStats {
  readonly history: LiveSample[] = [];
  private readonly listeners = new Set<(s: LiveSample) => void>();
  private timer: ReturnType<typeof setInterval> | null = null;
  private prev: { t: number; logins: number; resumes: number; inMsgs: number; outMsgs: number; cpu: Map<string, number>; buckets: Float64Array[] } | null = null;
  private lagMax = 0;

  constructor(private readonly d: LiveDeps) {
    d.metrics.onLoopSample((late) => {
      if (late > this.lagMax) this.lagMax = late;
    });
  }

  start(periodMs = 1000): void {
    if (this.timer) return;
    void this.sample();
    this.timer = setInterval(() => void this.sample(), periodMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Called with every new sample until the returned function is called. */
  subscribe(fn: (s: LiveSample) => void): () => void {
    this.listeners.add(fn);
    return () => void this.listeners.delete(fn);
  }

  get latest(): LiveSample | undefined {
    return this.history[this.history.length - 1];
  }

  /** Takes one sample (the timer's work; tests call it directly). */
  async sample(): Promise<LiveSample> {
    const { registry, zones, threads } = this.d;
    const t = Date.now();
    const [sessions, logins, resumes, inMsgs, outMsgs, queue, failures, dbUp] = await Promise.all([
      valuesOf(registry, 'mmo_sessions'),
      valuesOf(registry, 'mmo_session_logins_total'),
      valuesOf(registry, 'mmo_session_resumes_total'),
      valuesOf(registry, 'mmo_net_packets_in_total'),
      valuesOf(registry, 'mmo_net_packets_out_total'),
      valuesOf(registry, 'mmo_persist_queue_depth'),
      valuesOf(registry, 'mmo_persist_failures_total'),
      valuesOf(registry, 'mmo_persist_db_up'),
    ]);
    const now = {
      t,
      logins: sum(logins, (l) => l.result === 'ok'),
      resumes: sum(resumes, (l) => l.result === 'ok'),
      inMsgs: sum(inMsgs),
      outMsgs: sum(outMsgs),
      cpu: new Map(threads.sample().map((s) => [s.name, s.cpuSeconds] as const)),
      buckets: zones.hosts.map((h) => h.stats.slice(ZoneStat.tickBuckets, ZoneStat.tickBuckets + TICK_BUCKETS.length + 1)),
    };
    const p = this.prev;
    const dt = p ? Math.max(0.001, (t - p.t) / 1000) : 1;
    const rate = (a: number, b: number | undefined) => (p && b !== undefined ? Math.max(0, (a - b) / dt) : 0);
    const cpu: Record<string, number> = {};
    for (const [name, secs] of now.cpu) cpu[name] = p && p.cpu.has(name) ? Math.max(0, (secs - p.cpu.get(name)!) / dt) : 0;
    const zs: ZoneSample[] = zones.hosts.map((h, i) => {
      const cur = now.buckets[i]!;
      const before = p?.buckets[i];
      const delta = new Float64Array(cur.length);
      let ticks = 0;
      for (let b = 0; b < cur.length; b++) {
        delta[b] = Math.max(0, cur[b]! - (before ? before[b]! : 0));
        ticks += delta[b]!;
      }
      return {
        id: h.def.id,
        state: ZONE_STATE_NAMES[h.state],
        players: h.stats[ZoneStat.players]!,
        npcs: h.stats[ZoneStat.npcs]!,
        tickP50Ms: round(bucketQuantileMs(delta, 0.5)),
        tickP99Ms: round(bucketQuantileMs(delta, 0.99)),
        ticks,
        inboundFill: round(h.inbound.usedBytes() / h.inbound.capacity, 4),
        outboundFill: round(h.outbound.usedBytes() / h.outbound.capacity, 4),
      };
    });
    const mem = process.memoryUsage();
    const connected = sum(sessions, (l) => l.state === 'connected');
    const zombies = sum(sessions, (l) => l.state === 'zombie');
    const s: LiveSample = {
      t,
      players: connected + zombies,
      connected,
      zombies,
      handshakesPerSec: round(rate(now.logins, p?.logins)),
      resumesPerSec: round(rate(now.resumes, p?.resumes)),
      msgsInPerSec: round(rate(now.inMsgs, p?.inMsgs)),
      msgsOutPerSec: round(rate(now.outMsgs, p?.outMsgs)),
      cpu,
      zones: zs,
      loopLagMs: round(this.lagMax),
      persistQueue: sum(queue),
      persistFailures: sum(failures),
      persistDbUp: sum(dbUp) > 0,
      rssBytes: mem.rss,
      heapUsedBytes: mem.heapUsed,
    };
    this.lagMax = 0;
    this.prev = now;
    this.history.push(s);
    if (this.history.length > HISTORY_SECONDS) this.history.splice(0, this.history.length - HISTORY_SECONDS);
    for (const fn of this.listeners) fn(s);
    return s;
  }
}

function round(v: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
