// The gateway's side of the zones: spawns one worker per zone, talks to it
// only through the rings, and supervises it the way an OTP supervisor would.
//
//   crash (throw, process.exit, heap limit, or no heartbeat for
//   heartbeatTimeoutMs) ─▶ drain what it published ─▶ recover the rings it
//   held ─▶ restart from the last checkpoint (within RestartIntensity) ─▶ the
//   gateway rejoins its players, who stay connected and get a snapshot
//   too many restarts ─▶ the zone is marked down: /readyz says so, its players
//   are told and saved, and it is not restarted again
//
// One doorbell for every zone's outbound ring wakes the gateway
// (MainThreadWaker: Atomics.waitAsync, see ring/doorbell.ts for the measured
// alternatives).

import { Worker } from 'node:worker_threads';
import { SpscRing, MpscRing, Doorbell, MainThreadWaker, copyBytes, type RecordHandler } from '../ring/index.js';
import type { Logger } from '../log/logger.js';
import type { ThreadRegistry } from '../../native-bindings/threads.js';
import { maxCheckpointBytes, type ZoneDef } from '../world/index.js';
import { RestartIntensity } from './intensity.js';
import { createZoneMemory, statsView, StallTracker, ZoneStat, type ZoneMemoryHandles, type ZoneMemorySizes } from './shared.js';
import type { ZoneWorkerData } from './runtime.js';
import type { WorkerInit } from './worker.js';
import { FromZone, ToZone, FaultRecord, type FaultModeValue } from './records.js';

const WORKER = new URL('./worker.js', import.meta.url);
/** A worker spawned this long ago without a tick yet is still starting, not hung. */
const STARTUP_GRACE_MS = 2000;

export const ZoneState = { starting: 0, up: 1, restarting: 2, down: 3, stopped: 4 } as const;
export type ZoneStateValue = (typeof ZoneState)[keyof typeof ZoneState];
export const ZONE_STATE_NAMES = ['starting', 'up', 'restarting', 'down', 'stopped'] as const;

export interface ZoneSetOptions {
  defs: ZoneDef[];
  tickHz: number;
  checkpointIntervalMs: number;
  stateIntervalMs: number;
  maxRestarts: number;
  restartWindowMs: number;
  heartbeatTimeoutMs: number;
  /** Worker heap limit (resourceLimits.maxOldGenerationSizeMb). */
  heapLimitMb: number;
  inboundRingBytes: number;
  outboundRingBytes: number;
  mailboxBytes: number;
  faultInjection: boolean;
  logLevel: string;
  threads: ThreadRegistry | null;
  /** Each gateway thread's doorbell, by thread index (net.gatewayThreads >= 2): every zone gets a ring pair per thread. */
  ownerBells?: readonly SharedArrayBuffer[];
  /**
   * Cluster (src/cluster): builds the host of zone `index`; a zone another
   * node owns gets a stand-in that forwards over NATS instead of a worker.
   */
  makeHost?: (index: number, def: ZoneDef, memory: ZoneMemoryHandles, set: ZoneSet) => ZoneHost;
}

/** What the zone set tells the session layer. */
export interface ZoneEvents {
  /** A record from a zone's outbound ring. The payload is valid only during the call. */
  record(zone: number, type: number, session: number, data: Uint8Array, offset: number, length: number): void;
  /** Every ring has been drained for this wake-up: time to flush. */
  drained(): void;
  /** The zone was restarted from its checkpoint: rejoin its players (ToZone.join kind rejoin), then send ToZone.reconcile. */
  restarted(zone: number): void;
  /** The zone is down for good: its players must be told and saved. */
  down(zone: number): void;
}

export class ZoneHost {
  private st: ZoneStateValue = ZoneState.starting;
  /** False for a zone another node of the cluster runs (src/cluster/remote-zone.ts): no worker here. */
  readonly local: boolean = true;
  worker: Worker | null = null;
  inbound: SpscRing;
  outbound: SpscRing;
  readonly stats: Float64Array;
  readonly intensity: RestartIntensity;
  restarts = 0;
  /** Records the gateway could not write because the inbound ring was full. */
  inboundDropped = 0;
  /** Records written since the last commit (published at the end of the event-loop turn). */
  pendingCommit = false;
  private stopping = false;
  private startedAt = 0;
  /** When the last crash was noticed (0: none pending). */
  crashedAt = 0;
  private lastCrash: string | null = null;
  /** Why the worker last went down (kept after it recovered): the dashboard's zones table. */
  lastRestartReason: string | null = null;

  constructor(
    readonly index: number,
    readonly def: ZoneDef,
    readonly memory: ZoneMemoryHandles,
    private readonly set: ZoneSet,
  ) {
    this.inbound = new SpscRing(memory.inbound, 0, new Doorbell(memory.bell));
    this.outbound = new SpscRing(memory.outbound, 0);
    this.stats = statsView(memory);
    this.intensity = new RestartIntensity(set.opts.maxRestarts, set.opts.restartWindowMs);
  }

  get name(): string {
    return `zone-${this.index}`;
  }

  /** The zone's state; each change is published to the gateway threads (ZoneSet.states). */
  get state(): ZoneStateValue {
    return this.st;
  }

  set state(v: ZoneStateValue) {
    this.st = v;
    Atomics.store(this.set.states, this.index, v);
  }

  /** Why the zone is not up, for /readyz; true when it is. */
  readiness(): string | true {
    if (this.state === ZoneState.up) return true;
    return `${ZONE_STATE_NAMES[this.state]}${this.lastCrash ? ` (${this.lastCrash})` : ''}`;
  }

  spawn(restore: boolean): void {
    const o = this.set.opts;
    const data: WorkerInit = {
      index: this.index,
      def: this.def,
      tickHz: o.tickHz,
      memory: this.memory,
      mailboxes: this.set.hosts.map((h) => h.memory.mailbox),
      restore,
      checkpointIntervalMs: o.checkpointIntervalMs,
      stateIntervalMs: o.stateIntervalMs,
      faultInjection: o.faultInjection,
      logLevel: o.logLevel,
      threads: o.threads?.shared ?? null,
    } satisfies ZoneWorkerData & WorkerInit;
    this.stats[ZoneStat.heartbeatMs] = 0;
    this.startedAt = Date.now();
    const w = new Worker(WORKER, { workerData: data, resourceLimits: { maxOldGenerationSizeMb: o.heapLimitMb }, name: this.name });
    this.worker = w;
    w.on('error', (err) => {
      this.lastCrash = err.message;
      this.set.log.error({ zone: this.def.id, err }, 'zone worker failed');
    });
    w.on('exit', (code) => {
      if (this.worker === w) this.worker = null;
      this.set.opts.threads?.release(this.name);
      if (this.stopping) return;
      this.lastCrash ??= `exit code ${code}`;
      this.lastRestartReason = this.lastCrash;
      this.set.crashed(this, code);
    });
  }

  /** The first tick after a (re)start, or a reconcile answer, makes the zone up. */
  markUp(): void {
    if (this.state === ZoneState.down || this.state === ZoneState.stopped) return;
    if (this.state !== ZoneState.up) {
      const now = Date.now();
      this.set.log.info(
        { zone: this.def.id, ms: now - this.startedAt, restarts: this.restarts, recoveryMs: this.crashedAt ? now - this.crashedAt : undefined },
        this.crashedAt ? 'zone recovered' : 'zone up',
      );
      this.crashedAt = 0;
    }
    this.state = ZoneState.up;
    this.lastCrash = null;
  }

  /** Writes a record to the zone; false when its ring is full (counted). */
  send(type: number, session: number, src: Uint8Array | null, offset = 0, length = src ? src.length - offset : 0): boolean {
    if (this.state === ZoneState.down || this.state === ZoneState.stopped) return false;
    const r = this.inbound;
    const off = r.reserve(type, session, length);
    if (off < 0) {
      this.inboundDropped++;
      return false;
    }
    if (src) copyBytes(src, offset, r.data, off, length);
    this.set.commitLater(this);
    return true;
  }

  /** Reserves a record the caller fills in r.data at the returned offset, then commit(). -1 when full. */
  reserve(type: number, session: number, length: number): number {
    if (this.state === ZoneState.down || this.state === ZoneState.stopped) return -1;
    const off = this.inbound.reserve(type, session, length);
    if (off < 0) this.inboundDropped++;
    return off;
  }

  /** Publishes what was reserved, at the end of this event-loop turn with everything else written in it. */
  commit(): void {
    this.set.commitLater(this);
  }

  /** Terminates the worker on purpose (shutdown). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.state = ZoneState.stopped;
    const w = this.worker;
    if (w) await w.terminate();
  }

  /**
   * Kills a worker that stopped ticking; its exit then goes through the crash
   * path. The last sign of life is its last tick, or its spawn plus a start-up
   * grace (loading modules and restoring a checkpoint take a few hundred ms),
   * so a worker that hangs before its first tick is caught too.
   */
  checkHeartbeat(nowMs: number): void {
    if (!this.worker || this.state === ZoneState.down || this.state === ZoneState.stopped) return;
    const timeout = this.set.opts.heartbeatTimeoutMs;
    const last = Math.max(this.stats[ZoneStat.heartbeatMs]!, this.startedAt + STARTUP_GRACE_MS);
    if (nowMs - last > timeout) {
      this.lastCrash = `no tick for ${Math.round(nowMs - last)} ms`;
      this.set.log.error({ zone: this.def.id, silentMs: nowMs - last }, 'zone stopped ticking; terminating it');
      const w = this.worker;
      this.worker = null;
      void w.terminate();
    }
  }

  /** Operator restart: ends the worker; its exit takes the crash path (restart from the last checkpoint, players rejoin). */
  terminate(reason: string): boolean {
    const w = this.worker;
    if (!w || this.state !== ZoneState.up) return false;
    this.lastCrash = reason;
    void w.terminate();
    return true;
  }

  /** After the worker died: a fresh view of both rings for the next worker. */
  resetRings(): void {
    this.inbound.reset();
    this.outbound.reset();
    this.inbound = new SpscRing(this.memory.inbound, 0, new Doorbell(this.memory.bell));
    this.outbound = new SpscRing(this.memory.outbound, 0);
  }
}

export class ZoneSet {
  readonly hosts: ZoneHost[] = [];
  /** Every zone's ZoneState by index, for the gateway threads (written here, read there, may be read late). */
  readonly states: Int32Array;
  readonly gatewayBell: Doorbell;
  private readonly waker: MainThreadWaker;
  private readonly byId = new Map<number, number>();
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private events: ZoneEvents | null = null;
  private drainZone = 0;
  private readonly toCommit: ZoneHost[] = [];
  /** Exceptions thrown while handling zone output (each cost one record). */
  drainErrors = 0;
  private lastDrainErrorLog = 0;
  private commitScheduled = false;
  /**
   * One commit per zone per event-loop turn rather than per record: the
   * inputs uWS hands over in one poll phase are published together, and a
   * sleeping zone is woken (a futex syscall, 6% of the gateway's time at 500
   * players when done per input) once for all of them.
   */
  private readonly commitAll = (): void => this.commitPending();
  /** The gateway's recent event-loop stalls (see noteGatewayLateness). */
  private readonly stalls = new StallTracker();
  private readonly onRecord: RecordHandler = (type, session, data, offset, length) => {
    const zone = this.drainZone;
    if (type === FromZone.reconciled) this.hosts[zone]!.markUp();
    this.events!.record(zone, type, session, data, offset, length);
  };

  constructor(
    readonly opts: ZoneSetOptions,
    readonly log: Logger,
  ) {
    this.gatewayBell = Doorbell.create();
    this.states = new Int32Array(new SharedArrayBuffer(4 * Math.max(1, opts.defs.length)));
    const owners = opts.ownerBells ?? [];
    const sizes: ZoneMemorySizes = {
      inboundBytes: opts.inboundRingBytes,
      outboundBytes: opts.outboundRingBytes,
      // With gateway threads each carries its share of the players: the zone's output is split over their rings.
      ownerInboundBytes: opts.inboundRingBytes,
      ownerOutboundBytes: owners.length > 0 ? ringShare(opts.outboundRingBytes, owners.length) : opts.outboundRingBytes,
      mailboxBytes: opts.mailboxBytes,
      mailboxProducers: Math.max(1, opts.defs.length),
      checkpointBytes: 0,
    };
    opts.defs.forEach((def, i) => {
      const mem = createZoneMemory({ ...sizes, checkpointBytes: maxCheckpointBytes(def) }, this.gatewayBell, owners);
      this.hosts.push(opts.makeHost ? opts.makeHost(i, def, mem, this) : new ZoneHost(i, def, mem, this));
      this.byId.set(def.id, i);
    });
    // A throw while handling zone output (a session-layer bug on one record) must not take the process down:
    // the ring has consumed that record, the error is counted and logged, and draining goes on.
    this.waker = new MainThreadWaker(this.gatewayBell, () => this.drainAll(), {
      onError: (err) => {
        this.drainErrors++;
        const now = Date.now();
        if (now - this.lastDrainErrorLog < 1000) return;
        this.lastDrainErrorLog = now;
        this.log.error({ err, drainErrors: this.drainErrors }, 'handling zone output threw; that record is dropped, the rest is delivered');
      },
    });
  }

  get count(): number {
    return this.hosts.length;
  }

  /** Zone index of a zone id, or -1. */
  indexOf(zoneId: number): number {
    return this.byId.get(zoneId) ?? -1;
  }

  isUp(index: number): boolean {
    return this.hosts[index]?.state === ZoneState.up;
  }

  /** Starts every worker and resolves when all have ticked once. */
  async start(events: ZoneEvents, timeoutMs = 15_000): Promise<void> {
    this.events = events;
    this.waker.start();
    for (const h of this.hosts) h.spawn(false);
    this.heartbeat = setInterval(() => this.checkHeartbeats(), 250);
    this.heartbeat.unref();
    const deadline = Date.now() + timeoutMs;
    while (this.hosts.some((h) => h.local && h.state !== ZoneState.up)) {
      if (Date.now() > deadline) {
        const late = this.hosts.filter((h) => h.local && h.state !== ZoneState.up).map((h) => h.def.id);
        throw Object.assign(new Error(`zones ${late.join(', ')} did not start within ${timeoutMs} ms`), { code: 'MMO_ERR_ZONE_START' });
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /**
   * The gateway's event loop ran a timer `lateMs` late at `now` (fed by the
   * metrics' event-loop sampler). Timers run before the poll phase, so a
   * stall is published to the zones before the inputs it bunched are read
   * and forwarded; the zones then excuse those inputs' speed
   * (world.movement.stallGraceMs).
   */
  noteGatewayLateness(lateMs: number, now: number): void {
    this.stalls.note(lateMs, now);
    const v = this.stalls.current(now);
    for (let i = 0; i < this.hosts.length; i++) this.hosts[i]!.stats[ZoneStat.gatewayStallMs] = v;
  }

  /** Publishes every zone's records written since the last commit (normally run once per turn). */
  commitPending(): void {
    this.commitScheduled = false;
    const q = this.toCommit;
    for (let i = 0; i < q.length; i++) {
      q[i]!.pendingCommit = false;
      q[i]!.inbound.commit();
    }
    q.length = 0;
  }

  /** Schedules host's inbound ring to be committed at the end of this turn. */
  commitLater(h: ZoneHost): void {
    if (h.pendingCommit) return;
    h.pendingCommit = true;
    this.toCommit.push(h);
    if (!this.commitScheduled) {
      this.commitScheduled = true;
      setImmediate(this.commitAll);
    }
  }

  /** Drains every zone's outbound ring, then lets the session layer flush. */
  drainAll(): void {
    if (!this.events) return;
    for (let i = 0; i < this.hosts.length; i++) this.drainOne(i);
    this.events.drained();
  }

  private drainOne(i: number): void {
    this.drainZone = i;
    this.hosts[i]!.outbound.drain(this.onRecord);
  }

  private checkHeartbeats(): void {
    const now = Date.now();
    for (const h of this.hosts) {
      if (h.state === ZoneState.starting && h.stats[ZoneStat.heartbeatMs]! > 0) h.markUp();
      h.checkHeartbeat(now);
    }
  }

  /** Supervisor: a worker exited without being asked to. */
  crashed(h: ZoneHost, code: number): void {
    h.restarts++;
    h.crashedAt = Date.now();
    this.log.error({ zone: h.def.id, code, restarts: h.restarts }, 'zone worker exited; recovering');
    // What it published before dying is valid: deliver it.
    this.drainOne(h.index);
    this.events?.drained();
    // Its rings: the mailbox it consumed, and its producer slot in every other zone's mailbox.
    new MpscRing(h.memory.mailbox, 0).recoverConsumer();
    const recoveries = this.hosts
      .filter((o) => o !== h)
      .map((o) => new MpscRing(o.memory.mailbox, 0).recoverProducerAsync(h.index, 1000).catch((err: unknown) => this.log.error({ zone: h.def.id, err }, 'mailbox recovery failed')));
    h.resetRings();
    if (!h.intensity.allow(Date.now())) {
      h.state = ZoneState.down;
      this.log.error(
        { zone: h.def.id, restarts: h.restarts, maxRestarts: this.opts.maxRestarts, windowMs: this.opts.restartWindowMs },
        'zone restarted too often; marking it down instead of restarting again',
      );
      this.events?.down(h.index);
      return;
    }
    h.state = ZoneState.restarting;
    void Promise.all(recoveries).then(() => {
      if (h.state !== ZoneState.restarting) return;
      h.spawn(true);
      this.events?.restarted(h.index);
    });
  }

  /** Test and operator hook (debug.faultInjection): make a zone fail the given way. */
  injectFault(index: number, mode: FaultModeValue): boolean {
    const h = this.hosts[index];
    if (!h || !this.opts.faultInjection) return false;
    const b = new Uint8Array(FaultRecord.size);
    FaultRecord.write(b, 0, mode);
    return h.send(ToZone.fault, 0, b);
  }

  /** Operator restart (dashboard): as a crash, counted against the restart intensity. False when the zone is not up. */
  restart(index: number, reason: string): boolean {
    return this.hosts[index]?.terminate(reason) ?? false;
  }

  async stop(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.waker.stop();
    await Promise.all(this.hosts.map((h) => h.stop()));
  }
}

/** A gateway thread's outbound ring: its share of zones.outboundRingBytes, a power of two, at least 1 MiB (and no more than the whole). */
export function ringShare(bytes: number, threads: number): number {
  let b = 1 << 20;
  while (b * 2 <= bytes / threads) b *= 2;
  return Math.min(bytes, b);
}
