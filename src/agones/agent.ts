// The Agones lifecycle of one server process (agones.enabled): tells the SDK
// sidecar Ready once /readyz would answer 200, pings Health every
// agones.healthIntervalMs, keeps the label agones.dev/sdk-players equal to
// the live session count (written only when it changed), and sends Shutdown
// when the server shuts down (SIGTERM), first thing, so no allocation lands
// on a server that is saving its players.
//
// Player count as a label rather than Agones' alpha player tracking
// (/alpha/player/connect...): that needs the PlayerTracking feature gate and
// a call per player id from the session layer; a label needs neither and is
// what allocation selectors can match.
//
// The sidecar may start after us and may go away: a failed call is counted
// (mmo_agones_failures_total{call}), logged once until that call succeeds
// again, and retried on the next period. Nothing here throws into the server.

import type { Registry } from 'prom-client';
import type { Logger } from '../log/logger.js';
import type { AgonesConfig } from '../config/schema.js';
import { HotCounter, PullGauge } from '../metrics/hot.js';
import { AGONES_CALLS, AgonesSdk, agonesBaseUrl, type AgonesCall, type CallResult } from './sdk.js';

/** What the agent calls; AgonesSdk, or a fake in tests. */
export type AgonesApi = Pick<AgonesSdk, 'ready' | 'health' | 'shutdown' | 'setLabel'> & Partial<Pick<AgonesSdk, 'gameServer' | 'close'>>;

/** Agones label key (the sidecar prefixes agones.dev/sdk-). */
export const PLAYERS_LABEL = 'players';

/** How often readiness is checked until Ready is acknowledged. */
const READY_POLL_MS = 200;

export interface AgonesAgentOptions {
  api: AgonesApi;
  /** The same answer /readyz gives. */
  isReady: () => boolean;
  /** Players in the world now (live sessions, zombies included). */
  players: () => number;
  healthIntervalMs: number;
  labelIntervalMs: number;
  log: Logger;
  registry?: Registry;
  /** Where the sidecar is, for the logs. */
  url?: string;
}

const CALL_INDEX = Object.fromEntries(AGONES_CALLS.map((c, i) => [c, i])) as Readonly<Record<AgonesCall, number>>;
const flags = (): Record<AgonesCall, boolean> => ({ ready: false, health: false, shutdown: false, label: false, gameserver: false });

export class AgonesAgent {
  private readonly failures: HotCounter | null;
  private readonly failing = flags();
  private readonly busy = flags();
  /** Calls on the wire: Shutdown waits for them, so the sidecar sees nothing after it. */
  private readonly inflight = new Set<Promise<CallResult>>();
  private readyTimer: NodeJS.Timeout | null = null;
  private healthTimer: NodeJS.Timeout | null = null;
  private labelTimer: NodeJS.Timeout | null = null;
  /** Ready polls to skip after a refused Ready (so a missing sidecar is asked once per health interval). */
  private readySkip = 0;
  private lastLabel = -1;
  private stopping: Promise<void> | null = null;
  /** Ready was acknowledged by the sidecar. */
  acknowledgedReady = false;

  constructor(private readonly o: AgonesAgentOptions) {
    this.failures = o.registry
      ? new HotCounter(o.registry, 'mmo_agones_failures_total', 'Calls to the Agones SDK sidecar that failed (refused, timed out, not 2xx), by call.', AGONES_CALLS.map((call) => ({ call })))
      : null;
    if (o.registry) new PullGauge(o.registry, 'mmo_agones_ready', '1 once the Agones sidecar acknowledged Ready, else 0.', () => (this.acknowledgedReady ? 1 : 0));
  }

  start(): void {
    if (this.healthTimer || this.stopping) return;
    this.readyTimer = setInterval(() => this.pollReady(), Math.min(READY_POLL_MS, this.o.healthIntervalMs));
    this.healthTimer = setInterval(() => void this.call('health', () => this.o.api.health()), this.o.healthIntervalMs);
    this.labelTimer = setInterval(() => this.updateLabel(), this.o.labelIntervalMs);
    this.readyTimer.unref();
    this.healthTimer.unref();
    this.labelTimer.unref();
    this.o.log.info({ url: this.o.url, healthIntervalMs: this.o.healthIntervalMs }, 'agones: Ready will be sent once the server is ready');
    void this.call('health', () => this.o.api.health());
    this.pollReady();
  }

  /** Stops the timers and tells the sidecar Shutdown. Resolves (never rejects) once the call answered or failed. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const t of [this.readyTimer, this.healthTimer, this.labelTimer]) if (t) clearInterval(t);
      this.readyTimer = this.healthTimer = this.labelTimer = null;
      await Promise.allSettled([...this.inflight]); // each bounded by agones.requestTimeoutMs
      if (await this.call('shutdown', () => this.o.api.shutdown())) this.o.log.info('agones: Shutdown sent');
      this.o.api.close?.();
    })();
    return this.stopping;
  }

  private pollReady(): void {
    if (this.acknowledgedReady || this.busy.ready || this.stopping) return;
    if (this.readySkip > 0) return void this.readySkip--;
    let ready = false;
    try {
      ready = this.o.isReady();
    } catch {
      ready = false;
    }
    if (!ready) return;
    void this.call('ready', () => this.o.api.ready()).then((ok) => {
      if (ok) {
        this.acknowledgedReady = true;
        if (this.readyTimer) clearInterval(this.readyTimer);
        this.readyTimer = null;
        this.o.log.info('agones: Ready acknowledged');
        this.updateLabel();
        this.describe();
      } else {
        this.readySkip = Math.max(0, Math.ceil(this.o.healthIntervalMs / Math.min(READY_POLL_MS, this.o.healthIntervalMs)) - 1);
      }
    });
  }

  /** Logs which GameServer this is (once, after Ready; informational, not retried). */
  private describe(): void {
    const get = this.o.api.gameServer;
    if (!get || this.stopping) return;
    void this.call('gameserver', async () => {
      const r = await get.call(this.o.api);
      if (r.ok) this.o.log.info({ gameServer: r.info?.name, state: r.info?.state }, 'agones: GameServer');
      return r;
    });
  }

  private updateLabel(): void {
    if (!this.acknowledgedReady || this.stopping) return;
    let n: number;
    try {
      n = this.o.players();
    } catch {
      return;
    }
    if (n === this.lastLabel) return;
    void this.call('label', () => this.o.api.setLabel(PLAYERS_LABEL, String(n))).then((ok) => {
      if (ok) this.lastLabel = n;
    });
  }

  /** One call at a time per kind; counts and logs (once per outage) a failure. Resolves true on success. */
  private async call(kind: AgonesCall, run: () => Promise<CallResult>): Promise<boolean> {
    if (this.busy[kind]) return false;
    this.busy[kind] = true;
    let r: CallResult;
    let p: Promise<CallResult> | null = null;
    try {
      p = run();
      this.inflight.add(p);
      r = await p;
    } catch (err) {
      r = { ok: false, reason: (err as Error).message };
    } finally {
      this.busy[kind] = false;
      if (p) this.inflight.delete(p);
    }
    if (r.ok) {
      if (this.failing[kind]) this.o.log.info({ call: kind }, 'agones: sidecar call succeeds again');
      this.failing[kind] = false;
      return true;
    }
    this.failures?.inc(CALL_INDEX[kind]);
    if (!this.failing[kind]) {
      this.failing[kind] = true;
      this.o.log.warn({ call: kind, reason: r.reason, url: this.o.url }, 'agones: sidecar call failed (counted in mmo_agones_failures_total; logged again only after it recovers)');
    }
    return false;
  }
}

export interface AgonesHookDeps {
  isReady: () => boolean;
  players: () => number;
  registry: Registry;
  log: Logger;
}

/** The server's hook: null when agones.enabled is off, else a started agent. */
export function startAgones(cfg: AgonesConfig, deps: AgonesHookDeps): AgonesAgent | null {
  if (!cfg.enabled) return null;
  const url = agonesBaseUrl(cfg.sdkUrl);
  const agent = new AgonesAgent({
    api: new AgonesSdk(url, cfg.requestTimeoutMs),
    isReady: deps.isReady,
    players: deps.players,
    healthIntervalMs: cfg.healthIntervalMs,
    labelIntervalMs: cfg.labelIntervalMs,
    log: deps.log,
    registry: deps.registry,
    url,
  });
  agent.start();
  return agent;
}
