// When this node takes and releases an account's claim (persist/account-claims.ts).
//
//   login:  takeover asked (account-takeover.ts) ──▶ claim ──▶ load the player
//           claim held elsewhere: refused 4200, retry-after (the retry is then
//           a takeover: the other node is asked to let go first)
//   other node's login asks us to let go: the session ends and is saved
//           (node.ts letGo) ──▶ claim released ──▶ answer "saved"
//   session ends here (logout, zombie expiry): released by the sweep once the
//           final state is written (Persistence.holdsAccount false), every
//           SWEEP_MS
//   a login here while this node still holds the claim of a session that
//           just ended: waits until that session's zone has handed back its
//           final state (read-your-writes then loads it), not the state from
//           before its last moves
//
// The takeover question alone lets two logins at the same instant on two
// nodes both load (each asked the other before either had loaded anything);
// the claim makes one of them lose. A login refused this way costs its client
// one retry after retry-after-ms.

import type { Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { PullCounter, PullGauge } from '../metrics/hot.js';
import { AccountClaims, ClaimResult } from '../persist/account-claims.js';

/** How often claims of accounts no longer held here are released. */
export const SWEEP_MS = 1000;

export const CLAIM_REFUSED = 'this account is being loaded or played on another node; retry-after-ms=1000';
export const CLAIM_UNAVAILABLE = 'account claims are unavailable (the database connection is down); retry-after-ms=2000';
export const STILL_LEAVING = 'this account\'s last session is still leaving its zone; retry-after-ms=1000';

export interface ClaimKeeperHooks {
  /** Whether anything of the account is here (Persistence.holdsAccount). */
  holds(accountId: number): boolean;
  /** Whether a session of the account ended here and its zone has not handed back its final state yet. */
  leaving(accountId: number): boolean;
  /** How long a login waits for that, at most (cluster.nodeTimeoutMs). */
  waitMs: number;
}

export class ClaimKeeper {
  /** Logins refused because another node held the account's claim. */
  refused = 0;
  /** Logins refused because the claims connection was down. */
  unavailable = 0;
  /** Claims released (a session ended here and was saved, or another node's login asked for it). */
  released = 0;
  private timer: ReturnType<typeof setInterval> | null = null;
  private sweeping = false;

  constructor(
    readonly claims: AccountClaims,
    private readonly hooks: ClaimKeeperHooks,
  ) {}

  /**
   * Opens the claims connection to persist.postgresUrl (throws, code
   * MMO_ERR_PERSIST_UNAVAILABLE, when it cannot). `lost`: a claim could not be
   * taken back after the connection dropped; end the account's session here.
   */
  static async open(config: Config, log: Logger, hooks: Omit<ClaimKeeperHooks, 'waitMs'> & { lost: (accountId: number) => void }): Promise<ClaimKeeper> {
    const claims = await AccountClaims.open({
      url: config.persist.postgresUrl,
      connectTimeoutMs: config.persist.connectTimeoutMs,
      statementTimeoutMs: config.persist.statementTimeoutMs,
      log,
      onLost: hooks.lost,
    });
    return new ClaimKeeper(claims, { holds: hooks.holds, leaving: hooks.leaving, waitMs: config.cluster.nodeTimeoutMs });
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.sweep(), SWEEP_MS);
    this.timer.unref();
  }

  /** Before loading `accountId`'s player: null to go ahead (the claim is held), else why not (close 4200). Never rejects. */
  async take(accountId: number): Promise<string | null> {
    const r = await this.claims.take(accountId);
    if (r === ClaimResult.taken) return this.left(accountId);
    if (r === ClaimResult.heldElsewhere) {
      this.refused++;
      return CLAIM_REFUSED;
    }
    this.unavailable++;
    return CLAIM_UNAVAILABLE;
  }

  /** Null once no session of the account is leaving here (bounded by waitMs; cold path: polled every 10 ms). */
  private left(accountId: number): Promise<string | null> {
    if (!this.hooks.leaving(accountId)) return Promise.resolve(null);
    const end = performance.now() + this.hooks.waitMs;
    return new Promise((resolve) => {
      const check = (): void => {
        if (!this.hooks.leaving(accountId)) return resolve(null);
        if (performance.now() >= end) return resolve(STILL_LEAVING);
        setTimeout(check, 10);
      };
      setTimeout(check, 10);
    });
  }

  /** Releases the claim of `accountId` if nothing of it is here any more; resolves once released. Never rejects. */
  async releaseIfFree(accountId: number): Promise<void> {
    if (!this.claims.holds(accountId) || this.hooks.holds(accountId)) return;
    this.released++;
    await this.claims.release(accountId);
  }

  /** Releases every claim of an account no longer here. Cold path: once a second, over the claims held. */
  async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      // Not one after the other: pg pipelines them on the one connection (a mass logout is one round trip, not thousands).
      await Promise.all(this.claims.accounts().map((a) => this.releaseIfFree(a)));
    } finally {
      this.sweeping = false;
    }
  }

  /** Shutdown, after the final saves: closing the connection releases every claim. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.claims.close();
  }
}

export function registerClaimMetrics(registry: Registry, k: ClaimKeeper): void {
  new PullGauge(registry, 'mmo_cluster_account_claims', 'Accounts whose claim this node holds in the shared database (their players are live, loading or not yet saved here).', () => k.claims.size);
  new PullCounter(registry, 'mmo_cluster_account_claims_refused_total', 'Logins refused (4200, retry-after) because another node held the account\'s claim: two logins of one account at once on two nodes.', () => k.refused);
  new PullCounter(registry, 'mmo_cluster_account_claims_unavailable_total', 'Logins refused (4200, retry-after) because the claims connection to the database was down.', () => k.unavailable);
  new PullCounter(registry, 'mmo_cluster_account_claims_released_total', 'Account claims released: the account\'s player was saved and is no longer here.', () => k.released);
  new PullCounter(registry, 'mmo_cluster_account_claims_lost_total', 'Claims this node could not take back after its claims connection dropped (another node had the account meanwhile): the session here was ended.', () => k.claims.lost);
}
