// What the driver reads about the server under test: CPU and RSS from
// /proc/<pid> when the server runs on this machine (spawned, or --server-pid),
// per-thread CPU by thread name (native-bindings/proc.ts), and the server's
// own /metrics (heap, event-loop delay, sessions), which is also the fallback
// for CPU and RSS when the server is on another machine.

import { readFileSync } from 'node:fs';
import { clockTicksPerSecond } from '../../native-bindings/index.js';
import { readProcessThreads, cpuByThread, groupThreadName, type ProcThreadsSample, type ThreadCpuShare } from '../../native-bindings/proc.js';

/** A parsed Prometheus text exposition: sample key ('name' or 'name{labels}') -> value. */
export class MetricsText {
  constructor(readonly samples: ReadonlyMap<string, number>) {}

  static parse(text: string): MetricsText {
    const m = new Map<string, number>();
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const sp = line.lastIndexOf(' ');
      if (sp < 0) continue;
      const v = Number(line.slice(sp + 1));
      if (!Number.isNaN(v)) m.set(line.slice(0, sp), v);
    }
    return new MetricsText(m);
  }

  /** The unlabelled sample, or the sum over every label set of `name`. */
  value(name: string): number | undefined {
    const exact = this.samples.get(name);
    if (exact !== undefined) return exact;
    let sum = 0;
    let found = false;
    for (const [k, v] of this.samples) {
      if (k.startsWith(`${name}{`)) {
        sum += v;
        found = true;
      }
    }
    return found ? sum : undefined;
  }

  /** Samples of `name` by their label text: '{state="zombie"}' -> value. */
  labelled(name: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of this.samples) if (k.startsWith(`${name}{`)) out[k.slice(name.length)] = v;
    return out;
  }

  /** Cumulative buckets of a histogram (summed over other labels), ascending by upper bound. */
  buckets(name: string): Array<[number, number]> {
    const acc = new Map<number, number>();
    for (const [k, v] of this.samples) {
      if (!k.startsWith(`${name}_bucket{`)) continue;
      const m = /le="([^"]+)"/.exec(k);
      if (!m) continue;
      const le = m[1] === '+Inf' ? Infinity : Number(m[1]);
      acc.set(le, (acc.get(le) ?? 0) + v);
    }
    return [...acc.entries()].sort((a, b) => a[0] - b[0]);
  }

  /** Names of every metric present (without labels). */
  names(): string[] {
    const s = new Set<string>();
    for (const k of this.samples.keys()) s.add(k.replace(/\{.*$/, ''));
    return [...s].sort();
  }
}

/**
 * The q-quantile (0..1) of the observations between two scrapes of a
 * Prometheus histogram: the upper bound of the bucket it falls in (so an
 * over-estimate by at most one bucket). null when nothing was observed.
 */
export function histogramQuantileBetween(before: Array<[number, number]>, after: Array<[number, number]>, q: number): number | null {
  const prev = new Map(before);
  const diff = after.map(([le, c]) => [le, c - (prev.get(le) ?? 0)] as [number, number]);
  const total = diff.length ? diff[diff.length - 1]![1] : 0;
  if (total <= 0) return null;
  const rank = q * total;
  for (const [le, c] of diff) if (c >= rank) return le;
  return Infinity;
}

export interface ProbeOptions {
  /** Server process on this machine: /proc is read. */
  pid?: number;
  /** http://host:port of the server: /metrics is scraped. */
  httpUrl?: string;
  metricsPath?: string;
}

export interface CpuSample {
  atMs: number;
  cpuSeconds: number | null;
  threads: ProcThreadsSample | null;
}

export class ServerProbe {
  private readonly ticks = clockTicksPerSecond();

  constructor(readonly opts: ProbeOptions) {}

  get local(): boolean {
    return this.opts.pid !== undefined;
  }

  /** utime + stime of the whole process (threads that exited included), seconds; null without a pid. */
  cpuSeconds(): number | null {
    if (this.opts.pid === undefined) return null;
    try {
      const text = readFileSync(`/proc/${this.opts.pid}/stat`, 'utf8');
      const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
      return (Number(f[14 - 3]) + Number(f[15 - 3])) / this.ticks;
    } catch {
      return null;
    }
  }

  /** Resident set size, MB (VmRSS); null without a pid. */
  rssMb(): number | null {
    if (this.opts.pid === undefined) return null;
    try {
      const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${this.opts.pid}/status`, 'utf8'));
      return m ? Number(m[1]) / 1024 : null;
    } catch {
      return null;
    }
  }

  threads(): ProcThreadsSample | null {
    if (this.opts.pid === undefined) return null;
    try {
      return readProcessThreads(this.opts.pid);
    } catch {
      return null;
    }
  }

  /** CPU, local if possible, else from /metrics (mmo_process_cpu_seconds_total). */
  async sampleCpu(): Promise<CpuSample> {
    const atMs = performance.now();
    let cpuSeconds = this.cpuSeconds();
    if (cpuSeconds === null) cpuSeconds = (await this.scrape())?.value('mmo_process_cpu_seconds_total') ?? null;
    return { atMs, cpuSeconds, threads: this.threads() };
  }

  /** RSS, local if possible, else from /metrics (mmo_process_resident_memory_bytes). */
  async sampleRssMb(): Promise<number | null> {
    const local = this.rssMb();
    if (local !== null) return local;
    const v = (await this.scrape())?.value('mmo_process_resident_memory_bytes');
    return v === undefined ? null : v / (1024 * 1024);
  }

  /**
   * POST /debug/gc: a full collection in the server's gateway thread, then the
   * heap still in use (MB). null when the server does not serve it
   * (debug.gcEndpoint off, node without --expose-gc, not our server).
   */
  async gcHeapMb(): Promise<number | null> {
    if (!this.opts.httpUrl) return null;
    try {
      const res = await fetch(`${this.opts.httpUrl}/debug/gc`, { method: 'POST', signal: AbortSignal.timeout(10_000) });
      if (!res.ok) return null;
      const body = (await res.json()) as { heapUsedBytes?: unknown };
      return typeof body.heapUsedBytes === 'number' ? body.heapUsedBytes / (1024 * 1024) : null;
    } catch {
      return null;
    }
  }

  /** GET /metrics, parsed; null when there is no URL or the scrape fails (5 s timeout). */
  async scrape(): Promise<MetricsText | null> {
    if (!this.opts.httpUrl) return null;
    try {
      const res = await fetch(`${this.opts.httpUrl}${this.opts.metricsPath ?? '/metrics'}`, { signal: AbortSignal.timeout(5000) });
      if (!res.ok) return null;
      return MetricsText.parse(await res.text());
    } catch {
      return null;
    }
  }
}

/** Per-thread CPU of the server between two samples, grouped (Node's helpers folded into 'node-internal'). */
export function threadBreakdown(before: CpuSample, after: CpuSample): ThreadCpuShare[] | null {
  if (!before.threads || !after.threads) return null;
  return cpuByThread(before.threads, after.threads, groupThreadName).map((t) => ({
    ...t,
    cpuSeconds: round(t.cpuSeconds, 2),
    cores: round(t.cores, 3),
  }));
}

export function round(v: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
