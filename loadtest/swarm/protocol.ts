// Messages between the swarm driver (main thread) and its bot workers.

import type { BotBehaviour } from './bot.js';
import type { Counters } from './counters.js';

/**
 * Which client the bots use: our SDK ('sdk'), the lean engine on our protocol
 * ('lean', loadtest/lean/), or a peer server's client (bench:compare): plain
 * `ws` ('raw') or the lean engine ('lean-raw') on the peers' wire format, the
 * Colyseus SDK ('colyseus') or the lean engine speaking Colyseus's protocol
 * ('lean-colyseus').
 */
export type BotKind = 'sdk' | 'lean' | 'raw' | 'lean-raw' | 'colyseus' | 'lean-colyseus';

export interface WorkerInit {
  workerIndex: number;
  /** The probe worker: a few bots on a thread of their own, whose RTT is the one reported. */
  probe: boolean;
  url: string;
  kind: BotKind;
  behaviour: BotBehaviour;
  /** Source addresses to bind (127.0.0.x); empty: the OS picks. Bot i uses addresses[i % length]. */
  addresses: string[];
  seed: number;
  /** Period of the bots' wheel, ms. */
  stepMs: number;
  /** Period of reports to the driver, ms. */
  reportMs: number;
  /** Extra settings of peer bots (message sizes, room name...). */
  peer?: Record<string, unknown>;
  /** The thread of full SDK bots that run beside lean ones (--full-bots). */
  full?: boolean;
}

export type ToWorker =
  | { t: 'spawn'; first: number; count: number; perSec: number }
  | { t: 'leave'; count: number }
  /** Storm: every playing bot marks its socket as dropped on purpose; with kill, the bot kills it too (else the proxy cuts it). */
  | { t: 'drop'; kill: boolean }
  | { t: 'audit' }
  | { t: 'stop' };

export interface WorkerReport {
  t: 'report';
  worker: number;
  probe: boolean;
  /** Cumulative since the worker started. */
  counters: Counters;
  errorCodes: Record<string, number>;
  /** Bots with a live session now. */
  connected: number;
  /** Bots not closed for good. */
  live: number;
  /** Histograms of the period, encoded (empty string: no values). */
  rtt: string;
  connect: string;
  back: string;
  /** The worker's event-loop delay p99 over the period, ms (how loaded the bots are). */
  loopDelayP99Ms: number;
  kind: BotKind;
  full: boolean;
  /** CPU time this worker thread has used since it started, us (cumulative). */
  cpuUs: number;
  /** 'native': the kernel's per-thread clock (native addon); 'estimate': event-loop busy time. */
  cpuSource: 'native' | 'estimate';
  /** The same CPU split into user and kernel time, us (from /proc, 10 ms resolution; -1 when unreadable). */
  userUs: number;
  systemUs: number;
}

export type FromWorker =
  | { t: 'ready'; worker: number }
  | WorkerReport
  | { t: 'spawned'; worker: number; count: number }
  | { t: 'dropped'; worker: number; count: number }
  | { t: 'audited'; worker: number }
  | { t: 'stopped'; worker: number };
