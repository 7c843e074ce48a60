// A bot worker thread: runs its share of the swarm. The bots' timer wheel
// turns every stepMs; each turn steps one slice of the bots, so each bot acts
// once per moveIntervalMs. Reports go to the driver every reportMs.

import { parentPort, workerData } from 'node:worker_threads';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Bot, type BotHost } from './bot.js';
import { encodeHistogram, newHistogram, zeroCounters, type Counters, type Histogram } from './counters.js';
import type { FromWorker, ToWorker, WorkerInit } from './protocol.js';
import { mulberry32 } from '../netfault/proxy.js';
import { createPeerBot } from '../peers/bots.js';
import { LeanBot } from '../lean/bot.js';
import { LeanRawBot } from '../lean/raw-bot.js';
import { LeanColyseusBot } from '../lean/colyseus-bot.js';
import { parseWsUrl } from '../lean/conn.js';
import { cpuSource, threadCpuSeconds } from '../../native-bindings/index.js';
import { parseTaskStat } from '../../native-bindings/proc.js';
import { readFileSync } from 'node:fs';

/** This thread's user and kernel CPU so far, us (from /proc/thread-self/stat, 10 ms resolution; -1 when unreadable). Cold path: once per report. */
function userSystemUs(): [number, number] {
  try {
    const t = parseTaskStat(readFileSync('/proc/thread-self/stat', 'latin1'));
    return t ? [Math.round(t.userSeconds * 1e6), Math.round(t.systemSeconds * 1e6)] : [-1, -1];
  } catch {
    return [-1, -1];
  }
}

/** What the worker needs of a bot, whichever client it uses. */
export interface SwarmBot {
  readonly index: number;
  readonly phase: 'connecting' | 'playing' | 'closed';
  readonly client: { readonly connected: boolean } | null;
  start(): void;
  step(now: number): void;
  leave(): void;
  drop(kill: boolean): boolean;
  audit(): void;
}

const init = workerData as WorkerInit;
const port = parentPort!;
const rnd = mulberry32(init.seed * 7919 + init.workerIndex);
const loop = monitorEventLoopDelay({ resolution: 10 });
loop.enable();

class Host implements BotHost {
  readonly url = init.url;
  readonly behaviour = init.behaviour;
  /** Cumulative (the driver keeps each worker's latest); bots hold references to these objects. */
  readonly counters: Counters = zeroCounters();
  readonly errorCodes: Record<string, number> = {};
  /** Per report period (reset after each report). */
  readonly rtt: Histogram = newHistogram();
  readonly connectTime: Histogram = newHistogram();
  readonly backTime: Histogram = newHistogram();
  readonly bots = new Set<SwarmBot>();
  /** The wheel: bots by slot; slot = index % slots. */
  readonly slots: SwarmBot[][];
  private turn = 0;

  constructor() {
    const n = Math.max(1, Math.round(init.behaviour.moveIntervalMs / init.stepMs));
    this.slots = Array.from({ length: n }, () => []);
  }

  random(): number {
    return rnd();
  }

  retire(bot: { readonly index: number }): void {
    if (!this.bots.delete(bot as SwarmBot)) return;
    const slot = this.slots[bot.index % this.slots.length]!;
    const i = slot.indexOf(bot as SwarmBot);
    if (i >= 0) slot.splice(i, 1);
  }

  add(bot: SwarmBot): void {
    this.bots.add(bot);
    this.slots[bot.index % this.slots.length]!.push(bot);
    bot.start();
  }

  turnWheel(): void {
    const slot = this.slots[this.turn++ % this.slots.length]!;
    const now = performance.now();
    for (let i = 0; i < slot.length; i++) slot[i]!.step(now);
  }

  report(): void {
    let connected = 0;
    for (const b of this.bots) if (b.client?.connected) connected++;
    const msg: FromWorker = {
      t: 'report',
      worker: init.workerIndex,
      probe: init.probe,
      counters: this.counters,
      errorCodes: this.errorCodes,
      connected,
      live: this.bots.size,
      rtt: encodeHistogram(this.rtt),
      connect: encodeHistogram(this.connectTime),
      back: encodeHistogram(this.backTime),
      loopDelayP99Ms: loop.percentile(99) / 1e6,
      kind: init.kind,
      full: init.full ?? false,
      cpuUs: Math.round(threadCpuSeconds() * 1e6),
      cpuSource,
      ...((([u, k]) => ({ userUs: u, systemUs: k }))(userSystemUs())),
    };
    loop.reset();
    port.postMessage(msg);
    this.rtt.reset();
    this.connectTime.reset();
    this.backTime.reset();
  }
}

const host = new Host();
// A bug in one bot (or in the SDK under it) must not take the thread's other bots down: count it, carry on.
process.on('uncaughtException', (e) => {
  host.counters.botExceptions++;
  const key = `exception:${(e as Error).message?.slice(0, 60) ?? String(e)}`;
  host.errorCodes[key] = (host.errorCodes[key] ?? 0) + 1;
});
const wheel = setInterval(() => host.turnWheel(), init.stepMs);
const reporter = setInterval(() => host.report(), init.reportMs);

const target = init.kind === 'lean' || init.kind === 'lean-raw' || init.kind === 'lean-colyseus' ? parseWsUrl(init.url) : null;

function makeBot(index: number): SwarmBot {
  const addr = init.addresses.length > 0 ? init.addresses[index % init.addresses.length] : undefined;
  if (init.kind === 'sdk') return new Bot(host, index, addr);
  if (init.kind === 'lean') return new LeanBot(host, index, target!, addr);
  if (init.kind === 'lean-raw') return new LeanRawBot(host, index, target!, addr);
  if (init.kind === 'lean-colyseus') return new LeanColyseusBot(host, index, target!, 'world');
  return createPeerBot(init.kind, host, index, addr, init.peer ?? {});
}

/** Starts `count` bots at `perSec`, in batches every 10 ms. */
function spawn(first: number, count: number, perSec: number): Promise<void> {
  return new Promise((resolve) => {
    let made = 0;
    const t0 = performance.now();
    const tick = () => {
      const due = perSec > 0 ? Math.min(count, Math.floor(((performance.now() - t0) / 1000) * perSec) + 1) : count;
      while (made < due) host.add(makeBot(first + made++));
      if (made >= count) resolve();
      else setTimeout(tick, 10);
    };
    tick();
  });
}

port.on('message', (m: ToWorker) => {
  switch (m.t) {
    case 'spawn':
      void spawn(m.first, m.count, m.perSec).then(() => {
        host.report();
        port.postMessage({ t: 'spawned', worker: init.workerIndex, count: m.count } satisfies FromWorker);
      });
      return;
    case 'leave': {
      // The oldest bots leave first: in a soak the newest have not warmed up yet.
      let n = 0;
      for (const b of host.bots) {
        if (n >= m.count) break;
        if (b.phase === 'playing') {
          b.leave();
          n++;
        }
      }
      return;
    }
    case 'drop': {
      let n = 0;
      for (const b of host.bots) if (b.drop(m.kill)) n++;
      host.report();
      port.postMessage({ t: 'dropped', worker: init.workerIndex, count: n } satisfies FromWorker);
      return;
    }
    case 'audit':
      for (const b of host.bots) b.audit();
      host.report();
      port.postMessage({ t: 'audited', worker: init.workerIndex } satisfies FromWorker);
      return;
    case 'stop': {
      clearInterval(wheel);
      for (const b of [...host.bots]) b.leave();
      // Give the close frames a moment to go out, then say goodbye.
      setTimeout(() => {
        host.report();
        clearInterval(reporter);
        port.postMessage({ t: 'stopped', worker: init.workerIndex } satisfies FromWorker);
        setTimeout(() => process.exit(0), 50).unref();
      }, 300);
      return;
    }
  }
});

port.postMessage({ t: 'ready', worker: init.workerIndex } satisfies FromWorker);
