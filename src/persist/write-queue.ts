// The gateway side of saving players: a write-behind queue and a
// write-through path sharing one view of each player's version and of the
// database's health. It owns no thread: each batch is one Store call, which
// PooledStore runs on the database thread.
//
// Write-behind: markDirty() remembers that a player changed (the latest
// state, or a function that returns it). Every intervalMs the states of all
// dirty players are taken, given fresh versions and written in ONE
// transaction. At most one such batch is in flight; changes made meanwhile
// wait for the next tick. So a crash loses at most the changes of the last
// interval plus the batch in flight.
//
// Write-through: writeThrough() resolves only once the event and the state it
// produced are committed. Calls made in the same turn, or while a previous
// write-through batch is in flight, are committed together (group commit).
//
// Failure: a failed batch is retried with exponential backoff; its players
// stay dirty and its events stay queued, so nothing acknowledged is lost and
// nothing unwritten is acknowledged. An error is logged at most once per
// alarmLogIntervalMs and mmo_persist_db_up drops to 0 until a write succeeds.
//
// Versions: every state written carries version = previous + 1, and the
// store applies it only over an older version. A retried old batch can
// therefore never overwrite a newer write-through, whatever order they land in.
//
// Not a hot path: called on state changes, not per packet. markDirty()
// allocates only when a player goes from clean to dirty (a Set insertion).

import { randomUUID } from 'node:crypto';
import type { Logger } from '../log/logger.js';
import { classify, PersistError, PersistErrorCode } from './errors.js';
import { WriteKind, type PersistGaugeSource, type PersistMetrics } from './metrics.js';
import { isGuestPlayerId, playerProblem, type EventKind, type EventWrite, type PlayerEvent, type PlayerRecord, type Store } from './types.js';

/** A player's state as the game has it: everything stored except the version and time, which the queue assigns. */
export type PlayerSnapshot = Omit<PlayerRecord, 'version' | 'updatedAt'>;

/**
 * Where the latest state comes from: the state itself, or a function the
 * queue calls when it writes (so a player who changes 20 times a second is
 * read once per interval). A function returning null means "nothing newer
 * than what you last took".
 */
export type SnapshotSource = PlayerSnapshot | (() => PlayerSnapshot | null);

export interface WriteThroughRequest {
  playerId: number;
  kind: EventKind;
  data: PlayerEvent['data'];
  /** The player's state including this event's effect. */
  state: PlayerSnapshot;
  /** Idempotency key (a retry with the same id is stored once). Default: a random UUID. */
  id?: string;
  /** Reject with MMO_ERR_PERSIST_TIMEOUT if not durable by then. The write itself stays queued and may still land. */
  timeoutMs?: number;
}

export interface WriteThroughAck {
  eventId: string;
  /** Version of the player state stored with the event. */
  version: number;
  /** False for guests: nothing was written, and nothing needed to be. */
  persisted: boolean;
  /** True when an event with this id was already stored (a retry). */
  duplicate: boolean;
}

export interface FlushReport {
  /** True when nothing is left unsaved. */
  complete: boolean;
  /** Players and events still unsaved (when the deadline passed with the database down). */
  unsavedPlayers: number;
  unsavedEvents: number;
}

export interface WriteQueueOptions {
  /** Write-behind period: the most a crash can lose (plus one batch in flight). */
  intervalMs: number;
  /** First retry delay after a failure; doubles per consecutive failure up to retryMaxMs (with jitter). */
  retryMinMs: number;
  retryMaxMs: number;
  /** Write-through events allowed to wait for the database; past it writeThrough rejects with MMO_ERR_PERSIST_BACKLOG. */
  maxPendingEvents: number;
  /** Most events per write-through transaction. */
  maxEventsPerBatch: number;
  /** At most one error log per this period while writes fail. */
  alarmLogIntervalMs: number;
  /** Snapshots taken per event-loop turn while building a batch (bounds the gateway stall). Default 2048 (~1-2 ms). */
  snapshotsPerTurn?: number;
  /** Start the interval timer (tests drive tick() by hand instead). Default true. */
  autoStart?: boolean;
  now?: () => number;
}

/** What the queue needs of a store. */
export type WriteStore = Pick<Store, 'savePlayers' | 'writeEvents' | 'ping'>;

interface Tracked {
  readonly id: number;
  /** Last version handed out (or loaded). */
  version: number;
  /** Highest version known committed. */
  durable: number;
  /** Pending source of a newer state, or null when clean. */
  dirty: SnapshotSource | null;
  /** ms when `dirty` was set (the oldest change it holds); 0 when clean. */
  dirtySince: number;
  /** The dirtySince of the state in the batch in flight; 0 when none is. */
  inflightSince: number;
  /** The newest state the queue has seen (what a reload must return until it is durable). */
  latest: PlayerSnapshot | null;
  /** Logout / zombie expiry: forget the player once everything is durable. */
  released: boolean;
  /** Write-through events of this player not yet durable. */
  eventsPending: number;
  /** Its account (from the stored row). */
  account: number;
}

interface ThroughItem {
  write: EventWrite;
  resolve: (a: WriteThroughAck) => void;
  reject: (e: Error) => void;
  /** The promise was settled (timeout); the write continues unobserved. */
  settled: boolean;
  timer: NodeJS.Timeout | null;
  /** Write alone (a batch it was in was refused as invalid: find the culprit). */
  solo: boolean;
  /** When the state was taken (for the unsaved-age gauge). */
  since: number;
}

export class WriteQueue implements PersistGaugeSource {
  private readonly players = new Map<number, Tracked>();
  /** Tracked players per account (cluster account claims: held while any is). */
  private readonly perAccount = new Map<number, number>();
  private readonly dirtySet = new Set<Tracked>();
  private readonly through: ThroughItem[] = [];
  private behindInFlight: Promise<void> | null = null;
  private inflightPlayers = 0;
  private throughInFlight: Promise<void> | null = null;
  /** The events of throughInFlight. */
  private throughBatch: ThroughItem[] = [];
  private timer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private pumpScheduled = false;
  private tickMissed = false;
  private closed = false;
  private readonly now: () => number;
  /** Snapshots taken per event-loop turn when building a write-behind batch. */
  private readonly chunk: number;

  // Health.
  private up = true;
  private consecutiveFailures = 0;
  private retryAt = 0;
  private downSince = 0;
  private lastAlarmLog = -Infinity;
  private suppressedAlarms = 0;

  /** Called after each committed write-behind batch (tests and the crash harness print it). */
  onBehindCommitted: ((info: { rows: number; takenAt: number; committedAt: number }) => void) | null = null;

  constructor(
    private readonly store: WriteStore,
    private readonly opts: WriteQueueOptions,
    private readonly log: Logger,
    private readonly metrics: PersistMetrics | null,
  ) {
    this.now = opts.now ?? Date.now;
    this.chunk = opts.snapshotsPerTurn ?? 2048;
    if (opts.autoStart !== false) {
      this.timer = setInterval(() => this.tick(), opts.intervalMs);
      this.timer.unref();
    }
  }

  // ------------------------------------------------------------ tracking

  /**
   * Starts tracking a player read from the store (Persistence.loadPlayer does
   * this). Versions continue from the stored one. Cold path.
   */
  track(record: PlayerRecord): void {
    if (isGuestPlayerId(record.id)) return;
    const t = this.players.get(record.id);
    if (t) {
      t.version = Math.max(t.version, record.version);
      t.durable = Math.max(t.durable, record.version);
      t.released = false;
      return;
    }
    this.players.set(record.id, {
      id: record.id,
      version: record.version,
      durable: record.version,
      dirty: null,
      dirtySince: 0,
      inflightSince: 0,
      latest: null,
      released: false,
      eventsPending: 0,
      account: record.accountId,
    });
    this.perAccount.set(record.accountId, (this.perAccount.get(record.accountId) ?? 0) + 1);
  }

  /** The newest state of a tracked player that may not be in the store yet (read-your-writes), with its version; null if none. */
  pendingState(playerId: number): PlayerRecord | null {
    const t = this.players.get(playerId);
    if (!t) return null;
    const snap = t.dirty !== null && typeof t.dirty === 'object' ? t.dirty : t.latest;
    if (!snap || (t.dirty === null && t.durable >= t.version)) return null;
    return { ...snap, inventory: snap.inventory.map((i) => ({ ...i })), version: t.version, updatedAt: this.now() };
  }

  isTracked(playerId: number): boolean {
    return this.players.has(playerId);
  }

  /** Whether a player of account `accountId` is tracked and not released: live, or leaving with its final state not handed in yet (cold path: a scan). */
  holdsUnreleased(accountId: number): boolean {
    if (!this.perAccount.has(accountId)) return false;
    for (const t of this.players.values()) if (t.account === accountId && !t.released) return true;
    return false;
  }

  /** Whether a player of account `accountId` is tracked (loaded, and not yet released and written). */
  tracksAccount(accountId: number): boolean {
    return this.perAccount.has(accountId);
  }

  /** Whether a player of account `accountId` is tracked with a state not yet durable (cluster login takeover; cold path: a scan). */
  holdsUnsaved(accountId: number): boolean {
    for (const t of this.players.values()) if (t.latest?.accountId === accountId && (t.dirty !== null || t.inflightSince !== 0 || t.durable < t.version)) return true;
    return false;
  }

  // ------------------------------------------------------------ write-behind

  /**
   * The player changed; write its latest state within intervalMs. Guests are
   * ignored (returns false). Throws MMO_ERR_PERSIST_UNTRACKED for a player
   * the queue was never given, MMO_ERR_PERSIST_CLOSED after close().
   */
  markDirty(playerId: number, source: SnapshotSource): boolean {
    if (isGuestPlayerId(playerId)) return false;
    if (this.closed) throw new PersistError(PersistErrorCode.closed, 'persistence is closed');
    const t = this.players.get(playerId);
    if (!t) throw new PersistError(PersistErrorCode.untracked, `player ${playerId} is not tracked: load it through Persistence (or track() it) before saving`, false);
    if (typeof source === 'object') t.latest = source;
    if (t.dirty === null) t.dirtySince = this.now();
    t.dirty = source;
    this.dirtySet.add(t);
    return true;
  }

  /**
   * Logout or zombie expiry: save this final state (within intervalMs, like
   * markDirty) and then forget the player. Fire and forget: failures are
   * retried like any write-behind; flush() at shutdown still covers it.
   */
  release(playerId: number, finalState: PlayerSnapshot): void {
    if (!this.markDirty(playerId, finalState)) return;
    this.players.get(playerId)!.released = true;
  }

  /** Runs one write-behind step now if due: normally called by the interval timer. */
  tick(): void {
    if (this.closed && !this.flushing) return;
    if (this.behindInFlight) {
      // Run as soon as the batch in flight lands, not a whole interval later.
      this.tickMissed = true;
      return;
    }
    const now = this.now();
    if (!this.up && now < this.retryAt) {
      this.scheduleRetry();
      return;
    }
    if (this.dirtySet.size === 0) {
      if (!this.up && !this.throughInFlight && this.through.length === 0) this.probe();
      return;
    }
    this.behindInFlight = this.writeBehindBatch(now).finally(() => {
      this.behindInFlight = null;
      if (this.tickMissed) {
        this.tickMissed = false;
        this.tick();
      }
    });
  }

  private async writeBehindBatch(takenAt: number): Promise<void> {
    const todo = [...this.dirtySet];
    this.dirtySet.clear();
    const batch: PlayerRecord[] = [];
    const members: Tracked[] = [];
    let invalid = 0;
    let firstProblem = '';
    for (let i = 0; i < todo.length; i++) {
      // Snapshots are taken a chunk per event-loop turn, so a batch of 10,000
      // players never holds the gateway for more than a couple of ms at once.
      if (i > 0 && i % this.chunk === 0) await new Promise((r) => setImmediate(r));
      const t = todo[i]!;
      // Taken over meanwhile by a write-through, which carries a newer state.
      if (t.dirty === null) continue;
      const src = t.dirty;
      let snap = typeof src === 'function' ? src() : src;
      if (snap === null) snap = t.durable < t.version ? t.latest : null;
      const since = t.dirtySince;
      t.dirty = null;
      t.dirtySince = 0;
      // Re-marked during an earlier yield of this loop: this snapshot covers it.
      this.dirtySet.delete(t);
      if (snap === null) {
        this.settleClean(t);
        continue;
      }
      t.latest = snap;
      const rec: PlayerRecord = { ...snap, id: t.id, version: t.version + 1, updatedAt: takenAt };
      const problem = playerProblem(rec);
      if (problem) {
        this.metrics?.invalid.inc();
        if (invalid++ === 0) firstProblem = `player ${t.id}: ${problem}`;
        this.settleClean(t);
        continue;
      }
      t.version = rec.version;
      t.inflightSince = since;
      batch.push(rec);
      members.push(t);
      this.inflightPlayers = batch.length;
    }
    if (invalid > 0) this.log.error({ players: invalid, first: firstProblem }, 'player states refused: out of range; these changes are dropped (a bug upstream)');
    if (batch.length === 0) return;

    const t0 = performance.now();
    try {
      await this.store.savePlayers(batch);
    } catch (err) {
      this.inflightPlayers = 0;
      for (let i = 0; i < members.length; i++) {
        const t = members[i]!;
        // Not re-marked meanwhile: the state we took is still the newest one to write.
        if (t.dirty === null) {
          t.dirty = t.latest;
          t.dirtySince = t.inflightSince;
        } else {
          t.dirtySince = Math.min(t.dirtySince, t.inflightSince);
        }
        t.inflightSince = 0;
        this.dirtySet.add(t);
      }
      this.metrics?.failures.inc(WriteKind.behind);
      this.noteFailure(err, 'write-behind batch', { players: batch.length });
      return;
    }
    const committedAt = this.now();
    this.metrics?.batches.inc(WriteKind.behind);
    this.metrics?.rows.inc(WriteKind.behind, batch.length);
    this.metrics?.writeSeconds.observe((performance.now() - t0) / 1000, WriteKind.behind);
    this.inflightPlayers = 0;
    for (let i = 0; i < members.length; i++) {
      const t = members[i]!;
      t.inflightSince = 0;
      t.durable = Math.max(t.durable, batch[i]!.version);
      if (t.dirty === null) this.settleClean(t);
    }
    this.noteSuccess();
    this.onBehindCommitted?.({ rows: batch.length, takenAt, committedAt });
  }

  /** A released player with nothing left to write is forgotten. */
  private settleClean(t: Tracked): void {
    if (t.released && t.dirty === null && t.inflightSince === 0 && t.eventsPending === 0) {
      this.players.delete(t.id);
      const n = (this.perAccount.get(t.account) ?? 1) - 1;
      if (n > 0) this.perAccount.set(t.account, n);
      else this.perAccount.delete(t.account);
    }
  }

  // ------------------------------------------------------------ write-through

  /**
   * Writes an event and the state it produced; resolves once both are
   * durable. While the database is down the promise stays pending (the write
   * is retried with backoff) unless `timeoutMs` is given. Rejects with
   * MMO_ERR_PERSIST_BACKLOG when too many events already wait (the state is
   * then saved by write-behind, the event is not recorded),
   * MMO_ERR_PERSIST_INVALID when the store refuses the event (unknown
   * player, out-of-range state), MMO_ERR_PERSIST_CLOSED after close().
   * Guests resolve at once with persisted: false.
   */
  writeThrough(req: WriteThroughRequest): Promise<WriteThroughAck> {
    const id = req.id ?? randomUUID();
    if (isGuestPlayerId(req.playerId)) return Promise.resolve({ eventId: id, version: 0, persisted: false, duplicate: false });
    if (this.closed) return Promise.reject(new PersistError(PersistErrorCode.closed, 'persistence is closed'));
    const t = this.players.get(req.playerId);
    if (!t) return Promise.reject(new PersistError(PersistErrorCode.untracked, `player ${req.playerId} is not tracked`, false));
    const now = this.now();
    const rec: PlayerRecord = { ...req.state, id: t.id, version: t.version + 1, updatedAt: now };
    const problem = playerProblem(rec);
    if (problem) return Promise.reject(new PersistError(PersistErrorCode.invalid, `player ${t.id}: ${problem}`));
    if (this.through.length >= this.opts.maxPendingEvents) {
      this.markDirty(t.id, req.state);
      return Promise.reject(new PersistError(PersistErrorCode.backlog, `${this.through.length} write-through events already wait for the database; event not recorded (the state is saved by write-behind)`, true));
    }
    t.version = rec.version;
    t.latest = req.state;
    // A pending plain state is older than this one and would be written under a
    // newer version later: drop it. A function source reads fresh state, keep it.
    let since = now;
    if (t.dirty !== null && typeof t.dirty === 'object') {
      since = t.dirtySince;
      t.dirty = null;
      t.dirtySince = 0;
      this.dirtySet.delete(t);
    }
    t.eventsPending++;
    const event: PlayerEvent = { id, playerId: t.id, kind: req.kind, data: req.data, at: now };
    return new Promise<WriteThroughAck>((resolve, reject) => {
      const item: ThroughItem = { write: { event, player: rec }, resolve, reject, settled: false, timer: null, solo: false, since };
      if (req.timeoutMs !== undefined) {
        item.timer = setTimeout(() => {
          item.timer = null;
          if (item.settled) return;
          item.settled = true;
          reject(new PersistError(PersistErrorCode.timeout, `event ${id} not confirmed durable within ${req.timeoutMs} ms (database slow or down); it stays queued`, true));
        }, req.timeoutMs);
        item.timer.unref();
      }
      this.through.push(item);
      this.schedulePump();
    });
  }

  private schedulePump(): void {
    if (this.pumpScheduled || this.throughInFlight) return;
    this.pumpScheduled = true;
    // setImmediate: every writeThrough of this turn joins the same transaction.
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    if (this.throughInFlight || this.through.length === 0) return;
    const now = this.now();
    if (!this.up && now < this.retryAt) {
      this.scheduleRetry();
      return;
    }
    const n = this.through[0]!.solo ? 1 : Math.min(this.through.length, this.opts.maxEventsPerBatch);
    let take = 0;
    while (take < n && (take === 0 || !this.through[take]!.solo)) take++;
    const items = this.through.splice(0, take);
    this.throughBatch = items;
    this.throughInFlight = this.writeThroughBatch(items).finally(() => {
      this.throughInFlight = null;
      this.throughBatch = [];
      if (this.through.length > 0) this.schedulePump();
    });
  }

  private async writeThroughBatch(items: ThroughItem[]): Promise<void> {
    const t0 = performance.now();
    let result;
    try {
      result = await this.store.writeEvents(items.map((i) => i.write));
    } catch (err) {
      this.throughBatch = [];
      const e = classify(err);
      if (!e.transient) {
        if (items.length > 1) {
          // One bad event must not block the others: retry each alone to find it.
          for (const i of items) i.solo = true;
          this.through.unshift(...items);
          return;
        }
        this.finishThrough(items[0]!, null, e);
        return;
      }
      this.through.unshift(...items);
      this.metrics?.failures.inc(WriteKind.through);
      this.noteFailure(e, 'write-through batch', { events: items.length });
      this.scheduleRetry();
      return;
    }
    this.throughBatch = [];
    this.metrics?.batches.inc(WriteKind.through);
    this.metrics?.rows.inc(WriteKind.through, items.length);
    this.metrics?.writeSeconds.observe((performance.now() - t0) / 1000, WriteKind.through);
    this.noteSuccess();
    for (let i = 0; i < items.length; i++) this.finishThrough(items[i]!, !result.inserted[i], null);
  }

  private finishThrough(item: ThroughItem, duplicate: boolean | null, err: PersistError | null): void {
    if (item.timer) clearTimeout(item.timer);
    const t = this.players.get(item.write.player.id);
    if (t) {
      t.eventsPending--;
      if (!err) t.durable = Math.max(t.durable, item.write.player.version);
      else if (!this.closed && t.dirty === null && t.durable < t.version && t.latest) {
        // The event was refused; its state must still reach the database.
        this.markDirty(t.id, t.latest);
      }
      this.settleClean(t);
    }
    if (item.settled) return;
    item.settled = true;
    if (err) item.reject(err);
    else item.resolve({ eventId: item.write.event.id, version: item.write.player.version, persisted: true, duplicate: duplicate === true });
  }

  // ------------------------------------------------------------ health

  private noteFailure(err: unknown, what: string, ctx: Record<string, unknown>): void {
    const now = this.now();
    if (this.up) {
      this.up = false;
      this.downSince = now;
    }
    // Both paths failing in the same retry round count as one failure for the backoff.
    if (now >= this.retryAt) {
      this.consecutiveFailures++;
      const exp = Math.min(this.opts.retryMaxMs, this.opts.retryMinMs * 2 ** Math.min(this.consecutiveFailures - 1, 20));
      // Jitter over the upper half: spreads retries without going below half the backoff.
      this.retryAt = now + exp * (0.5 + Math.random() * 0.5);
    }
    this.scheduleRetry();
    if (now - this.lastAlarmLog >= this.opts.alarmLogIntervalMs) {
      const e = classify(err);
      this.log.error(
        { err: { code: e.code, message: e.message }, ...ctx, failures: this.consecutiveFailures, suppressed: this.suppressedAlarms, downForMs: now - this.downSince, retryInMs: Math.round(this.retryAt - now), unsavedPlayers: this.queueDepth, unsavedEvents: this.throughPending },
        `database write failed (${what}); retrying with backoff, nothing acknowledged is lost`,
      );
      this.lastAlarmLog = now;
      this.suppressedAlarms = 0;
    } else {
      this.suppressedAlarms++;
    }
  }

  private noteSuccess(): void {
    if (this.up) return;
    const now = this.now();
    this.log.warn({ downForMs: now - this.downSince, failures: this.consecutiveFailures }, 'database writes succeed again');
    this.up = true;
    this.consecutiveFailures = 0;
    this.retryAt = 0;
    if (this.through.length > 0) this.schedulePump();
  }

  /** One timer drives the retries of both paths, at retryAt (not at the next interval tick). */
  private scheduleRetry(): void {
    if (this.retryTimer) {
      if (this.through.length > 0) this.retryTimer.ref();
      return;
    }
    if (this.closed) return;
    // Whole ms, at least 1: a timer may fire a fraction early against Date.now(); tick() and pump() re-arm it if so.
    const delay = Math.max(1, Math.ceil(this.retryAt - this.now()));
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.tick();
      this.pump();
    }, delay);
    // Ref'd while events wait (someone awaits them); write-behind alone must not hold the process open.
    if (this.through.length === 0) this.retryTimer.unref();
  }

  private probing = false;
  /** Nothing to write but the last write failed: ask the database whether it is back, so the gauge recovers. */
  private probe(): void {
    if (this.probing) return;
    this.probing = true;
    this.store.ping().then(
      () => {
        this.probing = false;
        this.noteSuccess();
      },
      (err: unknown) => {
        this.probing = false;
        this.noteFailure(err, 'probe', {});
      },
    );
  }

  // ------------------------------------------------------------ gauges

  get queueDepth(): number {
    return this.dirtySet.size + this.inflightPlayers;
  }

  get throughPending(): number {
    return this.through.length + this.throughBatch.length;
  }

  /** Cold path (scrape): walks the tracked players. */
  get oldestUnsavedSeconds(): number {
    let oldest = Infinity;
    for (const t of this.players.values()) {
      if (t.dirtySince > 0 && t.dirtySince < oldest) oldest = t.dirtySince;
      if (t.inflightSince > 0 && t.inflightSince < oldest) oldest = t.inflightSince;
    }
    for (const i of this.through) if (i.since < oldest) oldest = i.since;
    for (const i of this.throughBatch) if (i.since < oldest) oldest = i.since;
    return oldest === Infinity ? 0 : Math.max(0, this.now() - oldest) / 1000;
  }

  get databaseUp(): boolean {
    return this.up;
  }

  /** Players currently tracked (online, or released and not yet durable). */
  get trackedPlayers(): number {
    return this.players.size;
  }

  // ------------------------------------------------------------ shutdown

  private flushing = false;

  /**
   * Writes everything now: all dirty players and all queued events, retrying
   * (with backoff) until done or until timeoutMs passes. Resolves with what
   * is left; never rejects.
   */
  async flush(timeoutMs = Infinity): Promise<FlushReport> {
    const deadline = this.now() + timeoutMs;
    this.flushing = true;
    try {
      for (;;) {
        if (this.behindInFlight) await this.behindInFlight;
        if (this.throughInFlight) await this.throughInFlight;
        const idle = this.dirtySet.size === 0 && this.through.length === 0 && !this.behindInFlight && !this.throughInFlight;
        if (idle) return { complete: true, unsavedPlayers: 0, unsavedEvents: 0 };
        const now = this.now();
        if (now >= deadline) return { complete: false, unsavedPlayers: this.queueDepth, unsavedEvents: this.throughPending };
        if (!this.up && now < this.retryAt) {
          await sleep(Math.min(this.retryAt - now, deadline - now));
          continue;
        }
        // Flush ignores the interval: start both paths now.
        if (this.dirtySet.size > 0 && !this.behindInFlight) {
          this.behindInFlight = this.writeBehindBatch(now).finally(() => {
            this.behindInFlight = null;
          });
        }
        if (this.through.length > 0 && !this.throughInFlight) this.pump();
        if (!this.behindInFlight && !this.throughInFlight) await sleep(1);
      }
    } finally {
      this.flushing = false;
    }
  }

  /**
   * Stops accepting work, flushes (up to timeoutMs) and rejects whatever
   * write-through is still unconfirmed with MMO_ERR_PERSIST_CLOSED: the caller
   * must not tell the client those were saved.
   */
  async close(timeoutMs = Infinity): Promise<FlushReport> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const report = await this.flush(timeoutMs);
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    for (const item of this.through.splice(0)) {
      if (item.timer) clearTimeout(item.timer);
      if (!item.settled) {
        item.settled = true;
        item.reject(new PersistError(PersistErrorCode.closed, `persistence closed before event ${item.write.event.id} became durable`));
      }
    }
    return report;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}
