// Persistence metrics, all mmo_persist_*. Counters and histograms are the
// hot-path kind (typed-array slots); gauges are read at scrape time from the
// queue's state.

import type { Registry } from 'prom-client';
import { HotCounter, HotHistogram, PullGauge, exponentialBuckets } from '../metrics/hot.js';

/** Label slot of the `kind` label: which path a write took. */
export const WriteKind = { behind: 0, through: 1 } as const;
export type WriteKind = (typeof WriteKind)[keyof typeof WriteKind];
const KIND_LABELS = [{ kind: 'behind' }, { kind: 'through' }];

/** What the gauges read; implemented by WriteQueue. */
export interface PersistGaugeSource {
  /** Players waiting to be written or being written. */
  readonly queueDepth: number;
  /** Write-through events not yet durable. */
  readonly throughPending: number;
  /** Age in seconds of the oldest change not yet durable (0 when none): the write-behind loss window right now. */
  readonly oldestUnsavedSeconds: number;
  /** False from a failed write until the next one succeeds. */
  readonly databaseUp: boolean;
}

export class PersistMetrics {
  readonly batches: HotCounter;
  readonly rows: HotCounter;
  readonly failures: HotCounter;
  readonly invalid: HotCounter;
  readonly writeSeconds: HotHistogram;

  constructor(registry: Registry, source: () => PersistGaugeSource | null) {
    this.batches = new HotCounter(registry, 'mmo_persist_batches_total', 'Write transactions committed, by path (behind: periodic batch of dirty players; through: events written before the client is told).', KIND_LABELS);
    this.rows = new HotCounter(registry, 'mmo_persist_rows_total', 'Player rows written (behind) or events written (through).', KIND_LABELS);
    this.failures = new HotCounter(registry, 'mmo_persist_failures_total', 'Write transactions that failed and will be retried (database down, I/O error, timeout).', KIND_LABELS);
    this.invalid = new HotCounter(registry, 'mmo_persist_invalid_total', 'Player states refused before writing because a field is out of range (a bug upstream; the state is dropped).');
    // 0.5 ms .. ~4 s: a healthy SQLite batch of 10k rows is tens of ms; seconds mean trouble.
    this.writeSeconds = new HotHistogram(registry, 'mmo_persist_write_seconds', 'Duration of write transactions, by path, as seen from the gateway (queueing on the database thread included).', exponentialBuckets(0.0005, 2, 14), KIND_LABELS);
    new PullGauge(registry, 'mmo_persist_queue_depth', 'Players with unsaved changes (waiting or being written).', () => source()?.queueDepth ?? 0);
    new PullGauge(registry, 'mmo_persist_through_pending', 'Write-through events waiting to become durable.', () => source()?.throughPending ?? 0);
    new PullGauge(registry, 'mmo_persist_oldest_unsaved_seconds', 'Age of the oldest change not yet durable: what a crash now would lose.', () => source()?.oldestUnsavedSeconds ?? 0);
    new PullGauge(registry, 'mmo_persist_db_up', '1 while database writes succeed, 0 from a failed write until the next success (alarm on 0).', () => (source()?.databaseUp === false ? 0 : 1));
  }
}
