// Password-guess limit for POST /auth/login, answered before the password
// hash runs. A login costs one scrypt (~100 ms of a hash thread at the
// default cost): the per-address token bucket alone lets 250 loopback
// addresses guessing one account keep the hash thread busy all the time
// (measured: auth-bruteforce alone cost 1.17 cores, half of it hashing).
//
// Two fixed windows of attempts, one per account name (whoever guesses it)
// and one per source address (whatever names it tries). An attempt is
// charged when it starts, so guesses already waiting for the hash count too,
// and refunded when it turns out not to be a wrong password (a success, a
// busy hash pool, a database error). `perName` charged attempts within
// `windowMs` lock the name for `lockoutMs`; `perAddress` lock the address.
// A locked name or address is answered 429 with retry-after at once.
//
// A correct password proves ownership, so a success lifts the name's lock,
// and the address it came from (or the account was registered from) is
// trusted for that name for TRUST_MS: while
// strangers keep the name locked, its owner can still log in from where they
// logged in before (their failures still count against their address).
//
// Memory is bounded: each map holds at most maxTracked keys. Keys idle past
// their window and lock go first; if that is not enough, the least recently
// used eighth. An attacker who cycles through more than maxTracked names or
// addresses within a window can so reset someone's count; the per-address
// limit and bucket still hold them.
//
// Cold path (one HTTP login request): strings and Map operations are fine.

import type { Registry } from 'prom-client';
import { HotCounter, PullGauge } from '../metrics/hot.js';

export interface GuessLimitConfig {
  /** Charged (not refunded) attempts per account name within windowMs before it is locked. */
  perName: number;
  /** Charged attempts per source address within windowMs before it is locked. */
  perAddress: number;
  windowMs: number;
  lockoutMs: number;
  /** Most keys tracked per map (names, addresses, trusted pairs). */
  maxTracked: number;
}

/** How a login attempt ended, for end(). */
export const GuessOutcome = { ok: 0, wrongPassword: 1, notAGuess: 2 } as const;
export type GuessOutcomeValue = (typeof GuessOutcome)[keyof typeof GuessOutcome];

/** What was locked: the `scope` label of the metrics. */
export const GuessScope = { name: 0, address: 1 } as const;
const SCOPE_LABELS = [{ scope: 'name' }, { scope: 'address' }];

/** How long a success keeps its address trusted for that name. */
export const TRUST_MS = 24 * 3600_000;

interface Entry {
  /** Attempts charged in the current window. */
  count: number;
  windowStart: number;
  /** ms until which the key is locked (0: not locked). */
  lockedUntil: number;
}

export class GuessLimit {
  private readonly names = new Map<string, Entry>();
  private readonly addrs = new Map<string, Entry>();
  /** `${name}\n${address}` → ms of its last successful login. */
  private readonly trusted = new Map<string, number>();
  private readonly refused: HotCounter | null;
  private readonly lockouts: HotCounter | null;

  constructor(
    readonly cfg: GuessLimitConfig,
    registry: Registry | null = null,
  ) {
    for (const k of ['perName', 'perAddress', 'windowMs', 'lockoutMs', 'maxTracked'] as const) {
      if (!Number.isInteger(cfg[k]) || cfg[k] < 1) throw new RangeError(`guess limit ${k} must be an integer >= 1, got ${cfg[k]}`);
    }
    if (registry) {
      this.refused = new HotCounter(registry, 'mmo_auth_guess_refused_total', 'Logins answered 429 before the password hash because the account name or the address was locked for too many failed attempts, by scope.', SCOPE_LABELS);
      this.lockouts = new HotCounter(registry, 'mmo_auth_guess_lockouts_total', 'Account names and addresses locked for too many failed logins, by scope.', SCOPE_LABELS);
      new PullGauge(registry, 'mmo_auth_guess_tracked', 'Account names and addresses the login guess limit tracks now.', () => this.names.size + this.addrs.size);
    } else {
      this.refused = null;
      this.lockouts = null;
    }
  }

  /**
   * A login attempt for `name` from `address` is about to hash a password:
   * 0 when it may (it is charged), else the ms until it may try again.
   */
  begin(name: string, address: string, now: number): number {
    const key = nameKey(name);
    const a = this.touch(this.addrs, address, now);
    if (a.lockedUntil > now) return this.refuse(GuessScope.address, a.lockedUntil - now);
    const n = this.touch(this.names, key, now);
    if (n.lockedUntil > now && !this.isTrusted(key, address, now)) return this.refuse(GuessScope.name, n.lockedUntil - now);
    if (++a.count >= this.cfg.perAddress && a.lockedUntil <= now) this.lock(a, GuessScope.address, now);
    if (++n.count >= this.cfg.perName && n.lockedUntil <= now) this.lock(n, GuessScope.name, now);
    return 0;
  }

  /** The attempt begin() let through ended: a wrong password keeps its charge; anything else gets it back. */
  end(name: string, address: string, outcome: GuessOutcomeValue, now: number): void {
    if (outcome === GuessOutcome.wrongPassword) return;
    const key = nameKey(name);
    const a = this.addrs.get(address);
    const n = this.names.get(key);
    if (a) refund(a);
    if (n) refund(n);
    if (outcome !== GuessOutcome.ok) return;
    if (n) n.lockedUntil = 0; // the password was right: whoever knows it may log in
    this.trust(name, address, now);
  }

  /** `address` proved it knows `name`'s password (a login, or the registration): it may log in while strangers keep the name locked. */
  trust(name: string, address: string, now: number): void {
    const pair = `${nameKey(name)}\n${address}`;
    this.trusted.delete(pair);
    if (this.trusted.size >= this.cfg.maxTracked) this.evictTrusted(now);
    this.trusted.set(pair, now);
  }

  /** Locked now? ms left, 0 when not (tests, operators). */
  lockedFor(scope: (typeof GuessScope)[keyof typeof GuessScope], key: string, now: number): number {
    const e = scope === GuessScope.name ? this.names.get(nameKey(key)) : this.addrs.get(key);
    return e && e.lockedUntil > now ? e.lockedUntil - now : 0;
  }

  get tracked(): { names: number; addresses: number; trusted: number } {
    return { names: this.names.size, addresses: this.addrs.size, trusted: this.trusted.size };
  }

  private refuse(scope: number, waitMs: number): number {
    this.refused?.inc(scope);
    return Math.max(1, Math.ceil(waitMs));
  }

  private lock(e: Entry, scope: number, now: number): void {
    e.lockedUntil = now + this.cfg.lockoutMs;
    this.lockouts?.inc(scope);
  }

  private isTrusted(key: string, address: string, now: number): boolean {
    const at = this.trusted.get(`${key}\n${address}`);
    return at !== undefined && now - at < TRUST_MS;
  }

  /** The entry for `key`, its window rolled, moved to the most recently used end. */
  private touch(map: Map<string, Entry>, key: string, now: number): Entry {
    let e = map.get(key);
    if (e) map.delete(key);
    else {
      if (map.size >= this.cfg.maxTracked) this.evict(map, now);
      e = { count: 0, windowStart: now, lockedUntil: 0 };
    }
    if (now - e.windowStart >= this.cfg.windowMs) {
      e.count = 0;
      e.windowStart = now;
    }
    map.set(key, e);
    return e;
  }

  private evict(map: Map<string, Entry>, now: number): void {
    for (const [k, e] of map) if (e.lockedUntil <= now && now - e.windowStart >= this.cfg.windowMs) map.delete(k);
    if (map.size < this.cfg.maxTracked) return;
    let drop = Math.max(1, map.size >> 3);
    for (const k of map.keys()) {
      map.delete(k);
      if (--drop === 0) break;
    }
  }

  private evictTrusted(now: number): void {
    for (const [k, at] of this.trusted) if (now - at >= TRUST_MS) this.trusted.delete(k);
    if (this.trusted.size < this.cfg.maxTracked) return;
    let drop = Math.max(1, this.trusted.size >> 3);
    for (const k of this.trusted.keys()) {
      this.trusted.delete(k);
      if (--drop === 0) break;
    }
  }
}

/** Gives an attempt's charge back. A lock it helped set stays: only time, or a right password for the name, lifts one. */
function refund(e: Entry): void {
  if (e.count > 0) e.count--;
}

/** Names compare case-insensitively here, so "Victim" and "victim" share one count (stricter, never looser). */
function nameKey(name: string): string {
  return name.toLowerCase();
}

/** The limit auth.* configures, or null when auth.guessLimit is off. Cold path (start-up). */
export function guessLimitFor(
  auth: { guessLimit: boolean; guessesPerName: number; guessesPerAddress: number; guessWindowMs: number; guessLockoutMs: number; guessMaxTracked: number },
  registry: Registry,
): GuessLimit | null {
  if (!auth.guessLimit) return null;
  return new GuessLimit(
    { perName: auth.guessesPerName, perAddress: auth.guessesPerAddress, windowMs: auth.guessWindowMs, lockoutMs: auth.guessLockoutMs, maxTracked: auth.guessMaxTracked },
    registry,
  );
}
