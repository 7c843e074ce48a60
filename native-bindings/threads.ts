// Thread placement, names and per-thread CPU accounting for the server's
// threads: the gateway (main thread), the zone workers and the pool workers.
//
//   main thread                                   each worker, first thing
//   ───────────                                   ────────────────────────
//   reg = ThreadRegistry.create(config.threads)   setupThread({ role: 'zone', index: 2,
//   reg.register('zone-2')        (optional)                    shared: workerData.threads })
//   new Worker(f, { workerData: { threads: reg.shared } })
//   setupThread({ role: 'gateway', shared: reg.shared })
//   scrape: reg.sample() -> mmo_thread_cpu_seconds_total{thread, source}
//
// setupThread names the calling thread, pins it as the placement says, and
// claims its slot in a ThreadCpuTable where it publishes its CPU seconds
// (every publishMs, and whenever the caller calls publish(), e.g. after a
// tick). The gateway reads the table at scrape time without messaging; for
// live threads it reads the kernel's per-thread clock directly, so a worker
// stuck in a loop still shows its CPU rising.

import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import {
  cpuSource as localCpuSource,
  nameThread,
  pinThread,
  siblingThreadCpuSeconds,
  threadAffinity,
  threadCpuInto,
  threadTid,
  validateThreadName,
  MAX_CPU,
  type CpuSource,
  type ThreadOpResult,
} from './index.js';
import { formatCpuList, parseCpuList } from './proc.js';

// ─── Placement ──────────────────────────────────────────────────────────────

/**
 * threads.pinning: 'off' leaves every thread where the OS puts it; 'auto'
 * puts the gateway on the first CPU, zone i on CPU (1 + i) mod N and every
 * other thread (the pool) on the CPUs left over; a mapping names CPUs per
 * thread: keys are a thread name ('gateway', 'zone-2'), a role wildcard
 * ('zone-*', 'persist-*') or '*'; values a CPU number or a Linux CPU list
 * ('2', '4-7', '0,2-3'). The most specific key wins; threads no key matches
 * run on all CPUs.
 */
export type PinningConfig = 'off' | 'auto' | Readonly<Record<string, number | string>>;

/** A placement compiled once on the main thread; plain data, so it travels in workerData. */
export interface ThreadPlacement {
  readonly mode: 'off' | 'auto' | 'explicit';
  /** The CPUs the process may use, from the main thread's mask before anything was pinned (N = cpus.length). */
  readonly cpus: readonly number[];
  /** Number of zone workers; 'auto' keeps their CPUs off the pool's. */
  readonly zones: number;
  /** Explicit mode: mapping key -> CPUs. */
  readonly map: Readonly<Record<string, readonly number[]>>;
}

export type ThreadsErrorCode = 'MMO_ERR_PINNING' | 'MMO_ERR_THREAD_ROLE';

/** Setup-time error with a stable code; never thrown on a hot path. */
export class ThreadsError extends Error {
  constructor(
    readonly code: ThreadsErrorCode,
    message: string,
    /** For MMO_ERR_PINNING: the mapping key at fault. */
    readonly key?: string,
  ) {
    super(message);
    this.name = 'ThreadsError';
  }
}

/** A mapping key: '*', a role ('gateway'), or role-index / role-* ('zone-2', 'zone-*'). At most 15 characters. */
export const PINNING_KEY_PATTERN = '^(\\*|[a-z][a-z0-9]{0,9}(-([0-9]{1,4}|\\*))?)$';
/** A CPU list value: '3', '0-3', '0,2,4-7'. */
export const CPU_LIST_PATTERN = '^[0-9]{1,4}(-[0-9]{1,4})?(,[0-9]{1,4}(-[0-9]{1,4})?)*$';
const KEY_RE = new RegExp(PINNING_KEY_PATTERN);
const ROLE_RE = /^[a-z][a-z0-9]{0,9}$/;
const NAME_RE = /^([a-z][a-z0-9]{0,9})(?:-(\d{1,4}))?$/;

/** CPUs this process may use: the calling thread's mask (addon), else /proc, else 0..availableParallelism-1. Cold path. */
export function processCpus(): number[] {
  const mask = threadAffinity();
  if (mask && mask.length > 0) return mask;
  try {
    const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return parseCpuList(m[1]!);
  } catch {}
  return Array.from({ length: availableParallelism() }, (_, i) => i);
}

/**
 * Compiles threads.pinning against this machine. Throws MMO_ERR_PINNING (with
 * the key) for a malformed key or value, or a CPU the process may not use.
 * Call on the main thread before pinning anything. Cold path.
 */
export function planPlacement(pinning: PinningConfig, opts: { zones?: number; cpus?: readonly number[] } = {}): ThreadPlacement {
  const cpus = Object.freeze([...(opts.cpus ?? processCpus())].sort((a, b) => a - b));
  const zones = opts.zones ?? 0;
  if (!Number.isInteger(zones) || zones < 0) throw new ThreadsError('MMO_ERR_PINNING', `zones must be a non-negative integer, got ${zones}`);
  if (cpus.length === 0) throw new ThreadsError('MMO_ERR_PINNING', 'no CPUs available to this process');
  if (pinning === 'off' || pinning === 'auto') return Object.freeze({ mode: pinning, cpus, zones, map: Object.freeze({}) });
  if (typeof pinning !== 'object' || pinning === null || Array.isArray(pinning)) {
    throw new ThreadsError('MMO_ERR_PINNING', `pinning must be 'off', 'auto' or a mapping of thread to CPUs, got ${JSON.stringify(pinning)}`);
  }
  const allowed = new Set(cpus);
  const map: Record<string, readonly number[]> = {};
  for (const [key, value] of Object.entries(pinning)) {
    if (!KEY_RE.test(key)) {
      throw new ThreadsError('MMO_ERR_PINNING', `pinning key ${JSON.stringify(key)} is not a thread name, role-* or *`, key);
    }
    let list: number[];
    try {
      if (typeof value === 'number') {
        if (!Number.isInteger(value) || value < 0 || value > MAX_CPU) throw new Error(`bad CPU ${value}`);
        list = [value];
      } else list = parseCpuList(String(value));
    } catch (err) {
      throw new ThreadsError('MMO_ERR_PINNING', `pinning.${key}: ${(err as Error).message}`, key);
    }
    const missing = list.filter((c) => !allowed.has(c));
    if (missing.length) {
      throw new ThreadsError(
        'MMO_ERR_PINNING',
        `pinning.${key} = ${JSON.stringify(value)}: CPU ${formatCpuList(missing)} is not available to this process (it may use ${formatCpuList(cpus)})`,
        key,
      );
    }
    map[key] = Object.freeze(list);
  }
  return Object.freeze({ mode: 'explicit', cpus, zones, map: Object.freeze(map) });
}

/**
 * CPUs a thread of this name should run on; null = leave it alone ('off').
 * In 'auto' and explicit modes a thread that gets no specific CPUs is given
 * all of the process's CPUs: threads inherit their creator's mask, so a
 * worker spawned by a pinned gateway would otherwise stay on the gateway's CPU.
 */
export function cpusForThread(p: ThreadPlacement, name: string): number[] | null {
  if (p.mode === 'off') return null;
  const m = NAME_RE.exec(name);
  const role = m?.[1] ?? name;
  const index = m?.[2] === undefined ? -1 : Number(m[2]);
  const n = p.cpus.length;
  if (p.mode === 'explicit') {
    const hit = p.map[name] ?? (index >= 0 ? p.map[`${role}-*`] : undefined) ?? p.map['*'];
    return [...(hit ?? p.cpus)];
  }
  // auto
  if (role === 'gateway') return [p.cpus[0]!];
  if (role === 'zone' && index >= 0) return [p.cpus[(1 + index) % n]!];
  // The rest (gateway threads net-N, pools): CPUs after the gateway's and the zones'; when zones fill the
  // machine, everything but the gateway's CPU (its latency matters most);
  // on one CPU, that CPU.
  if (1 + p.zones < n) return p.cpus.slice(1 + p.zones);
  return n > 1 ? p.cpus.slice(1) : [...p.cpus];
}

/** 'zone', 2 -> 'zone-2'; 'gateway' -> 'gateway'. Throws MMO_ERR_THREAD_ROLE for a bad role or index. */
export function threadNameFor(role: string, index?: number): string {
  if (!ROLE_RE.test(role)) throw new ThreadsError('MMO_ERR_THREAD_ROLE', `thread role ${JSON.stringify(role)} must match ${ROLE_RE}`);
  if (index === undefined) return role;
  if (!Number.isInteger(index) || index < 0 || index > 9999) throw new ThreadsError('MMO_ERR_THREAD_ROLE', `thread index ${index} must be an integer from 0 to 9999`);
  return `${role}-${index}`;
}

// ─── The shared table ───────────────────────────────────────────────────────

/**
 * Per-thread CPU seconds in one SharedArrayBuffer, one 64-byte line per
 * thread so publishers never share a cache line.
 *
 *   header (64 B)  i32[0] kLock   registration spinlock (0 free, 1 held)
 *                  i32[1] kUsed   slots whose names are written
 *                  i32[2] kCap    capacity
 *   slot s at 64 + 64*s:
 *     +0  f64 kCpu    CPU seconds of the current owner           } written by the owner
 *     +8  f64 kBase   CPU seconds of earlier owners of this name } under kSeq
 *     +16 i32 kSeq    seqlock: odd while kCpu/kBase are written
 *     +20 i32 kState  0 empty, 2 registered without owner, 3 owned
 *     +24 i32 kTid    owner's kernel tid; -1 unknown
 *     +28 i32 kFlags  1 CPU from the kernel clock (else estimate), 2 pinned, 4 named
 *     +32 i32 kLen    name length
 *     +36 i32 kGen    owner generation: bumped on every claim, so a stale owner stops writing
 *     +40 u8[16]      name, ASCII
 *
 * Producers: the main thread registers names; a thread claims a slot (under
 * kLock) and is then its only writer of kCpu/kBase. Consumers: any thread,
 * usually the gateway at scrape time. May be read late: kCpu lags the owner's
 * real CPU by up to publishMs; readers retry on an odd or changed kSeq.
 */
export class ThreadCpuTable {
  static readonly kHeaderBytes = 64;
  static readonly kSlotBytes = 64;
  // header, Int32 indices
  static readonly kLock = 0;
  static readonly kUsed = 1;
  static readonly kCap = 2;
  // slot, Float64 indices from the slot's f64 base
  static readonly kCpu = 0;
  static readonly kBase = 1;
  // slot, Int32 indices from the slot's i32 base
  static readonly kSeq = 4;
  static readonly kState = 5;
  static readonly kTid = 6;
  static readonly kFlags = 7;
  static readonly kLen = 8;
  static readonly kGen = 9;
  static readonly kNameByte = 40;
  static readonly kNameMax = 15;

  static readonly STATE_EMPTY = 0;
  static readonly STATE_FREE = 2;
  static readonly STATE_OWNED = 3;
  static readonly FLAG_NATIVE = 1;
  static readonly FLAG_PINNED = 2;
  static readonly FLAG_NAMED = 4;

  static bytesFor(capacity: number): number {
    return ThreadCpuTable.kHeaderBytes + capacity * ThreadCpuTable.kSlotBytes;
  }

  /** A new, empty table. Cold path. */
  static create(capacity = 64): ThreadCpuTable {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 4096) throw new RangeError(`capacity ${capacity} must be 1..4096`);
    const t = new ThreadCpuTable(new SharedArrayBuffer(ThreadCpuTable.bytesFor(capacity)));
    Atomics.store(t.i32, ThreadCpuTable.kCap, capacity);
    return t;
  }

  readonly f64: Float64Array;
  readonly i32: Int32Array;
  readonly u8: Uint8Array;

  /** Wraps a table made by create(), possibly in another thread. */
  constructor(readonly buffer: SharedArrayBuffer) {
    this.f64 = new Float64Array(buffer);
    this.i32 = new Int32Array(buffer);
    this.u8 = new Uint8Array(buffer);
  }

  get capacity(): number {
    return Atomics.load(this.i32, ThreadCpuTable.kCap);
  }

  /** Slots with a name (registered, owned, or released). */
  get used(): number {
    return Atomics.load(this.i32, ThreadCpuTable.kUsed);
  }

  f64Base(slot: number): number {
    return (ThreadCpuTable.kHeaderBytes + slot * ThreadCpuTable.kSlotBytes) >> 3;
  }

  i32Base(slot: number): number {
    return (ThreadCpuTable.kHeaderBytes + slot * ThreadCpuTable.kSlotBytes) >> 2;
  }

  /** Name of a slot, or '' when empty. Allocates. */
  nameOf(slot: number): string {
    const ib = this.i32Base(slot);
    if (Atomics.load(this.i32, ib + ThreadCpuTable.kState) === ThreadCpuTable.STATE_EMPTY) return '';
    const len = Atomics.load(this.i32, ib + ThreadCpuTable.kLen);
    const off = ThreadCpuTable.kHeaderBytes + slot * ThreadCpuTable.kSlotBytes + ThreadCpuTable.kNameByte;
    let s = '';
    for (let i = 0; i < len; i++) s += String.fromCharCode(this.u8[off + i]!);
    return s;
  }

  /** Slot holding this name, or -1. */
  find(name: string): number {
    const used = this.used;
    for (let s = 0; s < used; s++) if (this.nameOf(s) === name) return s;
    return -1;
  }

  /**
   * Registers a name (idempotent) and returns its slot, or -1 when the table
   * is full. Any thread may call it; the main thread does so for the threads
   * it will start. Cold path.
   */
  register(name: string): number {
    validateThreadName(name);
    return this.locked(() => this.registerLocked(name));
  }

  /**
   * Makes the calling thread the owner of `name`'s slot (registering it if
   * needed), folding what earlier owners used into kBase. With `ifFree`, takes
   * the slot only when nobody owns it or its owner is gone (isStale), and
   * returns -1 otherwise. Returns { slot: -1 } when the table is full.
   */
  claim(name: string, owner: { tid: number; flags: number }, ifFree: boolean): { slot: number; gen: number } {
    validateThreadName(name);
    return this.locked(() => {
      const slot = this.registerLocked(name);
      if (slot < 0) return { slot: -1, gen: 0 };
      const ib = this.i32Base(slot);
      const state = Atomics.load(this.i32, ib + ThreadCpuTable.kState);
      if (ifFree && state === ThreadCpuTable.STATE_OWNED && !this.isStale(slot)) return { slot: -1, gen: 0 };
      this.fold(slot);
      const gen = Atomics.add(this.i32, ib + ThreadCpuTable.kGen, 1) + 1;
      Atomics.store(this.i32, ib + ThreadCpuTable.kTid, owner.tid);
      Atomics.store(this.i32, ib + ThreadCpuTable.kFlags, owner.flags);
      Atomics.store(this.i32, ib + ThreadCpuTable.kState, ThreadCpuTable.STATE_OWNED);
      return { slot, gen };
    });
  }

  /** Ends ownership of a slot (by its owner, or by the main thread when it saw the thread exit); its total stays. */
  release(slot: number, gen?: number): void {
    this.locked(() => {
      const ib = this.i32Base(slot);
      if (gen !== undefined && Atomics.load(this.i32, ib + ThreadCpuTable.kGen) !== gen) return;
      if (Atomics.load(this.i32, ib + ThreadCpuTable.kState) !== ThreadCpuTable.STATE_OWNED) return;
      this.fold(slot);
      Atomics.add(this.i32, ib + ThreadCpuTable.kGen, 1);
      Atomics.store(this.i32, ib + ThreadCpuTable.kTid, -1);
      Atomics.store(this.i32, ib + ThreadCpuTable.kState, ThreadCpuTable.STATE_FREE);
    });
  }

  /**
   * Owner's publish: stores its CPU seconds unless it lost the slot (gen
   * changed). Returns false when it no longer owns the slot. No allocation.
   */
  publish(slot: number, gen: number, cpuSeconds: number): boolean {
    const ib = this.i32Base(slot);
    if (Atomics.load(this.i32, ib + ThreadCpuTable.kGen) !== gen) return false;
    Atomics.add(this.i32, ib + ThreadCpuTable.kSeq, 1);
    this.f64[this.f64Base(slot) + ThreadCpuTable.kCpu] = cpuSeconds;
    Atomics.add(this.i32, ib + ThreadCpuTable.kSeq, 1);
    return true;
  }

  /** publish() of the CALLING thread's CPU, read straight into the slot (threadCpuInto): no heap number, no allocation. */
  publishOwn(slot: number, gen: number): boolean {
    const ib = this.i32Base(slot);
    if (Atomics.load(this.i32, ib + ThreadCpuTable.kGen) !== gen) return false;
    Atomics.add(this.i32, ib + ThreadCpuTable.kSeq, 1);
    threadCpuInto(this.f64, this.f64Base(slot) + ThreadCpuTable.kCpu);
    Atomics.add(this.i32, ib + ThreadCpuTable.kSeq, 1);
    return true;
  }

  /** Consistent (base, cpu) of a slot into out[0], out[1]. Retries while the owner writes; bounded. */
  read(slot: number, out: Float64Array): void {
    const ib = this.i32Base(slot);
    const fb = this.f64Base(slot);
    for (let tries = 0; tries < 1000; tries++) {
      const s1 = Atomics.load(this.i32, ib + ThreadCpuTable.kSeq);
      if ((s1 & 1) === 0) {
        out[0] = this.f64[fb + ThreadCpuTable.kBase]!;
        out[1] = this.f64[fb + ThreadCpuTable.kCpu]!;
        if (Atomics.load(this.i32, ib + ThreadCpuTable.kSeq) === s1) return;
      }
    }
    out[0] = this.f64[fb + ThreadCpuTable.kBase]!;
    out[1] = this.f64[fb + ThreadCpuTable.kCpu]!;
  }

  state(slot: number): number {
    return Atomics.load(this.i32, this.i32Base(slot) + ThreadCpuTable.kState);
  }

  tid(slot: number): number {
    return Atomics.load(this.i32, this.i32Base(slot) + ThreadCpuTable.kTid);
  }

  flags(slot: number): number {
    return Atomics.load(this.i32, this.i32Base(slot) + ThreadCpuTable.kFlags);
  }

  /**
   * True when the slot's owner is known to be gone: its tid no longer exists
   * in this process, or it named itself (FLAG_NAMED) and the tid now carries
   * another name (reused by another thread). An owner between its claim and
   * its nameThread() still has the name it was born with: that is not stale
   * (two pool workers starting together used to take the same name). Unknown
   * tids (fallback in a worker) are never stale: without the kernel's tid we
   * cannot tell.
   */
  isStale(slot: number): boolean {
    const tid = this.tid(slot);
    if (tid <= 0) return false;
    const live = liveThreadName(tid);
    if (live === null) return true;
    if (live === this.nameOf(slot)) return false;
    return (this.flags(slot) & ThreadCpuTable.FLAG_NAMED) !== 0;
  }

  /** kBase += kCpu; kCpu = 0. Under the lock, so no owner publishes concurrently... except a stale one, which gen stops. */
  private fold(slot: number): void {
    const ib = this.i32Base(slot);
    const fb = this.f64Base(slot);
    Atomics.add(this.i32, ib + ThreadCpuTable.kSeq, 1);
    this.f64[fb + ThreadCpuTable.kBase] = this.f64[fb + ThreadCpuTable.kBase]! + this.f64[fb + ThreadCpuTable.kCpu]!;
    this.f64[fb + ThreadCpuTable.kCpu] = 0;
    Atomics.add(this.i32, ib + ThreadCpuTable.kSeq, 1);
  }

  private registerLocked(name: string): number {
    const found = this.find(name);
    if (found >= 0) return found;
    const slot = this.used;
    if (slot >= this.capacity) return -1;
    const ib = this.i32Base(slot);
    const off = ThreadCpuTable.kHeaderBytes + slot * ThreadCpuTable.kSlotBytes + ThreadCpuTable.kNameByte;
    for (let i = 0; i < name.length; i++) this.u8[off + i] = name.charCodeAt(i);
    Atomics.store(this.i32, ib + ThreadCpuTable.kLen, name.length);
    Atomics.store(this.i32, ib + ThreadCpuTable.kTid, -1);
    Atomics.store(this.i32, ib + ThreadCpuTable.kState, ThreadCpuTable.STATE_FREE);
    Atomics.store(this.i32, ThreadCpuTable.kUsed, slot + 1);
    return slot;
  }

  /** Spinlock around registration and ownership changes: held for microseconds, at thread start and exit only. */
  private locked<T>(fn: () => T): T {
    const i32 = this.i32;
    for (let spins = 0; Atomics.compareExchange(i32, ThreadCpuTable.kLock, 0, 1) !== 0; spins++) {
      if (spins > 1_000_000) throw new Error('ThreadCpuTable lock not released (a thread died holding it?)');
    }
    try {
      return fn();
    } finally {
      Atomics.store(i32, ThreadCpuTable.kLock, 0);
    }
  }
}

/** Name of a thread of this process by tid, or null when it is gone. Reads /proc/self/task/<tid>/comm. Cold path. */
export function liveThreadName(tid: number): string | null {
  try {
    return readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trimEnd();
  } catch {
    return null;
  }
}

// ─── Per-thread setup ───────────────────────────────────────────────────────

/** What workers receive (in workerData) to set themselves up. Plain data and one SharedArrayBuffer. */
export interface ThreadsShared {
  readonly table: SharedArrayBuffer;
  readonly placement: ThreadPlacement;
  /** How often each thread publishes its CPU on its own, ms. */
  readonly publishMs: number;
}

export interface SetupThreadOptions {
  /** 'gateway', 'zone', 'persist', 'pool'...: 1-10 of [a-z0-9], starting with a letter. */
  role: string;
  /**
   * The thread's index within its role: zone-2 is { role: 'zone', index: 2 }.
   * Omit for a singleton ('gateway'). 'any' claims the lowest index whose slot
   * is free: for pool workers, which do not know their index.
   */
  index?: number | 'any';
  shared: ThreadsShared;
}

export interface ThreadHandle {
  /** The name given to the thread and its slot, e.g. 'zone-2'. */
  readonly name: string;
  /** Its slot in the table; -1 when the table was full (then nothing is published). */
  readonly slot: number;
  /** Kernel tid; -1 when unknown (fallback in a worker). */
  readonly tid: number;
  readonly named: ThreadOpResult;
  /** cpus: what the placement asked for (null = left alone, pinning off); ok: whether the thread now runs there. */
  readonly pinned: ThreadOpResult & { readonly cpus: readonly number[] | null };
  readonly cpuSource: CpuSource;
  /** Stores this thread's CPU seconds in its slot now. Safe on a hot path (e.g. once per tick): no allocation with the addon. */
  publish(): void;
  /** Publishes a last time, stops the timer and frees the slot for a successor. Idempotent. */
  release(): void;
}

/** Handles set up in THIS thread: published before a local read so the reader's own figure is current. */
const localHandles = new Set<ThreadHandle>();

/**
 * Call first thing in every server thread. Names it (role or role-index),
 * pins it per shared.placement, claims its table slot and publishes its CPU
 * every shared.publishMs on an unref'd timer. Never throws for what the
 * platform cannot do (see handle.named / handle.pinned); throws
 * MMO_ERR_THREAD_ROLE for a bad role or index. Cold path.
 */
export function setupThread(opts: SetupThreadOptions): ThreadHandle {
  const { shared } = opts;
  const table = new ThreadCpuTable(shared.table);
  const tid = threadTid();
  // The source bit goes in at claim time so a scrape never sees this thread's figure unlabelled.
  const owner = { tid, flags: localCpuSource === 'native' ? ThreadCpuTable.FLAG_NATIVE : 0 };

  let name: string;
  let claimed: { slot: number; gen: number };
  if (opts.index === 'any') {
    threadNameFor(opts.role, 0); // validates the role
    let k = 0;
    for (;;) {
      name = threadNameFor(opts.role, k);
      claimed = table.claim(name, owner, true);
      if (claimed.slot >= 0 || table.find(name) < 0 || k >= 9999) break; // got it, or the table is full
      k++;
    }
  } else {
    name = threadNameFor(opts.role, opts.index);
    claimed = table.claim(name, owner, false);
  }

  const named = nameThread(name);
  const cpus = cpusForThread(shared.placement, name);
  const pinRes = cpus ? pinThread(cpus) : { ok: false, reason: 'pinning off' };
  const pinned = { ...pinRes, cpus };
  const flags =
    (localCpuSource === 'native' ? ThreadCpuTable.FLAG_NATIVE : 0) |
    (cpus && pinRes.ok ? ThreadCpuTable.FLAG_PINNED : 0) |
    (named.ok ? ThreadCpuTable.FLAG_NAMED : 0);

  const { slot, gen } = claimed;
  let timer: NodeJS.Timeout | undefined;
  let live = slot >= 0;
  const handle: ThreadHandle = {
    name,
    slot,
    tid,
    named,
    pinned,
    cpuSource: localCpuSource,
    publish() {
      if (live && !table.publishOwn(slot, gen)) {
        // Another thread took this name over (a restart while we ran): stop writing.
        live = false;
        if (timer) clearInterval(timer);
      }
    },
    release() {
      if (timer) clearInterval(timer);
      timer = undefined;
      localHandles.delete(handle);
      if (!live) return;
      handle.publish();
      live = false;
      table.release(slot, gen);
    },
  };
  if (slot >= 0) {
    Atomics.store(table.i32, table.i32Base(slot) + ThreadCpuTable.kFlags, flags);
    handle.publish();
    timer = setInterval(handle.publish, shared.publishMs);
    timer.unref();
    localHandles.add(handle);
  }
  return handle;
}

// ─── Main thread: the registry and the scrape-time reader ───────────────────

export interface ThreadsOptions {
  pinning: PinningConfig;
  /** How often each thread publishes its CPU on its own, ms. */
  cpuPublishMs: number;
}

export interface ThreadCpuSample {
  name: string;
  /** CPU seconds used by every thread that has carried this name; monotonic. */
  cpuSeconds: number;
  source: CpuSource;
  /** Kernel tid of the current owner; -1 when none or unknown. */
  tid: number;
  /** True when read from the kernel's clock at this moment rather than the last published figure. */
  live: boolean;
}

/** Owned by the main thread: the placement, the table, and the scrape-time reader. */
export class ThreadRegistry {
  /**
   * Compiles the placement (throws MMO_ERR_PINNING, see planPlacement) and
   * makes the table. Call on the main thread BEFORE setupThread pins it, so
   * the placement sees the whole process mask. Cold path.
   */
  static create(opts: ThreadsOptions & { zones?: number; capacity?: number; cpus?: readonly number[] }): ThreadRegistry {
    const placementOpts: { zones?: number; cpus?: readonly number[] } = {};
    if (opts.zones !== undefined) placementOpts.zones = opts.zones;
    if (opts.cpus !== undefined) placementOpts.cpus = opts.cpus;
    const placement = planPlacement(opts.pinning, placementOpts);
    return new ThreadRegistry(ThreadCpuTable.create(opts.capacity ?? 64), placement, opts.cpuPublishMs);
  }

  readonly shared: ThreadsShared;
  /** Highest value handed out per slot: keeps each series monotonic across owner changes. */
  private readonly last: Float64Array;
  private readonly scratch = new Float64Array(2);

  private constructor(
    readonly table: ThreadCpuTable,
    readonly placement: ThreadPlacement,
    publishMs: number,
  ) {
    this.shared = Object.freeze({ table: table.buffer, placement, publishMs });
    this.last = new Float64Array(table.capacity);
  }

  /** Registers a thread name ahead of its start, so it appears (at 0) before it runs. Returns the slot, -1 when full. */
  register(name: string): number {
    return this.table.register(name);
  }

  /** Frees a name's slot after its thread exited (worker 'exit'): a worker killed by terminate() cannot release itself. */
  release(name: string): void {
    const slot = this.table.find(name);
    if (slot >= 0) this.table.release(slot);
  }

  /**
   * Every named slot's CPU seconds, for the scrape. A live owner with the
   * addon is read from the kernel's per-thread clock (after checking its tid
   * still carries the name); otherwise the last published figure. Allocates;
   * call at scrape time, not per message.
   */
  sample(): ThreadCpuSample[] {
    for (const h of localHandles) h.publish();
    const t = this.table;
    const out: ThreadCpuSample[] = [];
    const used = t.used;
    for (let s = 0; s < used; s++) {
      const name = t.nameOf(s);
      t.read(s, this.scratch);
      let cpu = this.scratch[1]!;
      const base = this.scratch[0]!;
      const flags = t.flags(s);
      const owned = t.state(s) === ThreadCpuTable.STATE_OWNED;
      const tid = owned ? t.tid(s) : -1;
      let live = false;
      if (owned && tid > 0 && flags & ThreadCpuTable.FLAG_NATIVE && liveThreadName(tid) === name) {
        const now = siblingThreadCpuSeconds(tid);
        if (now >= 0) {
          cpu = Math.max(cpu, now);
          live = true;
        }
      }
      const value = Math.max(this.last[s]!, base + cpu);
      this.last[s] = value;
      // A name registered ahead but never claimed shows 0 with the source this process would use.
      const neverOwned = Atomics.load(t.i32, t.i32Base(s) + ThreadCpuTable.kGen) === 0;
      const source: CpuSource = neverOwned ? localCpuSource : flags & ThreadCpuTable.FLAG_NATIVE ? 'native' : 'estimate';
      out.push({ name, cpuSeconds: value, source, tid, live });
    }
    return out;
  }
}
