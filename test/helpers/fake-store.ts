// An in-memory WriteStore with the same version rule as the real stores, and
// knobs to fail or hold calls: the write queue's logic tested without a
// database, deterministically.

import { PersistError, PersistErrorCode } from '../../src/persist/errors.js';
import type { EventRecord, EventWrite, EventWriteResult, PlayerRecord, SaveResult } from '../../src/persist/types.js';
import type { WriteStore } from '../../src/persist/write-queue.js';
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/log/logger.js';

export interface Call {
  method: 'savePlayers' | 'writeEvents' | 'ping';
  size: number;
}

export class FakeStore implements WriteStore {
  readonly rows = new Map<number, PlayerRecord>();
  readonly events = new Map<string, EventRecord>();
  readonly calls: Call[] = [];
  /** Every call fails (transiently) while true. */
  failing = false;
  /** Player ids whose events the "database" refuses (foreign key). */
  readonly unknownPlayers = new Set<number>();
  private held: Array<() => void> | null = null;

  seed(p: PlayerRecord): void {
    this.rows.set(p.id, structuredClone(p));
  }

  /** From now on calls wait until release() before doing anything. */
  hold(): void {
    this.held ??= [];
  }

  /** Lets held calls proceed (they then succeed or fail per `failing` at that moment). */
  release(): void {
    const h = this.held;
    this.held = null;
    for (const go of h ?? []) go();
  }

  private async gate(): Promise<void> {
    if (this.held) await new Promise<void>((r) => this.held!.push(r));
    if (this.failing) throw new PersistError(PersistErrorCode.unavailable, 'fake: database down');
  }

  async savePlayers(players: PlayerRecord[]): Promise<SaveResult> {
    this.calls.push({ method: 'savePlayers', size: players.length });
    const copy = structuredClone(players);
    await this.gate();
    let written = 0;
    const skipped: number[] = [];
    for (const p of copy) {
      const cur = this.rows.get(p.id);
      if (cur && cur.version < p.version) {
        this.rows.set(p.id, p);
        written++;
      } else skipped.push(p.id);
    }
    return { written, skipped };
  }

  async writeEvents(writes: EventWrite[]): Promise<EventWriteResult> {
    this.calls.push({ method: 'writeEvents', size: writes.length });
    const copy = structuredClone(writes);
    await this.gate();
    if (copy.some((w) => this.unknownPlayers.has(w.event.playerId))) throw new PersistError(PersistErrorCode.invalid, 'fake: foreign key violation');
    const inserted: boolean[] = [];
    const players = await this.savePlayersNoLog(copy.map((w) => w.player));
    for (const w of copy) {
      const had = this.events.has(w.event.id);
      if (!had) this.events.set(w.event.id, { ...w.event, playerVersion: w.player.version });
      inserted.push(!had);
    }
    return { inserted, players };
  }

  private async savePlayersNoLog(players: PlayerRecord[]): Promise<SaveResult> {
    let written = 0;
    const skipped: number[] = [];
    for (const p of players) {
      const cur = this.rows.get(p.id);
      if (cur && cur.version < p.version) {
        this.rows.set(p.id, p);
        written++;
      } else skipped.push(p.id);
    }
    return { written, skipped };
  }

  async ping(): Promise<void> {
    this.calls.push({ method: 'ping', size: 0 });
    await this.gate();
  }

  count(method: Call['method']): number {
    return this.calls.filter((c) => c.method === method).length;
  }
}

/** A logger that keeps its lines (parsed) for assertions. */
export function captureLogger(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { log: createLogger({ level: 'debug', pretty: 'never' }, { destination: dest as never }), lines };
}
