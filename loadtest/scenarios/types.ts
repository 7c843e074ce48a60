// What a scenario module is, and what the runner hands it.

import type { BotBehaviour } from '../swarm/bot.js';
import type { Swarm } from '../swarm/swarm.js';
import type { ServerProbe } from '../server/probe.js';
import type { NetFaultProxy } from '../netfault/proxy.js';
import type { BotKind } from '../swarm/protocol.js';

export interface LoadtestOptions {
  scenario: string;
  clients: number;
  durationSec: number;
  /** ws:// URL of the server; required unless spawnServer. */
  url?: string;
  spawnServer: boolean;
  /** New connections per second while ramping up (all workers together). */
  rampPerSec: number;
  workers: number;
  /** Bots on a lightly loaded thread of their own whose RTT is reported (0: every bot's RTT). */
  probeBots: number;
  /** Loopback source addresses to spread the bots over (0: let the OS pick). Ignored for a non-loopback URL. */
  addresses: number;
  /** Server process to read /proc of, when not spawned. */
  serverPid?: number;
  /** Keys for the spawned server's temporary config (dotted paths). */
  serverConfig: Record<string, unknown>;
  /** Extra arguments for the spawned server. */
  serverArgs: string[];
  /** Progress line period, ms (0: none). */
  progressMs: number;
  /** Server sampling period (heap, RSS), ms. */
  sampleMs: number;
  seed: number;
  behaviour: Partial<BotBehaviour>;
  /** Route the bots through the netfault proxy (reconnect-storm can then cut there). */
  viaProxy: boolean;
  /** reconnect-storm: how the sockets are dropped. */
  dropVia: 'client' | 'proxy';
  /** reconnect-storm: everyone must be back within this many seconds. */
  stormDeadlineSec: number;
  /** soak: share of the players replaced per minute, percent. */
  turnoverPctPerMin: number;
  /** churn: connections closed and opened per second. */
  churnPerSec: number;
  /** Pass criteria. */
  maxRttP99Ms: number;
  maxRssGrowthPct: number;
  maxHeapSlopeMbPerMin: number;
  /** attack: the attacks to run together (loadtest/attack), their intensity (1: the documented default), and its pass criteria. */
  attacks?: string[];
  attackIntensity?: number;
  maxAttackRttP99Ms?: number;
  maxRssGrowthMb?: number;
  recoverWithinSec?: number;
  /**
   * Which client the bots use: 'sdk' (ours, with a world model), 'lean' (the
   * lean engine, loadtest/lean/) or a peer's (bench:compare). Default: lean
   * above 2,000 clients, else sdk.
   */
  bots?: BotKind;
  /** With lean bots: this many full SDK bots beside them (default min(50, 1 % of clients rounded up)). */
  fullBots?: number;
  /** With spawnServer: run this peer server script instead of ours, with these arguments. */
  peerScript?: string;
  peerArgs?: string[];
  /** Where progress and notes go (default stderr). */
  log: (line: string) => void;
}

/** A periodic reading of the server. */
export interface ServerSample {
  /** Seconds since the run started. */
  t: number;
  heapUsedMb: number | null;
  rssMb: number | null;
}

export interface ScenarioContext {
  readonly opts: LoadtestOptions;
  readonly swarm: Swarm;
  readonly probe: ServerProbe;
  /** Set when the bots go through the netfault proxy. */
  readonly proxy: NetFaultProxy | null;
  /** Seconds since the run started. */
  now(): number;
  log(line: string): void;
  sleep(ms: number): Promise<void>;
  /** Starts n more bots at the ramp rate and waits until `target` are connected (default: all live). Resolves false on timeout. */
  ramp(n: number, target?: number): Promise<boolean>;
  /** Waits until at least `target` bots are connected; false on timeout. */
  waitConnected(target: number, timeoutMs: number): Promise<boolean>;
  /** Waits for the workers' next reports (fresh totals). */
  freshReports(): Promise<void>;
  /** Marks the start and end of the measured window (rates, CPU, RTT). */
  startWindow(): Promise<void>;
  endWindow(): Promise<void>;
  readonly samples: readonly ServerSample[];
  /** Scenario figures added to the result line. */
  readonly extra: Record<string, unknown>;
}

export interface Scenario {
  name: string;
  description: string;
  run(ctx: ScenarioContext): Promise<void>;
  /** Failed pass criteria, as readable sentences (empty: pass). */
  check(result: Record<string, unknown>, opts: LoadtestOptions): string[];
}
