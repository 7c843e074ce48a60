// Per-thread CPU of ANY process, read from /proc/<pid>/task/*/stat: what a
// load-test driver uses to break a server's CPU down by thread name without
// the server's help. Linux only; needs no addon (the addon only supplies
// USER_HZ, which is 100 on every mainstream Linux). Cold path: allocates.

import { readdirSync, readFileSync } from 'node:fs';
import { clockTicksPerSecond } from './index.js';

export interface ProcThread {
  tid: number;
  /** Thread name (comm), e.g. 'gateway', 'zone-2', or Node's own 'node', 'libuv-worker', 'V8 DefaultWorke'. */
  name: string;
  /** utime + stime, seconds (USER_HZ resolution: 10 ms). */
  cpuSeconds: number;
  userSeconds: number;
  systemSeconds: number;
  /** Single-letter state: R running, S sleeping, D disk wait, Z zombie... */
  state: string;
  /** CPU the thread last ran on. */
  lastCpu: number;
}

export interface ProcThreadsSample {
  pid: number;
  /** performance.now() when the sample was taken, ms. */
  atMs: number;
  threads: ProcThread[];
}

/**
 * Parses one /proc/<pid>/task/<tid>/stat line. The name sits in parentheses
 * and may itself contain spaces and ')', so fields are counted from the LAST
 * ')'. Returns null on a malformed line.
 */
export function parseTaskStat(text: string, ticksPerSecond = clockTicksPerSecond()): ProcThread | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const tid = Number(text.slice(0, open).trim());
  const name = text.slice(open + 1, close);
  // After ')': field 3 (state) onwards, 1-based as in proc(5).
  const f = text.slice(close + 2).trim().split(' ');
  const field = (n: number) => Number(f[n - 3]);
  const utime = field(14);
  const stime = field(15);
  if (!Number.isFinite(tid) || !Number.isFinite(utime) || !Number.isFinite(stime)) return null;
  return {
    tid,
    name,
    cpuSeconds: (utime + stime) / ticksPerSecond,
    userSeconds: utime / ticksPerSecond,
    systemSeconds: stime / ticksPerSecond,
    state: f[0] ?? '?',
    lastCpu: field(39),
  };
}

/**
 * Every live thread of process pid with its CPU so far. Threads that exit
 * while the directory is read are skipped. Throws ENOENT when the process is gone.
 */
export function readProcessThreads(pid: number): ProcThreadsSample {
  const dir = `/proc/${pid}/task`;
  const tids = readdirSync(dir);
  const ticks = clockTicksPerSecond();
  const threads: ProcThread[] = [];
  for (const tid of tids) {
    let text: string;
    try {
      text = readFileSync(`${dir}/${tid}/stat`, 'utf8');
    } catch {
      continue; // exited between readdir and read
    }
    const t = parseTaskStat(text, ticks);
    if (t) threads.push(t);
  }
  threads.sort((a, b) => a.tid - b.tid);
  return { pid, atMs: performance.now(), threads };
}

export interface ThreadCpuShare {
  /** A thread name, or the group it was folded into. */
  name: string;
  threads: number;
  /** CPU seconds used between the two samples. */
  cpuSeconds: number;
  /** cpuSeconds / wall seconds between the samples: 1.0 = one core busy. */
  cores: number;
}

/**
 * CPU used per thread name between two samples of the same process, biggest
 * first. Threads are matched by tid; one that started after `before` counts
 * from zero, one that exited before `after` is not counted (its last CPU is
 * unknowable). `group` folds names together, e.g. groupThreadName to add up
 * Node's helper threads.
 */
export function cpuByThread(
  before: ProcThreadsSample,
  after: ProcThreadsSample,
  group: (name: string) => string = (n) => n,
): ThreadCpuShare[] {
  const wallSeconds = Math.max(1e-9, (after.atMs - before.atMs) / 1000);
  const prev = new Map(before.threads.map((t) => [t.tid, t]));
  const out = new Map<string, ThreadCpuShare>();
  for (const t of after.threads) {
    const p = prev.get(t.tid);
    // A tid reused by a newer thread shows less CPU than before: clamp at 0.
    const used = p ? t.cpuSeconds - p.cpuSeconds : t.cpuSeconds;
    const key = group(t.name);
    const row = out.get(key) ?? { name: key, threads: 0, cpuSeconds: 0, cores: 0 };
    row.threads++;
    row.cpuSeconds += Math.max(0, used);
    out.set(key, row);
  }
  for (const row of out.values()) row.cores = row.cpuSeconds / wallSeconds;
  return [...out.values()].sort((a, b) => b.cpuSeconds - a.cpuSeconds || a.name.localeCompare(b.name));
}

/**
 * A grouping for reports: our names stay as they are ('gateway', 'zone-3'),
 * Node's helpers fold into 'node-internal' (V8 platform workers, the libuv
 * pool, the inspector and signal threads), and other threads keep their name.
 */
export function groupThreadName(name: string): string {
  if (/^(V8 |libuv-worker|node$|node-|MainThread$|SignalInspector|Signal Inspector)/.test(name)) return 'node-internal';
  return name;
}

/** Cpus_allowed_list of one thread ('0-1', '3'), from /proc/<pid>/task/<tid>/status. */
export function readThreadCpusAllowed(pid: number, tid: number): string {
  const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
  const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(status);
  if (!m) throw new Error(`no Cpus_allowed_list in /proc/${pid}/task/${tid}/status`);
  return m[1]!;
}

/** Parses a Linux CPU list ('0-3,6,8-9') into ascending CPU numbers. Throws on malformed text. */
export function parseCpuList(text: string): number[] {
  const out = new Set<number>();
  for (const part of text.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw new Error(`bad CPU list ${JSON.stringify(text)}`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw new Error(`bad CPU range ${part} in ${JSON.stringify(text)}`);
    for (let c = lo; c <= hi; c++) out.add(c);
  }
  return [...out].sort((a, b) => a - b);
}

/** Formats ascending CPU numbers as a Linux CPU list: [0,1,2,5] -> '0-2,5'. */
export function formatCpuList(cpus: readonly number[]): string {
  const s = [...new Set(cpus)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j + 1 < s.length && s[j + 1] === s[j]! + 1) j++;
    parts.push(i === j ? `${s[i]}` : `${s[i]}-${s[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
