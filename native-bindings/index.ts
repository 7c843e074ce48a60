// The native addon (build/Release/mmo_native.node, built from src/mmo_native.cc
// during `npm install`) behind a TypeScript API that works without it.
//
// Every function acts on the CALLING thread: the main thread or the worker
// whose JavaScript makes the call. Loaded once per thread (each worker
// imports this module afresh); the addon is Node-API, so it loads in workers.
//
// Fallback: when the addon is missing, fails to load (no compiler at install
// time, another platform) or MMO_NATIVE=off is set, pinning and naming do
// nothing and say so ({ ok: false, reason }), and threadCpuSeconds() returns
// an ESTIMATE: the time this thread's event loop was active
// (performance.eventLoopUtilization), labelled cpuSource === 'estimate'. The
// estimate counts wall time in callbacks, so it overstates CPU when a thread
// blocks in synchronous I/O or is preempted, and it is 0 before the event
// loop starts. Nothing here logs: the process decides who warns, once
// (see fallbackWarning()).

import { createRequire } from 'node:module';
import { constants as osConstants } from 'node:os';
import { isMainThread } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';

/** Where a CPU-seconds figure comes from: the kernel's per-thread clock, or the event-loop estimate. */
export type CpuSource = 'native' | 'estimate';

/** Result of an operation that the fallback cannot perform. */
export interface ThreadOpResult {
  readonly ok: boolean;
  /** Why it did nothing: 'native addon unavailable: ...' or an errno name such as 'EINVAL'. Null when ok. */
  readonly reason: string | null;
}

export interface NativeStatus {
  /** True when the addon is loaded and in use in this thread. */
  readonly available: boolean;
  /** True when MMO_NATIVE=off switched it off. */
  readonly forced: boolean;
  /** Why it is not available; null when it is. */
  readonly reason: string | null;
  /** Absolute path the addon is loaded from. */
  readonly path: string;
}

/** Setup-time misuse (bad thread name, bad CPU number). Never thrown on a hot path. */
export class NativeBindingError extends Error {
  constructor(
    readonly code: 'MMO_ERR_THREAD_NAME' | 'MMO_ERR_PIN_CPU',
    message: string,
  ) {
    super(message);
    this.name = 'NativeBindingError';
  }
}

/** The addon's raw surface: errno numbers instead of exceptions. */
interface Addon {
  setAffinity(cpus: number[]): number;
  getAffinity(): number[] | number;
  setName(name: string): number;
  getName(): string | number;
  threadCpuSeconds(): number;
  threadCpuInto(target: Float64Array, index: number): boolean;
  threadCpuSecondsOf(tid: number): number;
  gettid(): number;
  clockTicksPerSecond: number;
  abiVersion: number;
}

/** Linux keeps 15 bytes of a thread name (TASK_COMM_LEN 16 with the NUL). */
export const MAX_THREAD_NAME = 15;
/** Largest CPU number accepted (Linux's default NR_CPUS on x86_64). */
export const MAX_CPU = 8191;
const ABI_VERSION = 2;

const ADDON_PATH = fileURLToPath(new URL('../../native-bindings/build/Release/mmo_native.node', import.meta.url));

function load(): { addon: Addon | null; status: NativeStatus } {
  const mode = (process.env.MMO_NATIVE ?? '').trim().toLowerCase();
  if (mode === 'off' || mode === '0' || mode === 'false') {
    return { addon: null, status: { available: false, forced: true, reason: `disabled by MMO_NATIVE=${process.env.MMO_NATIVE}`, path: ADDON_PATH } };
  }
  try {
    const addon = createRequire(import.meta.url)(ADDON_PATH) as Addon;
    if (addon.abiVersion !== ABI_VERSION) throw new Error(`addon ABI ${addon.abiVersion}, wrapper expects ${ABI_VERSION}: run npm run build:native`);
    return { addon, status: { available: true, forced: false, reason: null, path: ADDON_PATH } };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'MODULE_NOT_FOUND' ? `not built (${ADDON_PATH} missing; run npm run build:native)` : e.message.split('\n')[0];
    return { addon: null, status: { available: false, forced: false, reason: `failed to load: ${why}`, path: ADDON_PATH } };
  }
}

const loaded = load();
const addon = loaded.addon;

/** Whether the addon is in use in this thread, and why not. */
export const nativeStatus: NativeStatus = Object.freeze(loaded.status);

/** Source of threadCpuSeconds() in this thread. */
export const cpuSource: CpuSource = addon ? 'native' : 'estimate';

const UNAVAILABLE: ThreadOpResult = Object.freeze({ ok: false, reason: `native addon unavailable: ${nativeStatus.reason}` });
const OK: ThreadOpResult = Object.freeze({ ok: true, reason: null });

const ERRNO_NAMES = new Map<number, string>(Object.entries(osConstants.errno).map(([name, n]) => [n, name]));
function failed(errno: number): ThreadOpResult {
  return { ok: false, reason: ERRNO_NAMES.get(errno) ?? `errno ${errno}` };
}

/**
 * The one warning a process should print when the fallback is in use, or null
 * when the addon is loaded. The caller logs it once (the server does, on the
 * gateway thread); workers stay quiet.
 */
export function fallbackWarning(): string | null {
  if (addon) return null;
  return (
    `native-bindings ${nativeStatus.reason}: threads are not pinned or named, ` +
    `and mmo_thread_cpu_seconds_total is an estimate from event-loop utilisation (source="estimate")`
  );
}

/** Checks a CPU list; throws MMO_ERR_PIN_CPU on anything but non-empty integers 0..MAX_CPU. Cold path. */
export function validateCpus(cpus: readonly number[]): void {
  if (!Array.isArray(cpus) || cpus.length === 0) throw new NativeBindingError('MMO_ERR_PIN_CPU', 'a CPU list must name at least one CPU');
  for (const c of cpus) {
    if (!Number.isInteger(c) || c < 0 || c > MAX_CPU) throw new NativeBindingError('MMO_ERR_PIN_CPU', `CPU ${String(c)} is not an integer from 0 to ${MAX_CPU}`);
  }
}

/**
 * Pins the calling thread to exactly these CPUs (sched_setaffinity on its tid).
 * Threads it creates afterwards inherit the mask. Fallback: does nothing and
 * returns { ok: false }. Throws MMO_ERR_PIN_CPU for a malformed list; the
 * kernel refusing (a CPU offline or outside the cgroup) is a status.
 */
export function pinThread(cpus: readonly number[]): ThreadOpResult {
  validateCpus(cpus);
  if (!addon) return UNAVAILABLE;
  const err = addon.setAffinity([...cpus]);
  return err === 0 ? OK : failed(err);
}

/** CPUs the calling thread may run on, ascending; null in the fallback. */
export function threadAffinity(): number[] | null {
  if (!addon) return null;
  const r = addon.getAffinity();
  return typeof r === 'number' ? null : r;
}

/** Throws MMO_ERR_THREAD_NAME unless name is 1..15 printable ASCII characters (both paths, so misuse shows without the addon). */
export function validateThreadName(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_THREAD_NAME || !/^[\x21-\x7e]+$/.test(name)) {
    throw new NativeBindingError(
      'MMO_ERR_THREAD_NAME',
      `thread name ${JSON.stringify(name)} must be 1 to ${MAX_THREAD_NAME} printable ASCII characters without spaces`,
    );
  }
}

/**
 * Names the calling thread (pthread_setname_np): `top -H`, `ps -L` and
 * /proc/<pid>/task/<tid>/comm show it. Naming the main thread also renames
 * the process in `ps`/`top` (its comm is the main thread's).
 * Fallback: does nothing and returns { ok: false }.
 */
export function nameThread(name: string): ThreadOpResult {
  validateThreadName(name);
  if (!addon) return UNAVAILABLE;
  const err = addon.setName(name);
  return err === 0 ? OK : failed(err);
}

/** The calling thread's name; null in the fallback. */
export function threadName(): string | null {
  if (!addon) return null;
  const r = addon.getName();
  return typeof r === 'number' ? null : r;
}

/**
 * CPU seconds (user + system) the calling thread has used: the kernel's
 * CLOCK_THREAD_CPUTIME_ID with the addon (one syscall, ~0.3 µs), otherwise
 * the event-loop estimate (see the file comment; allocates one small object).
 * Monotonic within a thread. Check cpuSource before presenting it.
 */
export const threadCpuSeconds: () => number = addon
  ? addon.threadCpuSeconds
  : () => performance.eventLoopUtilization().active / 1000;

/**
 * Stores threadCpuSeconds() in target[index] without allocating (no heap
 * number is returned). Returns false for an index out of range. For
 * publishing into a shared table once per tick.
 */
export const threadCpuInto: (target: Float64Array, index: number) => boolean = addon
  ? addon.threadCpuInto
  : (target, index) => {
      if (!Number.isInteger(index) || index < 0 || index >= target.length) return false;
      target[index] = performance.eventLoopUtilization().active / 1000;
      return true;
    };

/**
 * CPU seconds of another thread of THIS process, by kernel tid, read live
 * from the kernel's per-thread clock; -1 when there is no such thread here or
 * without the addon. The tid may have been reused by a newer thread: check
 * its name first when that matters (ThreadRegistry does).
 */
export function siblingThreadCpuSeconds(tid: number): number {
  if (!addon || !Number.isInteger(tid) || tid <= 0) return -1;
  return addon.threadCpuSecondsOf(tid);
}

/**
 * The calling thread's kernel thread id (gettid): its /proc/<pid>/task/<tid>.
 * Fallback: process.pid on the main thread (they are equal on Linux), -1 in a worker.
 */
export function threadTid(): number {
  if (addon) return addon.gettid();
  return isMainThread ? process.pid : -1;
}

/** USER_HZ, the unit of utime/stime in /proc/<pid>/task/<tid>/stat: sysconf(_SC_CLK_TCK), 100 on every mainstream Linux. */
export function clockTicksPerSecond(): number {
  return addon ? addon.clockTicksPerSecond : 100;
}
