// The gateway on several threads (net.gatewayThreads >= 2). Each gateway
// thread (gateway-thread.ts) runs its own uWS app on the same port, serves
// its sockets, and owns the sessions on them (a SessionCore): their inputs go
// from it straight to the zones, the zones' output straight back to it. The
// main thread keeps what must be one for the process: the session service
// (logins, resumes, zombie timers, persistence, portals' targets, whispers),
// admission budgets and HTTP routes. This class is the main thread's side:
// it spawns and supervises the threads, turns their ToCore records into the
// service's calls (connections as RemoteSockets, session records through
// session/link-records.ts), and answers their forwarded HTTP requests.
//
// Ownership contract (why a resume may land on any thread):
// - A connection belongs to the gateway thread that accepted it (its id's low
//   bits, gateway-records.ts connId); only that thread touches the uWS socket.
// - A session belongs to one owner at a time, the thread its socket is on; the
//   service knows which (Session.owner). A resume or login that lands on
//   another thread moves the session there first: the old owner tells the
//   zone (rebind), the zone's `moved` is its last record on the old ring, the
//   old owner exports the session (numbers, replay frames, held inputs), the
//   service passes it on, the new owner adopts it, then resumes it. See
//   session/core.ts and docs/design-gateway-sessions.md.
// - Per-thread rings are SPSC: each thread produces its ToCore ring and
//   consumes its ToSockets ring; the main thread is the other end of both.
//   All ToCore rings ring one doorbell, watched by one MainThreadWaker.
//
// Supervision: a thread that throws hands its sessions to the main thread's
// owner (exported before its sockets close), closes its sockets and exits (it
// must never be terminate()d: see gateway-thread.ts). What it had published is
// drained, each of its connections still open is closed as lost (sessions
// become zombies, clients resume on another thread), the sessions it could
// not hand over are parked without their frames, the zones are told to write
// to the main thread for all of them, and the main thread reads the dead
// thread's rings until every zone has answered. Then the thread is restarted
// within zones.maxRestarts / zones.restartWindowMs; past that it stays down
// and /readyz says so while the other threads serve.

import { Worker } from 'node:worker_threads';
import { createServer } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from '../log/logger.js';
import type { ThreadsShared } from '../../native-bindings/threads.js';
import { Doorbell, MainThreadWaker, SpscRing, SpillingProducer, type RecordSink } from '../ring/index.js';
import { CloseCode } from '../protocol/close-codes.js';
import { RestartIntensity } from '../zone/intensity.js';
import { HotCounter, MetricArena, PullCounter, PullGauge } from '../metrics/hot.js';
import { CloseReason, type CloseReasonIndex, type NetStats } from './stats.js';
import type { Route } from './http.js';
import { endSocket, type GatewayLike, type Socket, type SocketData } from './gateway.js';
import type { NetConfig } from '../config/schema.js';
import { RemoteSocket, type SocketThreadPort } from './remote-socket.js';
import { RouteTable, serveProxied, type ProxiedHttpResponse } from './proxied-http.js';
import type { CoreToThread, ThreadToCore } from './gateway-messages.js';
import type { GatewayThreadData } from './gateway-thread.js';
import { MAX_GATEWAY_THREADS, ToCore, readCloseCode, readCloseReason, readLatin1, threadOfConn, writeFault } from './gateway-records.js';
import type { SharedAdmission } from '../session/shared-admission.js';
import type { AdmissionConfig } from '../session/admission.js';
import { deliverToService, type RemoteCore } from '../session/link-records.js';
import { addSessionMetricsSource, POOL_FIGURES, type SessionMetrics } from '../session/metrics.js';
import type { CoreConfig } from '../session/core.js';
import type { ControlPort } from '../session/ports.js';
import type { ZoneSet } from '../zone/host.js';
import type { VerifyLimits } from '../protocol/verify.js';
import type { PoolOptions } from '../pool/index.js';

const WORKER = new URL('./gateway-thread.js', import.meta.url);

export const GatewayThreadState = { starting: 0, up: 1, restarting: 2, down: 3, stopped: 4 } as const;
export const GATEWAY_THREAD_STATE_NAMES = ['starting', 'up', 'restarting', 'down', 'stopped'] as const;
type GatewayThreadStateValue = (typeof GatewayThreadState)[keyof typeof GatewayThreadState];

/** What the threads' main side needs of the session service beyond its ControlPort. */
export interface ThreadSessions extends ControlPort {
  /** Gateway thread `owner` died: park the sessions it did not hand over; the zones are told to write to the main thread. */
  ownerDied(owner: number): number;
  /** A record read from a dead thread's ring from a zone. */
  deadRecord(zone: number, type: number, session: number, data: Uint8Array, offset: number, length: number): void;
  /** Sessions the main thread's owner took over whose zone has not answered yet. */
  awaitingMoved(): number;
  /** Stop waiting for those answers (the thread restarts and reads its rings again). */
  stopAwaiting(): void;
  /** The records read from dead threads' rings this round are in: flush. */
  deadDrained(): void;
}

/** Slots of each thread's metric arena (NetStats, the session metrics, the replay pool's figures). */
const METRIC_SLOTS = 1024;
/** How long the main thread reads a dead thread's rings waiting for every zone's `moved` before restarting it. */
const DEAD_DRAIN_MAX_MS = 2000;

export interface ThreadedGatewayOptions {
  net: NetConfig;
  threads: number;
  /** Bytes of each ring, each direction, per thread (a power of two). */
  ringBytes: number;
  maxRestarts: number;
  restartWindowMs: number;
  /** Largest HTTP body a thread forwards (bigger: 413 on the thread). */
  maxHttpBodyBytes: number;
  threadsShared: ThreadsShared | null;
  log: Logger;
  stats: NetStats;
  registry: Registry;
  routes: readonly Route[];
  /** The session service: connections' events and the owners' records go to it. */
  sessions: ThreadSessions;
  /** The handshake budgets every thread admits against; null admits every upgrade. */
  admission: SharedAdmission | null;
  admissionConfig: AdmissionConfig;
  /** The service's handle on each thread's owner, by thread index. */
  cores: readonly RemoteCore[];
  /** Each thread's doorbell, by index (the zones ring them too: ZoneSetOptions.ownerBells). */
  bells: readonly Doorbell[];
  zones: ZoneSet;
  session: CoreConfig;
  verify: VerifyLimits;
  pool: PoolOptions;
  tickHz: number;
  logLevel: string;
  /** The main thread's session metrics, to which each thread's are added. */
  sessionMetrics: SessionMetrics;
  /** Where each thread's replay pool figures go (the session gauges add them). */
  threadPools: Float64Array[];
  /** How often each thread samples its event loop's lateness (metrics.eventLoopSampleMs). */
  loopSampleMs: number;
}

/** One gateway thread as the main thread sees it. */
class GatewayThreadHost implements SocketThreadPort {
  state: GatewayThreadStateValue = GatewayThreadState.starting;
  worker: Worker | null = null;
  toCore!: SpscRing;
  toSockets!: SpscRing;
  /** The main thread's producer on toSockets: never refuses, keeps order (records wait in a queue when it is full). */
  private out: SpillingProducer | null = null;
  ringFull = 0;
  restarts = 0;
  /** This thread's metric slots: outlive its incarnations (the main thread's metrics read them). */
  readonly metrics = new SharedArrayBuffer(MetricArena.bytesFor(METRIC_SLOTS));
  lastCrash: string | null = null;
  /** Connections open on this thread (the main thread's count). */
  open = 0;
  readonly intensity: RestartIntensity;
  readonly http = new Map<number, ProxiedHttpResponse>();
  pendingCommit = false;
  /** While the thread is dead: the main thread's readers of the zones' rings to it. */
  deadRings: SpscRing[] | null = null;
  deadSince = 0;
  onListening: ((ok: boolean, port: number) => void) | null = null;
  exited: Promise<void> = Promise.resolve();

  constructor(
    readonly index: number,
    private readonly gw: ThreadedGateway,
  ) {
    this.intensity = new RestartIntensity(gw.opts.maxRestarts, gw.opts.restartWindowMs);
  }

  get name(): string {
    return `net-${this.index}`;
  }

  /** This thread's doorbell: rung by the main thread and the zones; it outlives the thread's incarnations. */
  get bell(): Doorbell {
    return this.gw.opts.bells[this.index]!;
  }

  /** Times this thread was woken (an Atomics.notify each: the main thread's and the zones'), over every incarnation. */
  wakeups(): number {
    return this.bell.notifies();
  }

  get sink(): RecordSink {
    return this.out!;
  }

  commitSoon(): void {
    this.gw.commitLater(this);
  }

  /** Publishes what was written this turn, and what waited for room before. */
  commit(): void {
    this.pendingCommit = false;
    const o = this.out;
    if (!o) return;
    o.commit();
    if (o.waiting > 0) this.gw.commitLater(this);
  }

  post(m: CoreToThread): void {
    this.worker?.postMessage(m);
  }

  spawn(port: number): void {
    const o = this.gw.opts;
    const toCore = new SharedArrayBuffer(SpscRing.bytesFor(o.ringBytes));
    const toSockets = new SharedArrayBuffer(SpscRing.bytesFor(o.ringBytes));
    SpscRing.init(toCore, 0, o.ringBytes);
    SpscRing.init(toSockets, 0, o.ringBytes);
    this.toCore = new SpscRing(toCore, 0);
    this.toSockets = new SpscRing(toSockets, 0, this.bell);
    this.out = new SpillingProducer(this.toSockets);
    const core = o.cores[this.index]!;
    core.attach({ sink: this.out, commitSoon: () => this.commitSoon(), commitNow: () => this.commit() });
    const zones = o.zones;
    const data: GatewayThreadData = {
      index: this.index,
      net: o.net,
      port,
      toCore,
      toSockets,
      coreBell: this.gw.coreBell.buffer,
      socketsBell: this.bell.buffer,
      threads: o.threadsShared,
      maxHttpBodyBytes: o.maxHttpBodyBytes,
      admission: o.admission?.init ?? null,
      admissionConfig: o.admissionConfig,
      zones: zones.hosts.map((h) => ({ rings: h.memory.owners[this.index]!, bell: h.memory.bell, stats: h.memory.stats, local: h.local })),
      loopSampleMs: o.loopSampleMs,
      zoneNames: zones.hosts.map((h) => ({ id: h.def.id, name: h.def.name })),
      zoneStates: zones.states.buffer as SharedArrayBuffer,
      session: o.session,
      verify: o.verify,
      pool: o.pool,
      tickHz: o.tickHz,
      metrics: this.metrics,
      logLevel: o.logLevel,
    };
    const w = new Worker(WORKER, { workerData: data, name: this.name });
    this.worker = w;
    this.exited = new Promise((resolve) => w.once('exit', () => resolve()));
    w.on('message', (m: ThreadToCore) => this.gw.onThreadMessage(this, m));
    w.on('error', (err) => {
      // Thrown before the thread's own handler was installed (a module that did not load).
      this.lastCrash = err.message;
      o.log.error({ thread: this.name, err }, 'gateway thread failed');
    });
    w.on('exit', (code) => {
      if (this.worker === w) this.worker = null;
      core.alive = false;
      this.gw.exited(this, code);
    });
  }
}

export class ThreadedGateway implements GatewayLike {
  readonly hosts: GatewayThreadHost[] = [];
  readonly coreBell = Doorbell.create();
  private readonly waker: MainThreadWaker;
  private readonly sockets = new Map<number, RemoteSocket>();
  private readonly table: RouteTable;
  private readonly toCommit: GatewayThreadHost[] = [];
  private commitScheduled = false;
  private readonly commitAll = (): void => {
    this.commitScheduled = false;
    const q = this.toCommit;
    for (let i = 0; i < q.length; i++) q[i]!.commit();
    q.length = 0;
  };
  private accepting = true;
  private stopping = false;
  private port = -1;
  private listenOk = false;
  private drainHost: GatewayThreadHost | null = null;
  private lastErrorLog = 0;
  private readonly m: { restarts: HotCounter; drainErrors: HotCounter };
  private readonly onRecord = (type: number, conn: number, data: Uint8Array, offset: number, length: number): void => {
    const h = this.drainHost!;
    switch (type) {
      case ToCore.message:
      case ToCore.text: {
        // Only messages of connections with no session come here (Hello, Resume): the threads' owners handle the rest.
        const ws = this.sockets.get(conn);
        if (ws === undefined || ws.ending) return;
        try {
          this.opts.sessions.message(ws, data, offset, length, type === ToCore.message);
        } catch (err) {
          this.handlerThrew(ws, err);
        }
        return;
      }
      case ToCore.open:
        return this.onOpen(h, conn, readLatin1(data, offset, length));
      case ToCore.close:
        return this.onClose(conn, readCloseCode(data, offset), readCloseReason(data, offset) as CloseReasonIndex);
      default:
        deliverToService(this.opts.sessions, type, conn, data, offset, length);
    }
  };
  private deadTimer: ReturnType<typeof setInterval> | null = null;

  constructor(readonly opts: ThreadedGatewayOptions) {
    if (opts.threads < 1 || opts.threads > MAX_GATEWAY_THREADS) throw new RangeError(`gateway threads must be 1..${MAX_GATEWAY_THREADS}`);
    this.table = new RouteTable(opts.routes, [opts.net.wsPath]);
    for (let i = 0; i < opts.threads; i++) {
      const h = new GatewayThreadHost(i, this);
      this.hosts.push(h);
      // The thread counts into its arena in this order (gateway-thread.ts): NetStats, the session metrics, the pool figures.
      const a = new MetricArena(h.metrics);
      opts.stats.addSource(a);
      addSessionMetricsSource(opts.sessionMetrics, a);
      opts.threadPools.push(a.take(POOL_FIGURES));
      opts.cores[i]!.onDeadBarrier = (zone) => opts.sessions.rejoined(zone);
    }
    this.waker = new MainThreadWaker(this.coreBell, () => this.drainAll(), {
      onError: (err) => {
        // drainAll catches per record; this is a bug in the loop itself. Counted, logged, and the loop goes on.
        this.m.drainErrors.inc();
        this.logError(err, 'gateway thread output handling threw');
      },
    });
    const reg = opts.registry;
    this.m = {
      restarts: new HotCounter(reg, 'mmo_gateway_thread_restarts_total', 'Gateway threads restarted after they died.'),
      drainErrors: new HotCounter(reg, 'mmo_gateway_drain_errors_total', 'Exceptions while handling gateway thread records, outside any one socket.'),
    };
    // Counted where it happens (RemoteSocket.send), per thread; each host outlives its thread's restarts.
    new PullCounter(reg, 'mmo_gateway_ring_full_total', 'Frames for a gateway thread that found its ring full (the socket was closed; the client resumes).', () =>
      this.hosts.reduce((n, h) => n + h.ringFull, 0),
    );
    new PullCounter(
      reg,
      'mmo_gateway_thread_wakeups_total',
      'Times an idle gateway thread was woken by the main thread or a zone with records for it (one Atomics.notify each; fewer as load batches them).',
      () => this.hosts.reduce((n, h) => n + h.wakeups(), 0),
    );
    new PullCounter(reg, 'mmo_gateway_core_wakeups_total', 'Times gateway threads woke the idle main thread with socket input.', () => this.coreBell.notifies());
    new PullGauge(reg, 'mmo_gateway_threads', 'Gateway threads by state.', () =>
      GATEWAY_THREAD_STATE_NAMES.map((state, i) => ({ labels: { state }, value: this.hosts.filter((h) => h.state === i).length })),
    );
    new PullGauge(reg, 'mmo_gateway_thread_connections', 'WebSocket connections open on each gateway thread.', () => this.hosts.map((h) => ({ labels: { thread: h.name }, value: h.open })));
    new PullGauge(reg, 'mmo_gateway_ring_used_bytes', 'Bytes waiting in each gateway thread ring.', () =>
      this.hosts.flatMap((h) =>
        h.toCore
          ? [
              { labels: { thread: h.name, direction: 'to_core' }, value: h.toCore.usedBytes() },
              { labels: { thread: h.name, direction: 'to_sockets' }, value: h.toSockets.usedBytes() },
            ]
          : [],
      ),
    );
  }

  get listening(): boolean {
    return this.listenOk && this.accepting && this.hosts.some((h) => h.state === GatewayThreadState.up);
  }

  get boundPort(): number {
    return this.port;
  }

  get connections(): number {
    return this.sockets.size;
  }

  /** Why the listener is not ready, for /readyz: true when every thread is up. */
  readiness(): string | true {
    if (!this.listenOk || !this.accepting) return 'not listening';
    const bad = this.hosts.filter((h) => h.state !== GatewayThreadState.up);
    if (bad.length === 0) return true;
    return bad.map((h) => `${h.name} ${GATEWAY_THREAD_STATE_NAMES[h.state]}${h.lastCrash ? ` (${h.lastCrash})` : ''}`).join(', ');
  }

  async listen(): Promise<number> {
    const { host } = this.opts.net;
    // Threads share a port through SO_REUSEPORT, which an ephemeral port cannot do (the second bind fails): pick one first.
    const port = this.opts.net.port === 0 ? await freePort(host) : this.opts.net.port;
    this.waker.start();
    const first = await this.start(this.hosts[0]!, port);
    if (!first) {
      await this.close();
      throw Object.assign(new Error(`cannot listen on ${host}:${port} (in use or not permitted)`), { code: 'MMO_ERR_LISTEN' });
    }
    const rest = await Promise.all(this.hosts.slice(1).map((h) => this.start(h, port)));
    if (rest.some((ok) => !ok)) {
      await this.close();
      throw Object.assign(new Error(`cannot listen on ${host}:${port} from every gateway thread`), { code: 'MMO_ERR_LISTEN' });
    }
    this.port = port;
    this.listenOk = true;
    return port;
  }

  private start(h: GatewayThreadHost, port: number): Promise<boolean> {
    return new Promise((resolve) => {
      h.onListening = (ok) => {
        h.onListening = null;
        if (ok) {
          h.state = GatewayThreadState.up;
          this.opts.cores[h.index]!.alive = true;
        }
        resolve(ok);
      };
      h.spawn(port);
    });
  }

  stopListening(): void {
    this.accepting = false;
    for (const h of this.hosts) h.post({ t: 'stopListening' });
  }

  closeSocket(ws: Socket, reason: CloseReasonIndex, code: number, text: string): void {
    endSocket(ws, reason, code, text);
  }

  closeAll(reason: CloseReasonIndex, code: number, text: string): void {
    for (const ws of [...this.sockets.values()]) this.closeSocket(ws, reason, code, text);
  }

  /** Ends every thread cleanly (each closes what it still holds); resolves when all have exited. */
  async close(waitMs = 3000): Promise<void> {
    this.stopping = true;
    this.accepting = false;
    this.commitAll();
    for (const h of this.hosts) h.post({ t: 'exit' });
    await Promise.race([Promise.all(this.hosts.map((h) => h.exited)), new Promise((r) => setTimeout(r, waitMs).unref())]);
    this.drainAll();
    this.waker.stop();
  }

  /** Test and operator hook (debug.faultInjection): make gateway thread `index` throw mid-flush, or stall `arg` ms. */
  injectFault(index: number, mode: number, arg = 0): boolean {
    const h = this.hosts[index];
    if (!h || h.state !== GatewayThreadState.up) return false;
    if (!writeFault(h.sink, mode, arg)) return false;
    h.commit();
    return true;
  }

  commitLater(h: GatewayThreadHost): void {
    if (h.pendingCommit) return;
    h.pendingCommit = true;
    this.toCommit.push(h);
    if (!this.commitScheduled) {
      this.commitScheduled = true;
      // After the synchronous batch of sends (a flush, a drain) that wrote them.
      queueMicrotask(this.commitAll);
    }
  }

  private drainAll(): void {
    for (let i = 0; i < this.hosts.length; i++) this.drainThread(this.hosts[i]!);
  }

  private drainThread(h: GatewayThreadHost): void {
    if (!h.toCore) return;
    this.drainHost = h;
    try {
      h.toCore.drain(this.onRecord);
    } catch (err) {
      // A record that threw outside a handler's own guard: consumed, counted, and the rest is drained next round.
      this.m.drainErrors.inc();
      this.logError(err, 'gateway thread record handling threw');
      this.coreBell.arm();
      setImmediate(() => this.drainAll());
    }
    this.drainHost = null;
  }

  private onOpen(h: GatewayThreadHost, conn: number, ip: string): void {
    const data: SocketData = { id: conn, ip, closeReason: -1, open: true, attachment: null, service: null };
    const ws = new RemoteSocket(data, h);
    this.sockets.set(conn, ws);
    h.open++;
    this.opts.stats.open = this.sockets.size;
    if (!this.accepting) {
      this.closeSocket(ws, CloseReason.shutdown, CloseCode.goingAway, 'server shutting down');
      return;
    }
    try {
      this.opts.sessions.open(ws);
    } catch (err) {
      this.handlerThrew(ws, err);
    }
  }

  private onClose(conn: number, code: number, reason: CloseReasonIndex): void {
    const ws = this.sockets.get(conn);
    if (!ws) return;
    this.sockets.delete(conn);
    const h = this.hosts[threadOfConn(conn)];
    if (h) h.open--;
    ws.data.open = false;
    const st = this.opts.stats;
    st.open = this.sockets.size;
    try {
      this.opts.sessions.close(ws, code, reason);
    } catch (err) {
      st.handlerErrors.inc();
      this.logError(err, 'socket handler threw on close');
    }
  }

  onThreadMessage(h: GatewayThreadHost, m: ThreadToCore): void {
    switch (m.t) {
      case 'http': {
        const res = serveProxied(
          this.table,
          m,
          (out) => {
            if (out.t === 'httpRes' && out.done) h.http.delete(m.id);
            h.post(out);
          },
          (err) => this.logError(err, 'HTTP handler threw'),
        );
        if (!res.done) h.http.set(m.id, res);
        return;
      }
      case 'httpData': {
        const res = h.http.get(m.id);
        if (!res) return;
        try {
          res.pushData(m.chunk, m.last);
        } catch (err) {
          this.logError(err, 'HTTP body handler threw');
          if (!res.done) res.writeStatus('500 Internal Server Error').end(JSON.stringify({ error: 'internal error' }));
        }
        return;
      }
      case 'httpAbort': {
        const res = h.http.get(m.id);
        h.http.delete(m.id);
        res?.abort();
        return;
      }
      case 'listening':
        h.onListening?.(m.ok, m.port);
        return;
      case 'died':
        h.lastCrash = m.message;
        this.opts.log.error({ thread: h.name, err: { message: m.message, stack: m.stack } }, 'gateway thread threw; it closes its sockets and exits, its players resume on the other threads');
        return;
      case 'exited':
        if (m.ringFullDrops > 0) this.opts.log.warn({ thread: h.name, ringFullDrops: m.ringFullDrops }, 'gateway thread closed sockets for a full ring');
        return;
    }
  }

  /** Supervisor: the thread's worker ended. */
  exited(h: GatewayThreadHost, code: number): void {
    h.onListening?.(false, -1);
    // What it published before dying is valid: deliver it (the sessions it handed over, closes).
    this.drainThread(h);
    for (const res of h.http.values()) res.abort();
    h.http.clear();
    for (const ws of [...this.sockets.values()]) {
      if (ws.thread === h) this.onClose(ws.data.id, 1006, CloseReason.lost);
    }
    h.open = 0;
    if (this.stopping) {
      h.state = GatewayThreadState.stopped;
      return;
    }
    h.state = GatewayThreadState.restarting;
    // Its sessions are the main thread's now; read what the zones still write to it until each has answered.
    const parked = this.opts.sessions.ownerDied(h.index);
    h.deadRings = this.opts.zones.hosts.map((z) => new SpscRing(z.memory.owners[h.index]!.outbound, 0));
    h.deadSince = Date.now();
    this.opts.log.warn({ thread: h.name, parkedWithoutFrames: parked }, 'gateway thread gone; its sessions are parked on the main thread until they resume');
    this.drainDead(h);
    this.deadTimer ??= setInterval(() => this.drainAllDead(), 10);
    this.deadTimer.unref();
  }

  /** Reads the zones' rings to a dead thread (the main thread is their reader until it restarts). */
  private drainDead(h: GatewayThreadHost): void {
    const rings = h.deadRings;
    if (!rings) return;
    for (let z = 0; z < rings.length; z++) {
      this.deadZone = z;
      try {
        rings[z]!.drain(this.onDeadRecord);
      } catch (err) {
        this.m.drainErrors.inc();
        this.logError(err, 'handling a dead gateway thread\'s zone records threw');
      }
    }
    this.opts.sessions.deadDrained();
  }
  private deadZone = 0;
  private readonly onDeadRecord = (type: number, session: number, data: Uint8Array, offset: number, length: number): void =>
    this.opts.sessions.deadRecord(this.deadZone, type, session, data, offset, length);

  private drainAllDead(): void {
    let dead = 0;
    for (const h of this.hosts) {
      if (!h.deadRings) continue;
      this.drainDead(h);
      const waited = Date.now() - h.deadSince;
      if (this.opts.sessions.awaitingMoved() > 0 && waited < DEAD_DRAIN_MAX_MS && !this.stopping) {
        dead++;
        continue;
      }
      if (this.opts.sessions.awaitingMoved() > 0) this.opts.sessions.stopAwaiting();
      h.deadRings = null;
      this.restart(h);
    }
    if (dead === 0 && this.deadTimer && this.hosts.every((x) => !x.deadRings)) {
      clearInterval(this.deadTimer);
      this.deadTimer = null;
    }
  }

  private restart(h: GatewayThreadHost): void {
    if (this.stopping) {
      h.state = GatewayThreadState.stopped;
      return;
    }
    h.restarts++;
    if (!this.listenOk) {
      h.state = GatewayThreadState.down;
      return;
    }
    if (!h.intensity.allow(Date.now())) {
      h.state = GatewayThreadState.down;
      this.opts.log.error({ thread: h.name, restarts: h.restarts }, 'gateway thread died too often; leaving it down (the other threads serve)');
      return;
    }
    h.state = GatewayThreadState.restarting;
    this.m.restarts.inc();
    this.opts.log.warn({ thread: h.name, restarts: h.restarts }, 'gateway thread exited; restarting it');
    void this.start(h, this.port).then((ok) => {
      if (!ok && h.state !== GatewayThreadState.stopped) h.state = GatewayThreadState.down;
      else if (ok) this.opts.log.info({ thread: h.name }, 'gateway thread back');
    });
  }

  private handlerThrew(ws: Socket, err: unknown): void {
    this.opts.stats.handlerErrors.inc();
    this.logError(err, 'socket handler threw; socket closed', ws.getUserData().id);
    this.closeSocket(ws, CloseReason.malformed, CloseCode.malformed, 'internal error handling message');
  }

  private logError(err: unknown, msg: string, conn?: number): void {
    const now = Date.now();
    if (now - this.lastErrorLog < 1000) return;
    this.lastErrorLog = now;
    this.opts.log.error({ err, conn }, msg);
  }
}

/** A port on `host` no one listens on now (for net.port 0). Cold path. */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen({ host, port: 0, exclusive: true }, () => {
      const a = s.address();
      const p = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(p));
    });
  });
}

/** net.gatewayThreads 'auto': about a third of the CPUs, at least 1. */
export function autoGatewayThreads(cpus: number): number {
  return Math.max(1, Math.min(MAX_GATEWAY_THREADS, Math.round(cpus / 3)));
}
