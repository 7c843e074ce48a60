// Per-address and per-account budgets as costs, not counts: one bucket per
// source address (and one per account) that every action spends its own
// weight from. A handshake, a login, a resume, a move and a chat line each
// cost `weights[action]` units; the bucket refills at `perSec` units up to
// `burst`. An attacker that mixes cheap and dear actions cannot get the sum of
// every per-action allowance, as it could with one counter per action.
//
// Spending is the hot call: one Map lookup by the address text the socket
// already holds, a refill and a compare; no allocation once the key is known.
// Memory is bounded by maxKeys: a bucket that refilled to full is the same as
// no bucket, so those are dropped first, then the least recently used half.

/** What an action is; indexes the weights. */
export const BudgetAction = { handshake: 0, login: 1, resume: 2, move: 3, chat: 4 } as const;
export type BudgetActionValue = (typeof BudgetAction)[keyof typeof BudgetAction];
export const BUDGET_ACTION_NAMES = ['handshake', 'login', 'resume', 'move', 'chat'] as const satisfies readonly (keyof typeof BudgetAction)[];

export interface BudgetConfig {
  /** Units refilled per second per key. */
  perSec: number;
  /** Units a key may spend at once. */
  burst: number;
  /** Cost of each action, indexed by BudgetAction. */
  weights: Readonly<Record<keyof typeof BudgetAction, number>>;
  /** Keys tracked before idle ones are forgotten. */
  maxKeys: number;
}

interface Entry {
  units: number;
  /** ms of the last refill. */
  at: number;
  /** ms when the key last found its budget empty (-Infinity: never). */
  overAt: number;
}

export class Budget {
  private readonly entries = new Map<string | number, Entry>();
  private readonly weights: Float64Array;
  private readonly perMs: number;
  /** Refused spends, by BudgetAction (metrics). */
  readonly refused = new Float64Array(BUDGET_ACTION_NAMES.length);
  /** Accepted spends, by BudgetAction (metrics). */
  readonly spent = new Float64Array(BUDGET_ACTION_NAMES.length);

  constructor(private readonly cfg: BudgetConfig) {
    // cold path: the weights compiled into an array once
    this.weights = Float64Array.from(BUDGET_ACTION_NAMES, (n) => cfg.weights[n]);
    this.perMs = cfg.perSec / 1000;
  }

  /** Spends the action's weight (times `scale`) from `key`'s budget; false (nothing spent) when it does not cover it. */
  spend(key: string | number, action: BudgetActionValue, nowMs: number, scale = 1): boolean {
    const cost = this.weights[action]! * scale;
    let e = this.entries.get(key);
    if (e === undefined) {
      if (this.entries.size >= this.cfg.maxKeys) this.evict(nowMs);
      e = { units: this.cfg.burst, at: nowMs, overAt: -Infinity };
      this.entries.set(key, e);
    } else if (nowMs > e.at) {
      e.units = Math.min(this.cfg.burst, e.units + (nowMs - e.at) * this.perMs);
      e.at = nowMs;
    }
    if (e.units >= cost) {
      e.units -= cost;
      this.spent[action]!++;
      return true;
    }
    e.overAt = nowMs;
    this.refused[action]!++;
    return false;
  }

  /** Whether `key` ran out of budget within the last `withinMs` (an abuser: shed first under load). */
  overrun(key: string | number, nowMs: number, withinMs: number): boolean {
    const e = this.entries.get(key);
    return e !== undefined && nowMs - e.overAt <= withinMs;
  }

  /** Units left for `key` now (tests, diagnostics). */
  available(key: string | number, nowMs: number): number {
    const e = this.entries.get(key);
    if (!e) return this.cfg.burst;
    return Math.min(this.cfg.burst, e.units + Math.max(0, nowMs - e.at) * this.perMs);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Cold path: drop refilled keys, then the least recently refilled half. */
  private evict(nowMs: number): void {
    for (const [k, e] of this.entries) if (e.units + (nowMs - e.at) * this.perMs >= this.cfg.burst) this.entries.delete(k);
    if (this.entries.size < this.cfg.maxKeys) return;
    const byAge = [...this.entries].sort((x, y) => x[1].at - y[1].at);
    for (let i = 0; i < byAge.length / 2; i++) this.entries.delete(byAge[i]![0]);
  }
}
