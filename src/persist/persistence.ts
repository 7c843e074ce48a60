// Persistence as the rest of the server sees it: the store on its database
// thread, the write queue in front of it, and their metrics. One instance per
// process, opened at start-up (migrations run before the server listens) and
// closed at shutdown after the sessions have handed in their last states.
//
// Ownership: call from the gateway thread only (zone workers send their
// changes to the gateway, which calls markDirty/writeThrough).

import type { Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { PersistError, PersistErrorCode } from './errors.js';
import { PersistMetrics } from './metrics.js';
import { describeStore, type StoreConfig } from './open-store.js';
import { PooledStore } from './pooled-store.js';
import type { TokenClaims } from './token.js';
import { isGuestPlayerId, type MigrationReport, type PlayerRecord, type PlayerState, type Store } from './types.js';
import { WriteQueue, type FlushReport, type PlayerSnapshot, type SnapshotSource, type WriteQueueOptions, type WriteThroughAck, type WriteThroughRequest } from './write-queue.js';
import { resolve } from 'node:path';
import type { ThreadsShared } from '../../native-bindings/threads.js';

export interface PersistenceOptions {
  store: StoreConfig;
  queue: WriteQueueOptions;
  /** The shared thread table: the database thread names and places itself (persist-N). */
  threads?: ThreadsShared;
}

/** Builds the options from the server configuration (persist.* and server.dataDir). */
export function persistenceOptions(config: Config): PersistenceOptions {
  const p = config.persist;
  const store: StoreConfig = p.postgresUrl
    ? { kind: 'postgres', url: p.postgresUrl, poolSize: p.postgresPoolSize, connectTimeoutMs: p.connectTimeoutMs, statementTimeoutMs: p.statementTimeoutMs }
    : { kind: 'sqlite', file: resolve(config.server.dataDir, p.sqliteFile), synchronous: p.sqliteSynchronous, busyTimeoutMs: p.sqliteBusyTimeoutMs };
  return {
    store,
    queue: {
      intervalMs: p.writeIntervalMs,
      retryMinMs: p.retryMinMs,
      retryMaxMs: p.retryMaxMs,
      maxPendingEvents: p.maxPendingEvents,
      maxEventsPerBatch: p.maxEventsPerBatch,
      alarmLogIntervalMs: p.alarmLogIntervalMs,
    },
  };
}

export class Persistence {
  /** Logins of each account whose player is being read (cluster account claims: held meanwhile). */
  private readonly loading = new Map<number, number>();

  private constructor(
    /** The database, reached on its own thread. Accounts use it directly; player saves go through the queue. */
    readonly store: Store,
    readonly queue: WriteQueue,
    readonly migration: MigrationReport,
    readonly where: string,
  ) {}

  /**
   * Opens the database on its thread and applies migrations. Throws a
   * PersistError when the database cannot be opened: the server must not
   * start without it (a wrong URL should be loud, not a degraded mode).
   */
  static async open(opts: PersistenceOptions, log: Logger, registry: Registry | null): Promise<Persistence> {
    const store = new PooledStore(opts.store, opts.threads);
    let migration: MigrationReport;
    try {
      migration = await store.migrate();
    } catch (err) {
      await store.close().catch(() => {});
      const e = err as PersistError;
      throw new PersistError(e.code ?? PersistErrorCode.unavailable, `cannot open the database (${describeStore(opts.store)}): ${e.message}`, false);
    }
    let queue: WriteQueue | null = null;
    const metrics = registry ? new PersistMetrics(registry, () => queue) : null;
    queue = new WriteQueue(store, opts.queue, log, metrics);
    const where = describeStore(opts.store);
    log.info({ database: where, schema: migration.version, migrated: migration.applied }, `database ready: ${where}, schema v${migration.version}`);
    return new Persistence(store, queue, migration, where);
  }

  /**
   * The character of a login: for a guest (claims.guest), a fresh in-memory
   * player that is never saved; otherwise the account's player, with any of
   * its changes still waiting in the queue (a quick re-login sees its own
   * writes), and tracked so the session can save it. Throws PersistError
   * MMO_ERR_PERSIST_UNAVAILABLE when the database does not answer.
   */
  async loadForLogin(claims: TokenClaims, guestSpawn: PlayerState): Promise<PlayerRecord> {
    if (claims.guest) {
      if (!isGuestPlayerId(claims.accountId)) throw new PersistError(PersistErrorCode.invalid, `guest claims with a non-guest id ${claims.accountId}`);
      return { ...guestSpawn, inventory: guestSpawn.inventory.map((i) => ({ ...i })), id: claims.accountId, accountId: 0, name: claims.name, version: 0, updatedAt: Date.now() };
    }
    const a = claims.accountId;
    this.loading.set(a, (this.loading.get(a) ?? 0) + 1);
    try {
      const players = await this.store.loadPlayersOfAccount(a);
      const stored = players[0];
      if (!stored) throw new PersistError(PersistErrorCode.invalid, `account ${a} has no player`);
      return this.adopt(stored);
    } finally {
      const n = (this.loading.get(a) ?? 1) - 1;
      if (n > 0) this.loading.set(a, n);
      else this.loading.delete(a);
    }
  }

  /**
   * Whether anything of account `accountId` is here: its player being loaded
   * for a login, or tracked (live, or released with a final state not yet
   * written). Cluster: the account's claim is kept while this holds.
   */
  holdsAccount(accountId: number): boolean {
    return this.loading.has(accountId) || this.queue.tracksAccount(accountId);
  }

  /** One player by id, tracked, with queued changes applied (read-your-writes). Null when unknown. */
  async loadPlayer(playerId: number): Promise<PlayerRecord | null> {
    const stored = await this.store.loadPlayer(playerId);
    return stored ? this.adopt(stored) : null;
  }

  private adopt(stored: PlayerRecord): PlayerRecord {
    this.queue.track(stored);
    const pending = this.queue.pendingState(stored.id);
    return pending && pending.version >= stored.version ? pending : stored;
  }

  /** See WriteQueue.markDirty. */
  markDirty(playerId: number, source: SnapshotSource): boolean {
    return this.queue.markDirty(playerId, source);
  }

  /** See WriteQueue.writeThrough: resolves once the event and state are durable. */
  writeThrough(req: WriteThroughRequest): Promise<WriteThroughAck> {
    return this.queue.writeThrough(req);
  }

  /** Logout / zombie expiry: save this final state and forget the player. Fire and forget. */
  release(playerId: number, finalState: PlayerSnapshot): void {
    this.queue.release(playerId, finalState);
  }

  /** Writes everything queued now (retrying until timeoutMs). */
  flush(timeoutMs?: number): Promise<FlushReport> {
    return this.queue.flush(timeoutMs);
  }

  /** Shutdown: flush (up to timeoutMs), reject unconfirmed write-throughs, close the database and its thread. */
  async close(timeoutMs?: number): Promise<FlushReport> {
    const report = await this.queue.close(timeoutMs);
    await this.store.close().catch(() => {});
    return report;
  }
}
