// Micro-benchmark harness. A benchmark file (loadtest/bench/*.bench.ts) is a
// standalone script: it measures, then calls report() once per result. The
// runner (run.ts) spawns each file in its own process with --expose-gc so one
// benchmark's garbage and JIT state never colour another's.
//
// Results are medians over several timed rounds: this machine is shared and
// noisy, and a median shrugs off the round where something else ran.

export interface BenchResult {
  name: string;
  opsPerSec: number;
  /** Any further figures: latency percentiles, bytes per op, ratios to a baseline... */
  [key: string]: unknown;
}

const json = process.argv.includes('--json');

/** Prints one result: a JSON line with --json, a readable line otherwise. */
export function report(result: BenchResult): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const extras = Object.entries(result)
    .filter(([k]) => k !== 'name' && k !== 'opsPerSec')
    .map(([k, v]) => `${k}=${typeof v === 'number' ? round(v) : JSON.stringify(v)}`)
    .join(' ');
  process.stdout.write(`${result.name.padEnd(44)} ${fmtOps(result.opsPerSec).padStart(14)} ops/s  ${extras}\n`);
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

export interface MeasureOptions {
  /** Operations per call of fn (fn may do a batch). */
  opsPerCall?: number;
  /** Timed rounds; the median is reported. */
  rounds?: number;
  /** Minimum duration of one round. */
  roundMs?: number;
  /** Untimed warm-up duration (JIT). */
  warmupMs?: number;
}

/** Calls fn in a loop for each round and returns the median operations per second. Synchronous work only. */
export function measureSync(fn: () => void, opts: MeasureOptions = {}): { opsPerSec: number; rounds: number[] } {
  const opsPerCall = opts.opsPerCall ?? 1;
  const roundMs = opts.roundMs ?? 300;
  const warmEnd = performance.now() + (opts.warmupMs ?? 200);
  while (performance.now() < warmEnd) fn();
  const rates: number[] = [];
  for (let r = 0; r < (opts.rounds ?? 7); r++) {
    let calls = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < roundMs) {
      for (let i = 0; i < 64; i++) fn();
      calls += 64;
      t = performance.now();
    }
    rates.push((calls * opsPerCall * 1000) / (t - t0));
  }
  return { opsPerSec: median(rates), rounds: rates };
}

/**
 * JS-heap bytes allocated per operation in steady state: runs fn `ops` times
 * between two forced GCs and divides the heap growth. Needs --expose-gc (the
 * runner passes it). Returns NaN without it.
 */
export function heapBytesPerOp(fn: () => void, ops: number, opsPerCall = 1): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return Number.NaN;
  for (let i = 0; i < Math.min(ops, 10_000); i++) fn();
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  const calls = Math.ceil(ops / opsPerCall);
  for (let i = 0; i < calls; i++) fn();
  const after = process.memoryUsage().heapUsed;
  return Math.max(0, after - before) / (calls * opsPerCall);
}

function fmtOps(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function round(n: number): number {
  return Math.abs(n) >= 100 ? Math.round(n) : Number(n.toPrecision(3));
}
