// The driver side of the bot swarm: starts the worker threads, hands out bot
// indexes, and merges the workers' reports into totals and histograms.
// Every command resolves or rejects within a timeout; stop() terminates
// workers that do not answer.

import { Worker } from 'node:worker_threads';
import { EventEmitter } from 'node:events';
import { DEFAULT_BEHAVIOUR, type BotBehaviour } from './bot.js';
import { addCounters, addEncoded, newHistogram, zeroCounters, type Counters, type Histogram } from './counters.js';
import type { BotKind, FromWorker, ToWorker, WorkerInit, WorkerReport } from './protocol.js';

export interface SwarmOptions {
  url: string;
  kind?: BotKind;
  /** Worker threads. Default 2. */
  workers?: number;
  /**
   * Bots on an extra, lightly loaded worker whose RTT is the RTT reported
   * (default 0: none). A real player's device decodes one player's traffic;
   * a bot sharing a thread with hundreds of others waits behind their
   * decoding too, so the other bots' RTT (rttAll) includes the swarm's own
   * queueing, and is reported separately.
   */
  probeBots?: number;
  /**
   * Full SDK bots on a thread of their own beside lean ones (kind 'lean'):
   * they keep the SDK's world model and audit it, so a lean run still checks
   * correctness (default 0).
   */
  fullBots?: number;
  /** Source addresses (see loopbackAddresses). */
  addresses?: string[];
  behaviour?: Partial<BotBehaviour>;
  seed?: number;
  stepMs?: number;
  reportMs?: number;
  peer?: Record<string, unknown>;
}

/**
 * `n` loopback source addresses 127.0.1.1, 127.0.1.2, ... (254 per /24):
 * each (source address, server address, port) has its own ~28,000 ephemeral
 * ports, and per-address limits on the server see n clients' worth each.
 */
export function loopbackAddresses(n: number): string[] {
  const out: string[] = [];
  for (let k = 0; k < n; k++) out.push(`127.0.${1 + Math.floor(k / 254)}.${1 + (k % 254)}`);
  return out;
}

export function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname;
  return host === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(host) || host === '[::1]';
}

/** CPU time and WebSocket messages (in + out) of a set of bot threads, cumulative. */
export interface BotCost {
  cpuUs: number;
  /** User and kernel parts (from /proc; -1 when some thread's were unreadable). */
  userUs: number;
  systemUs: number;
  msgs: number;
  threads: number;
}

interface WorkerState {
  worker: Worker;
  last: WorkerReport | null;
  exited: boolean;
}

export class Swarm extends EventEmitter {
  /** Histograms since the run began (merged from every report), microseconds. rtt: the probe bots' (every bot's without a probe worker). */
  readonly rtt: Histogram = newHistogram();
  /** RTT of every bot but the probes, since the last resetWindow(). */
  readonly rttAllWindow: Histogram = newHistogram();
  readonly connectTime: Histogram = newHistogram();
  readonly backTime: Histogram = newHistogram();
  /** RTT since the last takeInterval(), for progress lines. */
  private rttInterval: Histogram = newHistogram();
  /** RTT since the last resetWindow() (the measured window). */
  readonly rttWindow: Histogram = newHistogram();
  /** Worst bot event-loop delay p99 over recent reports, ms (decaying): how loaded the bot threads are. */
  botLoopDelayP99Ms = 0;
  probeLoopDelayP99Ms = 0;

  private readonly workers: WorkerState[] = [];
  /** The probe worker, if any (not in `workers`' load share). */
  private probe: WorkerState | null = null;
  private probeSpawned = 0;
  /** The full SDK bots' worker, if any (not in `workers`' load share). */
  private full: WorkerState | null = null;
  private fullSpawned = 0;
  private nextIndex = 0;
  private stopped = false;

  private constructor(readonly opts: Required<Omit<SwarmOptions, 'peer'>> & { peer?: Record<string, unknown> }) {
    super();
  }

  static async start(o: SwarmOptions): Promise<Swarm> {
    const opts = {
      kind: 'sdk' as BotKind,
      workers: 2,
      probeBots: 0,
      fullBots: 0,
      addresses: [] as string[],
      seed: 1,
      stepMs: 50,
      reportMs: 1000,
      ...o,
      behaviour: { ...DEFAULT_BEHAVIOUR, ...o.behaviour },
    };
    const s = new Swarm(opts);
    const ready: Promise<void>[] = [];
    const probes = opts.probeBots > 0 ? 1 : 0;
    const threads = opts.workers + probes + (opts.fullBots > 0 ? 1 : 0);
    for (let i = 0; i < threads; i++) {
      const probe = probes === 1 && i === opts.workers;
      const full = i === opts.workers + probes;
      const init: WorkerInit = {
        workerIndex: i,
        probe,
        full,
        url: opts.url,
        kind: full ? 'sdk' : opts.kind,
        // Probes ping 4 times a second so a short run still yields a usable p99.
        behaviour: probe ? { ...opts.behaviour, pingIntervalMs: Math.min(opts.behaviour.pingIntervalMs, 250) } : opts.behaviour,
        addresses: opts.addresses,
        seed: opts.seed,
        stepMs: opts.stepMs,
        reportMs: opts.reportMs,
        ...(opts.peer ? { peer: opts.peer } : {}),
      };
      const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: init });
      const st: WorkerState = { worker, last: null, exited: false };
      if (probe) s.probe = st;
      else if (full) s.full = st;
      else s.workers.push(st);
      worker.on('message', (m: FromWorker) => s.onMessage(st, m));
      worker.on('error', (e) => s.emit('workerError', e));
      worker.on('exit', (code) => {
        st.exited = true;
        // Every wait on this worker fails now rather than at its timeout.
        s.emit(`exit:${st.worker.threadId}`, code);
        if (!s.stopped) s.emit('workerError', new Error(`bot worker ${st.worker.threadId} exited with ${code}`));
      });
      ready.push(s.waitFor(st, (m) => m.t === 'ready', 20_000, 'worker start'));
    }
    await Promise.all(ready);
    return s;
  }

  /** Threads that report (the probe worker included). */
  get workerCount(): number {
    return this.all().length;
  }

  private all(): WorkerState[] {
    const a = [...this.workers];
    if (this.probe) a.push(this.probe);
    if (this.full) a.push(this.full);
    return a;
  }

  /**
   * Cumulative CPU and messages of the threads of the main kind (the workers
   * and the probe) and of the full SDK bots' thread, as of the last reports.
   */
  botCost(): { main: BotCost; full: BotCost; cpuSource: string | null } {
    const main: BotCost = { cpuUs: 0, userUs: 0, systemUs: 0, msgs: 0, threads: 0 };
    const full: BotCost = { cpuUs: 0, userUs: 0, systemUs: 0, msgs: 0, threads: 0 };
    let source: string | null = null;
    for (const w of this.all()) {
      const r = w.last;
      if (!r) continue;
      const into = r.full ? full : main;
      into.cpuUs += r.cpuUs;
      into.userUs = into.userUs < 0 || r.userUs < 0 ? -1 : into.userUs + r.userUs;
      into.systemUs = into.systemUs < 0 || r.systemUs < 0 ? -1 : into.systemUs + r.systemUs;
      into.msgs += r.counters.msgsIn + r.counters.msgsOut;
      into.threads++;
      source = r.cpuSource;
    }
    return { main, full, cpuSource: source };
  }

  /** Cumulative counters of every worker (as of their last reports). */
  totals(): Counters {
    const c = zeroCounters();
    for (const w of this.all()) if (w.last) addCounters(c, w.last.counters);
    return c;
  }

  errorCodes(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const w of this.all()) {
      if (!w.last) continue;
      for (const [k, v] of Object.entries(w.last.errorCodes)) out[k] = (out[k] ?? 0) + v;
    }
    return out;
  }

  /** Bots with a live session (as of the last reports). */
  connected(): number {
    let n = 0;
    for (const w of this.all()) n += w.last?.connected ?? 0;
    return n;
  }

  /** Bots not closed for good. */
  live(): number {
    let n = 0;
    for (const w of this.all()) n += w.last?.live ?? 0;
    return n;
  }

  /** RTT histogram since the previous call (progress lines). */
  takeInterval(): Histogram {
    const h = this.rttInterval;
    this.rttInterval = newHistogram();
    return h;
  }

  resetWindow(): void {
    this.rttWindow.reset();
    this.rttAllWindow.reset();
  }

  /** Starts `count` more bots at `perSec` in total (0: all at once); resolves once all are started (not yet connected). */
  async spawn(count: number, perSec: number, timeoutMs = 600_000): Promise<void> {
    const jobs: Promise<void>[] = [];
    if (this.full && this.fullSpawned < this.opts.fullBots && count > 0) {
      // The full SDK bots come first (they keep theirs: leaves go to the main workers).
      const share = Math.min(count, this.opts.fullBots - this.fullSpawned);
      this.fullSpawned += share;
      const first = this.nextIndex;
      this.nextIndex += share;
      count -= share;
      jobs.push(this.waitFor(this.full, (m) => m.t === 'spawned', timeoutMs, 'spawn'));
      this.send(this.full, { t: 'spawn', first, count: share, perSec: Math.min(perSec, 100) });
    }
    if (this.probe && this.probeSpawned < this.opts.probeBots && count > 0) {
      // The probe worker fills up first (it keeps its bots: leaves go to the others).
      const share = Math.min(count, this.opts.probeBots - this.probeSpawned);
      this.probeSpawned += share;
      const first = this.nextIndex;
      this.nextIndex += share;
      count -= share;
      jobs.push(this.waitFor(this.probe, (m) => m.t === 'spawned', timeoutMs, 'spawn'));
      this.send(this.probe, { t: 'spawn', first, count: share, perSec: Math.min(perSec, 50) });
    }
    const n = this.workers.length;
    for (let i = 0; i < n; i++) {
      const share = Math.floor(count / n) + (i < count % n ? 1 : 0);
      if (share === 0) continue;
      const first = this.nextIndex;
      this.nextIndex += share;
      const st = this.workers[i]!;
      jobs.push(this.waitFor(st, (m) => m.t === 'spawned', timeoutMs, 'spawn'));
      this.send(st, { t: 'spawn', first, count: share, perSec: perSec / n });
    }
    await Promise.all(jobs);
  }

  /** Asks `count` playing bots (spread over the workers) to leave cleanly. */
  leave(count: number): void {
    const n = this.workers.length;
    for (let i = 0; i < n; i++) {
      const share = Math.floor(count / n) + (i < count % n ? 1 : 0);
      if (share > 0) this.send(this.workers[i]!, { t: 'leave', count: share });
    }
  }

  /**
   * Storm: kills every bot's socket at once (no close frame), or with
   * kill=false only marks them so that a cut made elsewhere (the proxy)
   * counts as planned. Resolves with how many live sockets were dropped.
   */
  async drop(kill = true): Promise<number> {
    const counts = await Promise.all(
      this.all().map((st) => {
        const p = this.waitFor(st, (m) => m.t === 'dropped', 10_000, 'drop');
        this.send(st, { t: 'drop', kill });
        return p.then(() => (st as WorkerState & { dropped?: number }).dropped ?? 0);
      }),
    );
    return counts.reduce((a, b) => a + b, 0);
  }

  /** Every bot checks its view for a second player with its own name (counted in duplicateSelf). */
  async audit(): Promise<void> {
    await Promise.all(
      this.all().map((st) => {
        const p = this.waitFor(st, (m) => m.t === 'audited', 10_000, 'audit');
        this.send(st, { t: 'audit' });
        return p;
      }),
    );
  }

  /** Closes every bot and ends the workers; terminates those that do not finish within timeoutMs. */
  async stop(timeoutMs = 10_000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all(
      this.all().map(async (st) => {
        if (st.exited) return;
        const done = this.waitFor(st, (m) => m.t === 'stopped', timeoutMs, 'stop').catch(() => undefined);
        this.send(st, { t: 'stop' });
        await done;
        const exit = new Promise((r) => (st.exited ? r(undefined) : st.worker.once('exit', r)));
        const t = setTimeout(() => void st.worker.terminate(), 1000);
        await exit;
        clearTimeout(t);
      }),
    );
  }

  private send(st: WorkerState, m: ToWorker): void {
    if (!st.exited) st.worker.postMessage(m);
  }

  private onMessage(st: WorkerState, m: FromWorker): void {
    if (m.t === 'report') {
      st.last = m;
      if (m.probe || !this.probe) {
        addEncoded(this.rtt, m.rtt);
        addEncoded(this.rttInterval, m.rtt);
        addEncoded(this.rttWindow, m.rtt);
      }
      if (!m.probe) addEncoded(this.rttAllWindow, m.rtt);
      addEncoded(this.connectTime, m.connect);
      addEncoded(this.backTime, m.back);
      if (!m.probe) this.botLoopDelayP99Ms = Math.max(m.loopDelayP99Ms, this.botLoopDelayP99Ms * 0.8);
      else this.probeLoopDelayP99Ms = Math.max(m.loopDelayP99Ms, this.probeLoopDelayP99Ms * 0.8);
      this.emit('report', m);
    } else if (m.t === 'dropped') {
      (st as WorkerState & { dropped?: number }).dropped = m.count;
    }
    this.emit(`m:${st.worker.threadId}`, m);
  }

  private waitFor(st: WorkerState, pred: (m: FromWorker) => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const ev = `m:${st.worker.threadId}`;
      const fn = (m: FromWorker) => {
        if (!pred(m)) return;
        clearTimeout(timer);
        this.off(ev, fn);
        this.off(`exit:${st.worker.threadId}`, onExit);
        resolve();
      };
      const exitEv = `exit:${st.worker.threadId}`;
      const onExit = () => {
        clearTimeout(timer);
        this.off(ev, fn);
        reject(Object.assign(new Error(`bot worker ${st.worker.threadId} exited before answering ${what}`), { code: 'MMO_ERR_LOADTEST_WORKER' }));
      };
      const timer = setTimeout(() => {
        this.off(ev, fn);
        this.off(exitEv, onExit);
        reject(Object.assign(new Error(`bot worker ${st.worker.threadId}: ${what} not answered within ${timeoutMs} ms`), { code: 'MMO_ERR_LOADTEST_WORKER' }));
      }, timeoutMs);
      this.on(ev, fn);
      if (st.exited) return onExit();
      this.once(exitEv, onExit);
    });
  }
}
