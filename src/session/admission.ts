// Admission control on the WebSocket upgrade: token buckets for new
// handshakes, per source address and global. After an outage every client
// reconnects at once; resumes are what brings players back, so they are
// admitted ahead of fresh logins: a fresh login may only use the part of the
// global budget above a reserve kept for resumes.
//
// The client says it is resuming in the upgrade URL (`/ws?resume=<sessionId>`);
// the claim only chooses the queue. A claim for a session that does not exist
// is treated as a fresh login, and the Resume message itself is checked later
// against the session's secret token.

import { TokenBucket } from './token-bucket.js';
import { Budget, BudgetAction } from './budget.js';
import type { SharedAdmission } from './shared-admission.js';

/** What each action costs from the address and account budgets (admission.costs). */
export interface AdmissionCosts {
  handshake: number;
  login: number;
  resume: number;
  move: number;
  chat: number;
}

export interface AdmissionConfig {
  /** Global new handshakes per second (resumes and logins together). */
  handshakesPerSec: number;
  handshakeBurst: number;
  /** Fraction of the global burst only resumes may use (0..1). */
  resumeReserve: number;
  /** Per source address, fresh logins. */
  perAddressLoginsPerSec: number;
  perAddressLoginBurst: number;
  /** Per source address, resumes (generous: many players may share a NAT address). */
  perAddressResumesPerSec: number;
  perAddressResumeBurst: number;
  /** Tracked source addresses before idle ones are evicted. */
  maxTrackedAddresses: number;
  /** One budget per source address and one per account, in cost units (see budget.ts). Absent: no budgets (tests of the buckets alone). */
  budgetPerSec?: number;
  budgetBurst?: number;
  accountBudgetPerSec?: number;
  accountBudgetBurst?: number;
  costs?: AdmissionCosts;
}

/** Tightened admission while the process sheds load (set by the degradation controller). */
export interface ShedPolicy {
  /** Share of the global burst fresh logins may not use. */
  loginReserve: number;
  /** An address that overran its budget within this long is refused. */
  abuserWindowMs: number;
}

export const Admit = { ok: 0 } as const;

export interface AdmissionStats {
  admittedLogins: number;
  admittedResumes: number;
  refusedGlobal: number;
  refusedAddress: number;
  /** Refused because the address's cost budget was spent. */
  refusedBudget: number;
  /** Refused while shedding: an address that overran its budget recently, or a login beyond the tightened share. */
  refusedShed: number;
}

interface AddressBuckets {
  login: TokenBucket;
  resume: TokenBucket;
  lastSeen: number;
}

export class Admission {
  private readonly global: TokenBucket;
  private readonly reserve: number;
  private readonly addresses = new Map<string, AddressBuckets>();
  readonly stats: AdmissionStats = { admittedLogins: 0, admittedResumes: 0, refusedGlobal: 0, refusedAddress: 0, refusedBudget: 0, refusedShed: 0 };
  /** Cost budget per source address; null without admission.costs. */
  readonly addressBudget: Budget | null;
  /** Cost budget per account id; null without admission.costs. */
  readonly accountBudget: Budget | null;
  private shed: ShedPolicy | null = null;

  /**
   * `shared`: the gateway runs on several threads, which admit upgrades
   * against that table; this object then keeps only the account budgets (the
   * main thread alone knows accounts) and spends inputs' address costs from
   * the shared table, so handshakes and inputs from one address draw on one
   * budget whichever thread carries them.
   */
  constructor(
    private readonly cfg: AdmissionConfig,
    nowMs: number,
    private readonly shared: SharedAdmission | null = null,
  ) {
    this.global = new TokenBucket(cfg.handshakesPerSec, cfg.handshakeBurst, nowMs);
    this.reserve = Math.floor(cfg.handshakeBurst * cfg.resumeReserve);
    const w = cfg.costs;
    this.addressBudget = w && !shared ? new Budget({ perSec: cfg.budgetPerSec ?? 2000, burst: cfg.budgetBurst ?? 5000, weights: w, maxKeys: cfg.maxTrackedAddresses }) : null;
    this.accountBudget = w ? new Budget({ perSec: cfg.accountBudgetPerSec ?? 200, burst: cfg.accountBudgetBurst ?? 600, weights: w, maxKeys: cfg.maxTrackedAddresses }) : null;
  }

  /** Tightens admission (a ShedPolicy) or restores it (null). Cold path: the degradation controller calls it once per step. */
  setShedding(policy: ShedPolicy | null): void {
    this.shed = policy;
    this.shared?.setShedding(policy);
  }

  get shedding(): boolean {
    return this.shed !== null;
  }

  /**
   * Spends an input's cost (a move, or a chat line) from its address's and
   * its account's budgets. False: over budget, drop it like a rate-limited
   * input. The hot call of the session layer: two Map lookups, no allocation.
   */
  spendInput(address: string, accountId: number, chat: boolean, nowMs: number, addressKey = -1): boolean {
    const account = this.accountBudget;
    if (account === null) return true;
    const action = chat ? BudgetAction.chat : BudgetAction.move;
    // The shared table keeps time in Date.now() ms, as every thread can read it.
    const sh = this.shared;
    const byAddress = sh
      ? addressKey >= 0
        ? sh.spendAddressKey(addressKey, action, Date.now())
        : sh.spendAddress(address, action, Date.now())
      : this.addressBudget!.spend(address, action, nowMs);
    return byAddress && account.spend(accountId, action, nowMs);
  }

  /** The key a connection keeps for spendInput (SharedAdmission.addressKey); -1 without a shared table. Cold path. */
  addressKey(address: string): number {
    return this.shared ? this.shared.addressKey(address) : -1;
  }

  /** Spends a login's cost from the account's budget (a token or guest login over the WebSocket); false: refuse it. */
  spendLogin(accountId: number, nowMs: number): boolean {
    return this.accountBudget === null || this.accountBudget.spend(accountId, BudgetAction.login, nowMs);
  }

  /**
   * Returns 0 to admit, or a delay in ms after which a retry may succeed.
   * `resume` is true when the client claims to resume an existing session.
   */
  admit(address: string, resume: boolean, nowMs: number): number {
    const shed = this.shed;
    const ab = this.addressBudget;
    if (shed !== null && ab !== null && ab.overrun(address, nowMs, shed.abuserWindowMs)) {
      this.stats.refusedShed++;
      return Math.max(1000, shed.abuserWindowMs);
    }
    if (ab !== null && !(ab.spend(address, BudgetAction.handshake, nowMs) && ab.spend(address, resume ? BudgetAction.resume : BudgetAction.login, nowMs))) {
      this.stats.refusedBudget++;
      return 1000;
    }
    const a = this.bucketsFor(address, nowMs);
    const own = resume ? a.resume : a.login;
    const ownWait = own.waitMs(nowMs);
    if (ownWait > 0) {
      this.stats.refusedAddress++;
      return ownWait;
    }
    const floor = resume ? 0 : shed === null ? this.reserve : Math.max(this.reserve, Math.floor(this.cfg.handshakeBurst * shed.loginReserve));
    if (!this.global.take(nowMs, 1, floor)) {
      if (shed !== null && !resume) this.stats.refusedShed++;
      else this.stats.refusedGlobal++;
      return Math.max(1, this.global.waitMs(nowMs, 1, floor));
    }
    own.take(nowMs);
    if (resume) this.stats.admittedResumes++;
    else this.stats.admittedLogins++;
    return 0;
  }

  get trackedAddresses(): number {
    return this.addresses.size;
  }

  private bucketsFor(address: string, nowMs: number): AddressBuckets {
    let a = this.addresses.get(address);
    if (!a) {
      if (this.addresses.size >= this.cfg.maxTrackedAddresses) this.evictIdle(nowMs);
      a = {
        login: new TokenBucket(this.cfg.perAddressLoginsPerSec, this.cfg.perAddressLoginBurst, nowMs),
        resume: new TokenBucket(this.cfg.perAddressResumesPerSec, this.cfg.perAddressResumeBurst, nowMs),
        lastSeen: nowMs,
      };
      this.addresses.set(address, a);
    }
    a.lastSeen = nowMs;
    return a;
  }

  /**
   * Drops addresses whose buckets have refilled (they carry no state worth
   * keeping); if none qualify, drops the least recently seen half. Cold path.
   */
  private evictIdle(nowMs: number): void {
    const fullAfterMs = Math.max(
      (this.cfg.perAddressLoginBurst / this.cfg.perAddressLoginsPerSec) * 1000,
      (this.cfg.perAddressResumeBurst / this.cfg.perAddressResumesPerSec) * 1000,
    );
    for (const [k, a] of this.addresses) if (nowMs - a.lastSeen >= fullAfterMs) this.addresses.delete(k);
    if (this.addresses.size < this.cfg.maxTrackedAddresses) return;
    const byAge = [...this.addresses].sort((x, y) => x[1].lastSeen - y[1].lastSeen);
    for (let i = 0; i < byAge.length / 2; i++) this.addresses.delete(byAge[i]![0]);
  }
}
