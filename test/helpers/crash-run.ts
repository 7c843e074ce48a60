// Runs the crash-test producer (test/fixtures/persist-load.ts) in a child
// process, kills it, and checks the database with crash-check.ts.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { StoreConfig } from '../../src/persist/open-store.js';
import { createStore } from '../../src/persist/open-store.js';
import { checkDurability, emptyLog, parseAckLines, type AckLog, type CheckReport } from './crash-check.js';
import { genOf, stateAt } from '../fixtures/synthetic-state.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/persist-load.js', import.meta.url));

export interface RunSpec {
  store: StoreConfig;
  players: number;
  intervalMs: number;
  runId: string;
  seed: number;
  /**
   * How long the load runs after its first committed batch before the signal:
   * measured from the first batch, not from start, so a busy machine cannot
   * end a run before it wrote anything.
   */
  runMs: number;
  signal: 'SIGKILL' | 'SIGTERM';
}

export interface RunResult {
  log: AckLog;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

export async function runProducer(spec: RunSpec): Promise<RunResult> {
  const child = spawn(
    process.execPath,
    [FIXTURE, JSON.stringify({ store: spec.store, players: spec.players, intervalMs: spec.intervalMs, throughEvery: 8, changeEveryMs: 4, runId: spec.runId, seed: spec.seed })],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill);
  let text = '';
  let stderr = '';
  const log = emptyLog();
  let ready: () => void;
  const readyP = new Promise<void>((r) => (ready = r));
  let batched: () => void;
  const batchedP = new Promise<void>((r) => (batched = r));
  let sawBatch = false;
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    text += c;
    if (!log.ready && /^R /m.test(text)) {
      log.ready = true;
      ready();
    }
    if (!sawBatch && /^B /m.test(text)) {
      sawBatch = true;
      batched();
    }
  });
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const startTimeout = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const first = await Promise.race([readyP.then(() => 'ready' as const), exited.then(() => 'exited' as const)]);
  clearTimeout(startTimeout);
  if (first === 'exited') throw new Error(`producer exited before it was ready: ${stderr.slice(-2000)}`);
  const batchTimeout = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const firstBatch = await Promise.race([batchedP.then(() => 'batched' as const), exited.then(() => 'exited' as const)]);
  clearTimeout(batchTimeout);
  if (firstBatch === 'exited') throw new Error(`producer exited before its first batch: ${stderr.slice(-2000)}`);
  await new Promise((r) => setTimeout(r, spec.runMs));
  child.kill(spec.signal);
  const stopTimeout = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const [exitCode, signal] = await exited;
  clearTimeout(stopTimeout);
  process.removeListener('exit', kill);
  return { log: parseAckLines(text), exitCode, signal, stderr };
}

/** Checks the database a producer left, against its acknowledgements (cumulative over runs for events). */
export async function checkStore(store: StoreConfig, log: AckLog, allAcked: AckLog['acked'], lossBoundMs: number, players: number[]): Promise<CheckReport> {
  const s = createStore(store);
  try {
    await s.migrate();
    return await checkDurability(s, { ...log, acked: allAcked }, { players, genOf, stateAt, lossBoundMs });
  } finally {
    await s.close();
  }
}

/** Player ids of the producer's accounts crash0..crashN-1 (they are created first, in order, on an empty database). */
export function producerPlayerIds(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

/** Deterministic run lengths from a seed. */
export function runLengths(seed: number, count: number, minMs: number, maxMs: number): number[] {
  let s = seed >>> 0;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out.push(minMs + (s % (maxMs - minMs)));
  }
  return out;
}
