// Admission control in shared memory, for the gateway on several threads:
// the same rules as admission.ts (a global handshake bucket with a reserve
// only resumes may use, per-address login and resume buckets, one cost budget
// per address that handshakes, logins, resumes, moves and chat all spend from,
// and the tightened rules while the process sheds load), decided
// synchronously by whichever gateway thread the upgrade reached, against one
// budget for the whole process. An attacker gets no more by landing on more
// threads. The main thread spends inputs from the same address budgets
// (spendAddress, through admission.ts) and sets the shedding policy.
//
// Why synchronous: uWS on 20.30 loses about one connection in a few hundred
// when the upgrade is answered later from another event (the socket opens,
// then closes 1006 before its first message; measured in
// test/gateway-threads.test.ts, gone with the upgrade answered in the handler).
//
// Layout (one SharedArrayBuffer; i32 words, f64 at 8-byte aligned offsets):
//
//   [0, 64)             header: i32 kGlobalLock, counters (kAdmittedLogins..kRefusedShed),
//                        i32 kShedOn | f64 shed login reserve (byte 32) | f64 shed abuser window ms (byte 40)
//   [64, 128)           global bucket: f64 tokens, f64 last refill (Date.now() ms)
//   [128, +slots*64)    address slots, direct-mapped by a seeded hash of the address:
//                        i32 lock | i32 key (a second hash) | f64 login tokens |
//                        f64 login last | f64 resume tokens | f64 resume last |
//                        f64 budget units | f64 budget last | f64 budget last overrun
//   [.., +filter*4)     live session ids, direct-mapped by id (0: empty)
//
// Who writes: every gateway thread and the main thread (inputs' costs), under
// each bucket's lock (a spin on Atomics.compareExchange around a few
// arithmetic operations); the shedding words only the main thread; the session
// filter only the main thread, which creates and ends sessions; gateway
// threads read it. Read late: a session created an instant ago may be missed
// by a thread (its resume claim then waits in the login queue, which only
// changes its priority; the Resume message itself is checked on the main
// thread against the session's token). Two live sessions in one filter slot:
// the later wins the slot, the earlier's claims are treated as logins.
// Two addresses in one address slot: the later resets the slot to a full
// burst (a fresh address is owed one); the hash is seeded per process so a
// collision cannot be chosen from outside.

import { randomInt } from 'node:crypto';
import type { AdmissionConfig, AdmissionStats, ShedPolicy } from './admission.js';
import { BudgetAction, BUDGET_ACTION_NAMES, type BudgetActionValue } from './budget.js';

const kGlobalLock = 0;
const kAdmittedLogins = 1;
const kAdmittedResumes = 2;
const kRefusedGlobal = 3;
const kRefusedAddress = 4;
const kShedOn = 5;
const kRefusedBudget = 6;
const kRefusedShed = 7;
/** f64 indexes of the shedding policy in the header. */
const fShedReserve = 4;
const fShedWindow = 5;
const HEADER_BYTES = 64;
const GLOBAL_BYTES = 64;
const SLOT_BYTES = 64;
/** f64 offsets inside a slot, from its first f64 (after lock and key). */
const sLogin = 0;
const sResume = 2;
const sBudget = 4;
const sOverAt = 6;
/** Address slots: 65,536 of 64 bytes, one cache line each (4 MiB); beyond maxTrackedAddresses the table simply recycles slots. */
const SLOTS = 1 << 16;
/** Session filter slots: 2^20 (4 MiB); at 10,000 sessions about 1 % share a slot. */
const FILTER = 1 << 20;

export interface SharedAdmissionInit {
  sab: SharedArrayBuffer;
  cfg: AdmissionConfig;
  seed: number;
}

export class SharedAdmission {
  static bytesFor(): number {
    return HEADER_BYTES + GLOBAL_BYTES + SLOTS * SLOT_BYTES + FILTER * 4;
  }

  /** A new table, every bucket full. Cold path (main thread). */
  static create(cfg: AdmissionConfig, nowMs = Date.now()): SharedAdmission {
    const sab = new SharedArrayBuffer(SharedAdmission.bytesFor());
    const a = new SharedAdmission({ sab, cfg, seed: randomInt(1, 0x7fffffff) });
    a.f64[HEADER_BYTES / 8] = cfg.handshakeBurst;
    a.f64[HEADER_BYTES / 8 + 1] = nowMs;
    return a;
  }

  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly filter: Int32Array;
  private readonly reserve: number;
  private readonly slotBase = (HEADER_BYTES + GLOBAL_BYTES) / 4;
  /** Cost of each BudgetAction; null without admission.costs (no cost budgets). */
  private readonly weights: Float64Array | null;
  private readonly budgetPerSec: number;
  private readonly budgetBurst: number;

  /** Wraps a table made by create() (pass `init` from another thread's workerData). */
  constructor(readonly init: SharedAdmissionInit) {
    this.i32 = new Int32Array(init.sab, 0, (HEADER_BYTES + GLOBAL_BYTES + SLOTS * SLOT_BYTES) / 4);
    this.f64 = new Float64Array(init.sab, 0, (HEADER_BYTES + GLOBAL_BYTES + SLOTS * SLOT_BYTES) / 8);
    this.filter = new Int32Array(init.sab, HEADER_BYTES + GLOBAL_BYTES + SLOTS * SLOT_BYTES, FILTER);
    this.reserve = Math.floor(init.cfg.handshakeBurst * init.cfg.resumeReserve);
    const costs = init.cfg.costs;
    this.weights = costs ? Float64Array.from(BUDGET_ACTION_NAMES, (n) => costs[n]) : null;
    this.budgetPerSec = init.cfg.budgetPerSec ?? 2000;
    this.budgetBurst = init.cfg.budgetBurst ?? 5000;
  }

  /** Main thread (the degradation controller): tighten admission for every thread, or (null) restore it. */
  setShedding(policy: ShedPolicy | null): void {
    if (policy) {
      this.f64[fShedReserve] = policy.loginReserve;
      this.f64[fShedWindow] = policy.abuserWindowMs;
    }
    Atomics.store(this.i32, kShedOn, policy ? 1 : 0);
  }

  get shedding(): boolean {
    return Atomics.load(this.i32, kShedOn) === 1;
  }

  /**
   * Spends an action's cost from `address`'s budget, the one every thread's
   * handshakes spend from too (the main thread calls this per input through
   * admission.ts). False: over budget, nothing spent. True without cost
   * budgets. Allocation-free but for the hash's string walk.
   */
  spendAddress(address: string, action: BudgetActionValue, nowMs: number): boolean {
    return this.spendAddressKey(this.addressKey(address), action, nowMs);
  }

  /**
   * The address's slot and check key, packed in one number (slot * 2^32 +
   * key): a connection computes it once and spends with spendAddressKey, so
   * an input does not walk the address string twice. Stable for the process
   * (the seed is fixed at creation).
   */
  addressKey(address: string): number {
    const slot = hash(address, this.init.seed) & (SLOTS - 1);
    const key = (hash(address, this.init.seed ^ 0x5bd1e995) | 1) >>> 0;
    return slot * 0x100000000 + key;
  }

  /** spendAddress with a key from addressKey(). Allocation-free. */
  spendAddressKey(addressKey: number, action: BudgetActionValue, nowMs: number): boolean {
    if (this.weights === null) return true;
    const w = this.slotAt(addressKey, nowMs);
    try {
      return this.spendLocked(w / 2 + 1, action, nowMs);
    } finally {
      Atomics.store(this.i32, w, 0);
    }
  }

  /** Locks the address's slot (the caller unlocks `i32[w]`), resetting it when it held another address. Returns its i32 index. */
  private slotOf(address: string, nowMs: number): number {
    return this.slotAt(this.addressKey(address), nowMs);
  }

  /** slotOf for a key from addressKey(). */
  private slotAt(addressKey: number, nowMs: number): number {
    const cfg = this.init.cfg;
    const slot = Math.floor(addressKey / 0x100000000);
    const w = this.slotBase + (slot * SLOT_BYTES) / 4;
    const f = w / 2 + 1;
    const key = addressKey % 0x100000000 | 0;
    const i32 = this.i32;
    lock(i32, w);
    if (i32[w + 1] !== key) {
      const f64 = this.f64;
      i32[w + 1] = key;
      f64[f + sLogin] = cfg.perAddressLoginBurst;
      f64[f + sLogin + 1] = nowMs;
      f64[f + sResume] = cfg.perAddressResumeBurst;
      f64[f + sResume + 1] = nowMs;
      f64[f + sBudget] = this.budgetBurst;
      f64[f + sBudget + 1] = nowMs;
      f64[f + sOverAt] = -Infinity;
    }
    return w;
  }

  /** Under the slot's lock: spend, or mark the overrun and count it. */
  private spendLocked(f: number, action: BudgetActionValue, nowMs: number, also: BudgetActionValue | -1 = -1): boolean {
    const weights = this.weights!;
    const cost = weights[action]! + (also >= 0 ? weights[also]! : 0);
    refill(this.f64, f + sBudget, this.budgetPerSec, this.budgetBurst, nowMs);
    if (this.f64[f + sBudget]! >= cost) {
      this.f64[f + sBudget]! -= cost;
      return true;
    }
    this.f64[f + sOverAt] = nowMs;
    return false;
  }

  /**
   * 0 to admit, or a delay in ms after which a retry may succeed. `claim` is
   * the session id the upgrade says it resumes, or -1; a claim for a session
   * that does not exist is a fresh login. Allocation-free but for the address
   * hash's string walk.
   */
  admit(address: string, claim: number, nowMs: number): number {
    const cfg = this.init.cfg;
    const resume = claim >= 0 && this.hasSession(claim);
    const i32 = this.i32;
    const f64 = this.f64;
    const shed = Atomics.load(i32, kShedOn) === 1;
    const w = this.slotOf(address, nowMs);
    const f = w / 2 + 1; // the slot's first f64: after lock and key
    let wait = 0;
    try {
      if (shed && this.weights !== null && nowMs - f64[f + sOverAt]! <= f64[fShedWindow]!) {
        Atomics.add(i32, kRefusedShed, 1);
        return Math.max(1000, f64[fShedWindow]!);
      }
      if (this.weights !== null && !this.spendLocked(f, BudgetAction.handshake, nowMs, resume ? BudgetAction.resume : BudgetAction.login)) {
        Atomics.add(i32, kRefusedBudget, 1);
        return 1000;
      }
      const own = f + (resume ? sResume : sLogin);
      const rate = resume ? cfg.perAddressResumesPerSec : cfg.perAddressLoginsPerSec;
      const burst = resume ? cfg.perAddressResumeBurst : cfg.perAddressLoginBurst;
      refill(f64, own, rate, burst, nowMs);
      if (f64[own]! < 1) {
        Atomics.add(i32, kRefusedAddress, 1);
        return Math.max(1, Math.ceil(((1 - f64[own]!) / rate) * 1000));
      }
      // The global bucket, under its own lock (always taken after a slot's: no cycle).
      const g = HEADER_BYTES / 8;
      const floor = resume ? 0 : shed ? Math.max(this.reserve, Math.floor(cfg.handshakeBurst * f64[fShedReserve]!)) : this.reserve;
      lock(i32, kGlobalLock);
      try {
        refill(f64, g, cfg.handshakesPerSec, cfg.handshakeBurst, nowMs);
        if (f64[g]! - 1 < floor) wait = Math.max(1, Math.ceil(((1 + floor - f64[g]!) / cfg.handshakesPerSec) * 1000));
        else f64[g]! -= 1;
      } finally {
        Atomics.store(i32, kGlobalLock, 0);
      }
      if (wait > 0) {
        Atomics.add(i32, shed && !resume ? kRefusedShed : kRefusedGlobal, 1);
        return wait;
      }
      f64[own]! -= 1;
    } finally {
      Atomics.store(i32, w, 0);
    }
    Atomics.add(i32, resume ? kAdmittedResumes : kAdmittedLogins, 1);
    return 0;
  }

  /** Main thread, as sessions are created (live) and end. */
  noteSession(id: number, live: boolean): void {
    const s = (Math.imul(id, 0x9e3779b1) >>> 12) & (FILTER - 1);
    if (live) Atomics.store(this.filter, s, id | 0);
    else Atomics.compareExchange(this.filter, s, id | 0, 0);
  }

  hasSession(id: number): boolean {
    if (id === 0) return false;
    const s = (Math.imul(id, 0x9e3779b1) >>> 12) & (FILTER - 1);
    return Atomics.load(this.filter, s) === (id | 0);
  }

  /** Counters over every thread (cold path: allocates). */
  get stats(): AdmissionStats {
    const i = this.i32;
    return {
      admittedLogins: Atomics.load(i, kAdmittedLogins),
      admittedResumes: Atomics.load(i, kAdmittedResumes),
      refusedGlobal: Atomics.load(i, kRefusedGlobal),
      refusedAddress: Atomics.load(i, kRefusedAddress),
      refusedBudget: Atomics.load(i, kRefusedBudget),
      refusedShed: Atomics.load(i, kRefusedShed),
    };
  }
}

function lock(i32: Int32Array, at: number): void {
  // Held for a few arithmetic operations by whoever has it: spinning is cheaper than sleeping.
  while (Atomics.compareExchange(i32, at, 0, 1) !== 0) {
    // spin
  }
}

function refill(f64: Float64Array, at: number, rate: number, burst: number, nowMs: number): void {
  const dt = nowMs - f64[at + 1]!;
  if (dt > 0) {
    f64[at] = Math.min(burst, f64[at]! + (dt * rate) / 1000);
    f64[at + 1] = nowMs;
  }
}

/** FNV-1a over the address's characters, seeded. */
function hash(s: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
