// Claims on accounts in the shared PostgreSQL database (cluster mode only):
// the node that has an account's player live holds its claim, a session-level
// advisory lock `pg_try_advisory_lock(CLAIM_SPACE, account id)` on one
// connection of its own. Two nodes that load the same account at the same
// instant (each asked the other first and both heard "nothing here") cannot
// both get it: one is refused and retries, by then a takeover.
//
// Why an advisory lock and not a claimed_by/lease column: it belongs to the
// connection, so a node that dies loses its claims when PostgreSQL sees its
// connection close (at once for a killed process; for a vanished host, TCP
// keepalive on this connection: about 11 s, set below), with no lease to
// renew and no schema change. Its cost: one round trip per login and one per
// logout on this connection, none per save.
//
// A claim is taken before the player is loaded and released once nothing of
// the account is left here (cluster/account-claim.ts decides when). While the
// connection is down nothing can be claimed (logins refused, retry-after);
// PostgreSQL dropped what it held, so on reconnect every claim still wanted
// is taken again, and one another node took meanwhile is reported lost (that
// node's login asked this one first over NATS, so it is rare: both failures
// at once).
//
// Calls are serialized per account by this class and per connection by pg
// (one connection runs its queries in order), so a take and a release of one
// account never cross: a lock taken twice on one connection would need two
// unlocks.

import pg from 'pg';
import type { Logger } from '../log/logger.js';

/** The first key of every claim (the second is the account id): "mmo2". The migration lock is a one-key lock, another key space. */
export const CLAIM_SPACE = 0x6d6d6f32;

export const ClaimResult = {
  /** This node holds the claim (now, or already did). */
  taken: 'taken',
  /** Another node holds it. */
  heldElsewhere: 'held-elsewhere',
  /** The claims connection is down or the query failed: nothing is known. */
  unavailable: 'unavailable',
} as const;
export type ClaimResult = (typeof ClaimResult)[keyof typeof ClaimResult];

export interface AccountClaimsOptions {
  url: string;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
  log: Logger;
  /** A claim held before the connection dropped could not be taken back: another node has the account now. */
  onLost: (accountId: number) => void;
  /** Wait before a reconnect attempt. Default 1000 ms. */
  reconnectMs?: number;
  /** Test hook: awaited before each reconnect attempt (a test decides when the node comes back). */
  beforeReconnect?: () => Promise<void>;
}

export class AccountClaims {
  /** Accounts whose claim this node holds (or held when the connection dropped and wants back). */
  private readonly held = new Set<number>();
  /** Takes in flight, per account: a second take of the same account waits for the first. */
  private readonly taking = new Map<number, Promise<ClaimResult>>();
  private client: pg.Client | null = null;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  /** Claims taken back after a reconnect that another node had meanwhile. */
  lost = 0;
  reconnects = 0;

  private constructor(private readonly o: AccountClaimsOptions) {}

  /** Opens the claims connection; throws (code MMO_ERR_PERSIST_UNAVAILABLE) when the database cannot be reached. Cold path. */
  static async open(o: AccountClaimsOptions): Promise<AccountClaims> {
    const c = new AccountClaims(o);
    try {
      c.client = await c.connect();
    } catch (err) {
      throw Object.assign(new Error(`cannot open the account claims connection: ${(err as Error).message}`), { code: 'MMO_ERR_PERSIST_UNAVAILABLE' });
    }
    return c;
  }

  get size(): number {
    return this.held.size;
  }

  get up(): boolean {
    return this.client !== null;
  }

  holds(accountId: number): boolean {
    return this.held.has(accountId);
  }

  /** The accounts this node holds, a copy (the sweep iterates it while releasing). */
  accounts(): number[] {
    return [...this.held];
  }

  /** Takes the claim of `accountId`. Never rejects. */
  take(accountId: number): Promise<ClaimResult> {
    if (this.held.has(accountId) && this.client) return Promise.resolve(ClaimResult.taken);
    const inflight = this.taking.get(accountId);
    if (inflight) return inflight;
    const client = this.client;
    if (!client || this.closed) return Promise.resolve(ClaimResult.unavailable);
    const p = client
      .query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [CLAIM_SPACE, accountId | 0])
      .then(
        (r) => {
          if (r.rows[0]?.ok !== true) return ClaimResult.heldElsewhere;
          // The connection dropped while the answer was on its way: the lock went with it.
          if (this.client !== client) return ClaimResult.unavailable;
          this.held.add(accountId);
          return ClaimResult.taken;
        },
        (err: unknown) => {
          this.o.log.warn({ err, account: accountId }, 'could not take an account claim');
          return ClaimResult.unavailable;
        },
      )
      .finally(() => this.taking.delete(accountId));
    this.taking.set(accountId, p);
    return p;
  }

  /** Releases the claim of `accountId` (if held); resolves once PostgreSQL has (or the connection is gone, which releases it). Never rejects. */
  release(accountId: number): Promise<void> {
    if (!this.held.delete(accountId)) return Promise.resolve();
    const client = this.client;
    if (!client) return Promise.resolve();
    return client.query('SELECT pg_advisory_unlock($1, $2)', [CLAIM_SPACE, accountId | 0]).then(
      () => undefined,
      (err: unknown) => this.o.log.warn({ err, account: accountId }, 'could not release an account claim (it goes with the connection)'),
    );
  }

  /** Closes the connection: PostgreSQL releases every claim. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const c = this.client;
    this.client = null;
    this.held.clear();
    await c?.end().catch(() => undefined);
  }

  private async connect(): Promise<pg.Client> {
    const c = new pg.Client({
      connectionString: this.o.url,
      connectionTimeoutMillis: this.o.connectTimeoutMs,
      statement_timeout: this.o.statementTimeoutMs,
      query_timeout: this.o.statementTimeoutMs + 1000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 5000,
      application_name: 'mmo-server-claims',
    });
    c.on('error', (err) => this.dropped(c, err));
    c.on('end', () => this.dropped(c, null));
    await c.connect();
    // The server notices a vanished host (no FIN ever comes) by TCP keepalive on its side: 5 s idle, then 3 probes 2 s apart.
    // Ignored on a Unix socket, where a dead process is seen at once anyway.
    await c.query('SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; SET tcp_keepalives_count = 3');
    return c;
  }

  /** The connection is gone, and every claim with it: reconnect and take back what is still wanted. */
  private dropped(c: pg.Client, err: Error | null): void {
    if (this.client !== c) return;
    this.client = null;
    if (this.closed) return;
    this.o.log.error({ err, claims: this.held.size }, 'account claims connection lost; logins are refused until it is back');
    c.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.reconnect();
    }, this.o.reconnectMs ?? 1000);
    this.reconnectTimer.unref();
  }

  private async reconnect(): Promise<void> {
    await this.o.beforeReconnect?.();
    let c: pg.Client;
    try {
      c = await this.connect();
    } catch (err) {
      this.o.log.warn({ err }, 'account claims: reconnect failed; retrying');
      return this.scheduleReconnect();
    }
    if (this.closed) {
      await c.end().catch(() => undefined);
      return;
    }
    this.reconnects++;
    const wanted = [...this.held];
    this.held.clear();
    this.client = c;
    for (let i = 0; i < wanted.length; i++) {
      const account = wanted[i]!;
      const r = await this.take(account);
      if (r === ClaimResult.heldElsewhere) {
        this.lost++;
        this.o.log.error({ account }, 'account claim lost while the claims connection was down: another node has the account; its session here ends');
        this.o.onLost(account);
      } else if (r === ClaimResult.unavailable && this.client !== c) {
        // Dropped again meanwhile: the next reconnect takes the rest back.
        for (let j = i; j < wanted.length; j++) this.held.add(wanted[j]!);
        return;
      }
    }
    this.o.log.info({ claims: this.held.size }, 'account claims connection back; claims taken back');
  }
}
