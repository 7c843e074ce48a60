// Crash-consistency checks, independent of what produced the load. A
// producer (test/fixtures/persist-load.ts today; the full server with bots
// later) prints one line per fact on stdout:
//
//   R <t>                        ready: load starts
//   M <player> <gen> <t>         a change handed to write-behind (markDirty)
//   W <event> <player> <gen> <t> a write-through issued (also a change)
//   E <event> <player> <gen> <t> a write-through acknowledged (durable; the client may be told)
//   B <takenAt> <committedAt> <rows>   a write-behind batch committed
//   F <complete> <t>             graceful stop finished (SIGTERM path)
//
// `gen` is a per-player generation: the producer derives the whole player
// state from (player, gen), so a row that mixes two states (torn, corrupt)
// does not match any generation. After the producer dies, checkDurability()
// reads the database and reports every rule broken:
//
//   1. every acknowledged event is stored, for the right player;
//   2. every stored player row is exactly the state of some generation;
//   3. no row is older than an acknowledged event of its player;
//   4. write-behind loss is bounded: the oldest change not stored was made
//      at most `lossBoundMs` before the producer's last sign of life;
//   5. after a graceful stop (F line) nothing at all is lost;
//   6. the database's own integrity check passes.

import type { PlayerRecord, PlayerState, Store } from '../../src/persist/types.js';
import { playerProblem } from '../../src/persist/types.js';

export interface Change {
  gen: number;
  t: number;
}

export interface AckLog {
  ready: boolean;
  /** Changes per player, in order (M and W lines). */
  changes: Map<number, Change[]>;
  /** Acknowledged events. */
  acked: Array<{ id: string; player: number; gen: number; t: number }>;
  /** Issued write-throughs (acknowledged or not). */
  issued: Array<{ id: string; player: number; gen: number; t: number }>;
  batches: Array<{ takenAt: number; committedAt: number; rows: number }>;
  /** Time of the producer's last line: its last sign of life before it died. */
  lastT: number;
  flushed: { complete: boolean } | null;
  /** Lines that did not parse (a torn last line after SIGKILL is normal). */
  junk: string[];
}

export function emptyLog(): AckLog {
  return { ready: false, changes: new Map(), acked: [], issued: [], batches: [], lastT: 0, flushed: null, junk: [] };
}

/** Adds stdout lines of one producer run to `log`. */
export function parseAckLines(text: string, log: AckLog = emptyLog()): AckLog {
  for (const line of text.split('\n')) {
    if (!line) continue;
    const f = line.split(' ');
    const num = (i: number) => Number(f[i]);
    const change = (player: number, gen: number, t: number) => {
      let list = log.changes.get(player);
      if (!list) log.changes.set(player, (list = []));
      list.push({ gen, t });
    };
    let t = NaN;
    switch (f[0]) {
      case 'R':
        if (f.length !== 2) break;
        log.ready = true;
        t = num(1);
        break;
      case 'M':
        if (f.length !== 4) break;
        change(num(1), num(2), (t = num(3)));
        break;
      case 'W':
        if (f.length !== 5) break;
        log.issued.push({ id: f[1]!, player: num(2), gen: num(3), t: (t = num(4)) });
        change(num(2), num(3), t);
        break;
      case 'E':
        if (f.length !== 5) break;
        log.acked.push({ id: f[1]!, player: num(2), gen: num(3), t: (t = num(4)) });
        break;
      case 'B':
        if (f.length !== 4) break;
        log.batches.push({ takenAt: num(1), committedAt: (t = num(2)), rows: num(3) });
        break;
      case 'F':
        if (f.length !== 3) break;
        log.flushed = { complete: f[1] === 'true' };
        t = num(2);
        break;
    }
    if (Number.isFinite(t)) log.lastT = Math.max(log.lastT, t);
    else log.junk.push(line);
  }
  return log;
}

export interface CheckOptions {
  players: readonly number[];
  /** The generation a stored row claims to be (e.g. its xp), or null if it cannot tell. */
  genOf: (row: PlayerRecord) => number | null;
  /** The exact state of a player at a generation. */
  stateAt: (player: number, gen: number) => PlayerState;
  /** Rule 4: the most a crash may lose, measured back from the producer's last line. */
  lossBoundMs: number;
}

export interface CheckReport {
  violations: string[];
  /** Oldest lost change's age at the producer's last line, over all players (0 when nothing was lost). */
  lossWindowMs: number;
  lostChanges: number;
  storedEvents: number;
}

export async function checkDurability(store: Store, log: AckLog, opts: CheckOptions): Promise<CheckReport> {
  const violations: string[] = [];
  const integrity = await store.integrityCheck();
  if (integrity !== 'ok') violations.push(`integrity check: ${integrity}`);

  const acked = log.acked;
  const found = new Map((await store.findEvents(acked.map((e) => e.id))).map((e) => [e.id, e]));
  for (const e of acked) {
    const stored = found.get(e.id);
    if (!stored) violations.push(`acknowledged event ${e.id} (player ${e.player}, gen ${e.gen}) is missing`);
    else if (stored.playerId !== e.player) violations.push(`event ${e.id} stored for player ${stored.playerId}, acknowledged for ${e.player}`);
  }

  let lossWindowMs = 0;
  let lostChanges = 0;
  for (const id of opts.players) {
    const row = await store.loadPlayer(id);
    if (!row) {
      violations.push(`player ${id} is missing`);
      continue;
    }
    const problem = playerProblem(row);
    const gen = opts.genOf(row);
    if (problem || gen === null) {
      violations.push(`player ${id} is corrupt: ${problem ?? 'no generation'}`);
      continue;
    }
    const { zone, x, y, hp, maxHp, xp, level, inventory } = row;
    if (JSON.stringify({ zone, x, y, hp, maxHp, xp, level, inventory }) !== JSON.stringify(opts.stateAt(id, gen))) {
      violations.push(`player ${id} is corrupt: row ${JSON.stringify(row)} is not generation ${gen}`);
      continue;
    }
    for (const e of acked) {
      if (e.player === id && e.gen > gen) violations.push(`player ${id} is at gen ${gen}, older than acknowledged event ${e.id} (gen ${e.gen})`);
    }
    const lost = (log.changes.get(id) ?? []).filter((c) => c.gen > gen);
    lostChanges += lost.length;
    if (lost.length > 0) {
      const oldest = Math.min(...lost.map((c) => c.t));
      lossWindowMs = Math.max(lossWindowMs, log.lastT - oldest);
      if (log.flushed) violations.push(`player ${id}: ${lost.length} change(s) lost after a graceful stop (stored gen ${gen}, last ${lost[lost.length - 1]!.gen})`);
    }
  }
  if (lossWindowMs > opts.lossBoundMs) violations.push(`write-behind lost changes ${lossWindowMs} ms old, over the bound of ${opts.lossBoundMs} ms`);
  if (log.flushed) {
    if (!log.flushed.complete) violations.push('the graceful stop reported unsaved data');
    const ackedIds = new Set(acked.map((e) => e.id));
    for (const w of log.issued) if (!ackedIds.has(w.id)) violations.push(`write-through ${w.id} issued but never acknowledged before the graceful stop`);
  }
  return { violations, lossWindowMs, lostChanges, storedEvents: found.size };
}
