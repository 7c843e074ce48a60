// Write-behind throughput: players saved per second through the real stack
// (WriteQueue -> PooledStore -> database thread -> SQLite or PostgreSQL), one
// transaction per batch, against a baseline measured in the same run: the
// same players saved one transaction each (what a naive "save on change"
// does).
//
// gatewayFirstTurnMs is the synchronous part of a tick on the gateway thread;
// gatewayStallMs* the longest event-loop delay seen from tick() to commit,
// per round (median and worst round; snapshots are taken 2048 per turn, so it
// stays small however big the batch; GC pauses count), against the same
// monitor over an idle wait of the same length (idleStallMsMedianRound).
//
// PostgreSQL comes from MMO_TEST_PG_URL or a throwaway local cluster
// (Debian's binaries, fsync on, over TCP on 127.0.0.1), as in the tests;
// without either its lines are skipped with a note on stderr.

import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { report, median } from './harness.js';
import { Persistence } from '../../src/persist/persistence.js';
import { createStore, type StoreConfig } from '../../src/persist/open-store.js';
import { createLogger } from '../../src/log/logger.js';
import type { PlayerRecord } from '../../src/persist/types.js';
import { findPgBin, startPgCluster } from '../../test/helpers/pg-cluster.js';

const PLAYERS = 10_000;
const ROUNDS = 5;
const BASELINE_PLAYERS = 500;
const log = createLogger({ level: 'error', pretty: 'never' }, { destination: { write: (s: string) => void process.stderr.write(s) } });

function state(p: PlayerRecord, round: number) {
  return { ...p, x: (p.x + round * 1.5) % 4096, y: (p.y + round) % 4096, xp: p.xp + round, inventory: [{ item: round % 100, count: 1 + (round % 5) }, { item: 7, count: 3 }] };
}

/** Accounts and players made in-process, many per transaction is not possible through the API: one each, but without the thread hop. */
async function seed(cfg: StoreConfig): Promise<PlayerRecord[]> {
  const s = createStore(cfg);
  await s.migrate();
  const out: PlayerRecord[] = [];
  for (let i = 0; i < PLAYERS; i++) {
    const r = await s.createAccount({
      name: `b${i}`,
      password: { hash: new Uint8Array(randomBytes(32)), salt: new Uint8Array(randomBytes(16)), logN: 10, r: 8, p: 1 },
      createdAt: Date.now(),
      player: { zone: 1, x: i % 4096, y: (i * 7) % 4096, hp: 100, maxHp: 100, xp: 0, level: 1, inventory: [] },
    });
    if (!r.ok) throw new Error('seed failed');
    out.push(r.player);
  }
  await s.close();
  return out;
}

async function bench(label: string, store: StoreConfig): Promise<void> {
  const players = await seed(store);
  const p = await Persistence.open(
    { store, queue: { intervalMs: 60_000, retryMinMs: 100, retryMaxMs: 1000, maxPendingEvents: 10_000, maxEventsPerBatch: 500, alarmLogIntervalMs: 10_000 } },
    log,
    null,
  );
  try {
    for (const pl of players) p.queue.track(pl);
    // Batched: every player dirty, one tick = one transaction. The synchronous
    // part of tick() is what the gateway thread pays: snapshots, validation,
    // packing, posting to the database thread.
    const rates: number[] = [];
    const gatewayMs: number[] = [];
    const stall = monitorEventLoopDelay({ resolution: 1 });
    const stallMs: number[] = [];
    const batchMs: number[] = [];
    for (let round = 1; round <= ROUNDS + 1; round++) {
      for (const pl of players) p.markDirty(pl.id, state(pl, round));
      stall.reset();
      stall.enable();
      const t0 = performance.now();
      p.queue.tick();
      const t1 = performance.now();
      const r = await p.flush();
      const ms = performance.now() - t0;
      stall.disable();
      if (round > 1) stallMs.push(stall.max / 1e6);
      if (!r.complete) throw new Error('flush incomplete');
      if (round > 1) {
        rates.push((PLAYERS * 1000) / ms);
        batchMs.push(ms);
        gatewayMs.push(t1 - t0);
      }
    }

    // Baseline for the stall: the same monitor over an idle wait as long as a batch
    // (what the machine's other load and timers cost without any saving).
    const idleStallMs: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      stall.reset();
      stall.enable();
      await new Promise((r) => setTimeout(r, median(batchMs)));
      stall.disable();
      idleStallMs.push(stall.max / 1e6);
    }

    // Baseline: one transaction per player, same stack.
    const base: number[] = [];
    const subset = players.slice(0, BASELINE_PLAYERS);
    for (let round = 0; round < 3; round++) {
      const t0 = performance.now();
      for (let i = 0; i < subset.length; i++) {
        const pl = subset[i]!;
        await p.store.savePlayers([{ ...state(pl, 100 + round), version: 1000 + round, updatedAt: Date.now() }]);
      }
      base.push((BASELINE_PLAYERS * 1000) / (performance.now() - t0));
    }
    const rate = median(rates);
    const baseline = median(base);
    report({
      name: `persist.writeBehind.${label}`,
      opsPerSec: rate,
      unit: 'players saved/s',
      playersPerBatch: PLAYERS,
      batchMsMedian: median(batchMs),
      gatewayFirstTurnMs: median(gatewayMs),
      gatewayStallMsMedianRound: median(stallMs),
      gatewayStallMsWorstRound: Math.max(...stallMs),
      idleStallMsMedianRound: median(idleStallMs),
      baselineOneTxPerPlayer: baseline,
      speedup: rate / baseline,
    });
  } finally {
    await p.close();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'mmo-bench-'));
try {
  await bench('sqlite.full', { kind: 'sqlite', file: join(dir, 'full.sqlite'), synchronous: 'full' });
  await bench('sqlite.normal', { kind: 'sqlite', file: join(dir, 'normal.sqlite'), synchronous: 'normal' });
  if (process.env.MMO_TEST_PG_URL || findPgBin()) {
    const cluster = await startPgCluster({ fsync: true });
    try {
      await bench('postgres', { kind: 'postgres', url: await cluster.createDatabase(), poolSize: 4, connectTimeoutMs: 5000, statementTimeoutMs: 30_000 });
    } finally {
      await cluster.destroy();
    }
  } else {
    process.stderr.write('persist.bench: no PostgreSQL (install the Debian package `postgresql` or set MMO_TEST_PG_URL); postgres lines skipped\n');
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
