// Worker entry of one gateway thread: a uWS app of its own on the shared port
// (SO_REUSEPORT: the kernel spreads new connections over the threads), and
// the owner (SessionCore) of the sessions whose sockets it serves:
//
//   socket ─▶ uWS ─▶ SessionCore ─▶ its own ring to each zone ─▶ zone worker
//   socket ◀─ uWS ◀─ SessionCore ◀─ each zone's ring to this thread ◀─ zone worker
//
//   main thread ──ToSockets ring──▶ here: the service's calls (session/link-records.ts),
//                                   and frames and closes for sockets with no session yet
//   here ──ToCore ring──▶ main thread: connections opened and closed, Hello and Resume
//                                   messages, and what the service handles (logins' joins
//                                   confirmed, saved states, portals, whispers)
//
// So a session's messages never cross the main thread: it decides who logs
// in or resumes, and where a portal leads. Upgrades are admitted here against
// the process's shared budgets; HTTP requests other than the WebSocket are
// forwarded whole to the main thread and answered from there (cold path,
// postMessage): every route works on every thread.
//
// Dying: an uncaught exception hands every session over to the main thread
// (exported over the ToCore ring: numbers, replay frames, held inputs),
// closes this thread's listen socket and every socket it holds, then the
// thread exits; its clients resume on another thread. Never terminate() a
// thread running uWS: Node aborts the whole process on the loop handles uWS
// still holds (measured on 20.30).

import { parentPort, workerData } from 'node:worker_threads';
import { setupThread, type ThreadsShared } from '../../native-bindings/threads.js';
import type { NetConfig } from '../config/schema.js';
import { Doorbell, MainThreadWaker, SpscRing, SpillingProducer, copyBytes } from '../ring/index.js';
import { CloseCode } from '../protocol/close-codes.js';
import type { VerifyLimits } from '../protocol/verify.js';
import { CloseReason, NetStats, classifyClose, type CloseReasonIndex } from './stats.js';
import { refuseUpgradeRetryLater, refuseUpgradeShuttingDown } from './http.js';
import { addressText, loadUws, type HttpResponse, type HttpRequest, type us_listen_socket, type WebSocket, type us_socket_context_t } from './uws.js';
import { SharedAdmission, type SharedAdmissionInit } from '../session/shared-admission.js';
import { Admission, type AdmissionConfig } from '../session/admission.js';
import { SessionCore, type CoreConfig } from '../session/core.js';
import { RemoteControl, deliverToOwner, type LinkSink } from '../session/link-records.js';
import { createSessionMetrics, writePoolFigures, POOL_FIGURES } from '../session/metrics.js';
import type { ZoneLinks, ZoneName } from '../session/ports.js';
import { StallTracker, ZoneStat, type OwnerRingHandles } from '../zone/shared.js';
import { BufferPool, type PoolOptions } from '../pool/index.js';
import { MetricArena } from '../metrics/hot.js';
import { createWorkerLogger } from '../log/logger.js';
import { endSocket, type SocketData } from './gateway.js';
import {
  GatewayFault,
  ToSockets,
  connId,
  readCloseCode,
  readCloseReason,
  readEndText,
  readFaultArg,
} from './gateway-records.js';
import type { CoreToThread, ThreadToCore } from './gateway-messages.js';

const EMPTY = new Uint8Array(0);
/** ZoneState values as the main thread publishes them (zone/host.ts). */
const ZONE_UP = 1;
const ZONE_DOWN = 3;
const ZONE_STOPPED = 4;

export interface GatewayThreadData {
  index: number;
  net: NetConfig;
  /** The port every thread listens on (already chosen when net.port is 0). */
  port: number;
  toCore: SharedArrayBuffer;
  toSockets: SharedArrayBuffer;
  coreBell: SharedArrayBuffer;
  /** This thread's doorbell: rung by the main thread and by every zone's ring to it. */
  socketsBell: SharedArrayBuffer;
  threads: ThreadsShared | null;
  /** Largest HTTP request body forwarded to the main thread; bigger ones get 413 here. */
  maxHttpBodyBytes: number;
  /** The process's handshake budgets (null: admit every upgrade). */
  admission: SharedAdmissionInit | null;
  admissionConfig: AdmissionConfig;
  /**
   * This thread's rings with each zone, by zone index, each zone's doorbell
   * and stats block (this thread writes its event loop's recent stall in its
   * ZoneStat.threadStallMs slot); `local`: false for another cluster node's
   * zone (relayed by the main thread).
   */
  zones: Array<{ rings: OwnerRingHandles; bell: SharedArrayBuffer; stats: SharedArrayBuffer; local: boolean }>;
  /** How often this thread samples its event loop's lateness, ms (metrics.eventLoopSampleMs). */
  loopSampleMs: number;
  zoneNames: ZoneName[];
  /** ZoneSet.states: each zone's ZoneState. */
  zoneStates: SharedArrayBuffer;
  session: CoreConfig;
  verify: VerifyLimits;
  pool: PoolOptions;
  tickHz: number;
  /** This thread's metric slots (MetricArena; the main thread adds them to its metrics). */
  metrics: SharedArrayBuffer;
  logLevel: string;
}

type ThreadSocket = WebSocket<SocketData>;

interface PendingHttp {
  res: HttpResponse;
  aborted: boolean;
  started: boolean;
}

const port = parentPort!;
const d = workerData as GatewayThreadData;
const post = (m: ThreadToCore): void => port.postMessage(m);
const handle = d.threads ? setupThread({ role: 'net', index: d.index, shared: d.threads }) : null;
const log = createWorkerLogger(d.logLevel, { thread: `net-${d.index}` });

const uws = loadUws({ allowSlowFallback: d.net.allowSlowFallback }).uws;
const toCoreRing = new SpscRing(d.toCore, 0, new Doorbell(d.coreBell, 0));
const toCore = new SpillingProducer(toCoreRing);
const toSockets = new SpscRing(d.toSockets, 0);
const sockets = new Map<number, ThreadSocket>();
const admission = d.admission ? new SharedAdmission(d.admission) : null;
const http = new Map<number, PendingHttp>();
let nextConn = 1;
let nextReq = 1;
let listenSocket: us_listen_socket | null = null;
let accepting = true;
let commitScheduled = false;
let dying = false;
let handlerErrors = 0;
let lastErrorLog = 0;

// ---------------------------------------------------------------- zones

const zoneIn = d.zones.map((z) => new SpscRing(z.rings.inbound, 0, new Doorbell(z.bell, 0)));
const zoneOut = d.zones.map((z) => new SpscRing(z.rings.outbound, 0));
const zoneStates = new Int32Array(d.zoneStates);
const zoneLocal = d.zones.map((z) => z.local);
const zoneStats = d.zones.map((z) => new Float64Array(z.stats));

/**
 * This thread's event-loop stalls, published to every zone: after a stall (a
 * long GC, a starved CPU) its players' inputs queued in the kernel arrive
 * together, and the zones excuse their speed for a while
 * (world.movement.stallGraceMs). Timers run before the poll phase, so the
 * stall is published before the inputs it bunched are read.
 */
const stalls = new StallTracker();
let expectedSample = performance.now() + d.loopSampleMs;
setInterval(() => {
  const now = performance.now();
  stalls.note(Math.max(0, now - expectedSample), now);
  expectedSample = now + d.loopSampleMs;
  const v = stalls.current(now);
  const slot = ZoneStat.threadStallMs + d.index;
  for (let z = 0; z < zoneStats.length; z++) zoneStats[z]![slot] = v;
}, d.loopSampleMs).unref();
const zoneDirty = new Uint8Array(zoneIn.length);
const zoneTails = new Int32Array(zoneIn.length);
/** This thread's rings to the zones: inputs and records of its sessions, published at the end of each batch. */
const zoneLinks: ZoneLinks = {
  send(zone, type, session, src, offset, length) {
    const st = zoneStates[zone];
    if (st === undefined || st === ZONE_DOWN || st === ZONE_STOPPED) return false;
    if (!zoneLocal[zone]) {
      // Another node's zone: through the main thread, which sends it over NATS (in this thread's order).
      control.remoteZone(zone, type, session, src ?? EMPTY, offset, src ? length : 0);
      return true;
    }
    const r = zoneIn[zone]!;
    const off = r.reserve(type, session, length);
    if (off < 0) return false;
    if (src) copyBytes(src, offset, r.data, off, length);
    zoneDirty[zone] = 1;
    commitSoon();
    return true;
  },
  isUp: (zone) => zoneStates[zone] === ZONE_UP,
  commit() {
    for (let i = 0; i < zoneIn.length; i++) {
      if (zoneDirty[i] === 0) continue;
      zoneDirty[i] = 0;
      zoneIn[i]!.commit();
    }
  },
};

// ---------------------------------------------------------------- the sessions' owner

const arena = new MetricArena(d.metrics);
const stats = new NetStats(null, arena);
const metrics = createSessionMetrics(null, arena);
const poolFigures = arena.take(POOL_FIGURES);
const replayPool = new BufferPool(d.pool);
setInterval(() => writePoolFigures(poolFigures, replayPool), 1000).unref();
const link: LinkSink = { sink: toCore, commitSoon, commitNow: () => commitNow() };
const control = new RemoteControl(link);
const core = new SessionCore({
  owner: d.index,
  cfg: d.session,
  verify: d.verify,
  zones: zoneLinks,
  zoneNames: d.zoneNames,
  pool: replayPool,
  stats,
  metrics,
  // Inputs spend the shared per-address budget (one for the process) and this thread's per-account budget
  // (an account is live on one thread at a time).
  admission: new Admission(d.admissionConfig, performance.now(), admission),
  close: endSocket,
  log,
  tickHz: d.tickHz,
});
core.control = control;
core.start();

const commitNow = (): void => {
  commitScheduled = false;
  zoneLinks.commit();
  toCore.commit();
};
/** One commit per event-loop turn: the messages uWS hands over in one poll phase are published together. */
function commitSoon(): void {
  if (commitScheduled) return;
  commitScheduled = true;
  setImmediate(commitNow);
}

/** An exception on a socket's event: counted, logged (at most once a second), that socket closed; the thread goes on. */
function handlerThrew(ws: ThreadSocket, err: unknown): void {
  stats.handlerErrors.inc();
  handlerErrors++;
  const now = Date.now();
  if (now - lastErrorLog >= 1000) {
    lastErrorLog = now;
    log.error({ err, conn: ws.getUserData().id, handlerErrors }, 'socket handler threw; socket closed');
  }
  endSocket(ws, CloseReason.malformed, CloseCode.malformed, 'internal error handling message');
}

const app = uws.App();
app.ws<SocketData>(d.net.wsPath, {
  maxPayloadLength: d.net.maxPayloadLength,
  idleTimeout: d.net.idleTimeout,
  maxBackpressure: d.net.maxBackpressure,
  sendPingsAutomatically: d.net.sendPingsAutomatically,
  closeOnBackpressureLimit: 0,
  upgrade: (res, req, ctx) => onUpgrade(res, req, ctx),
  open: (ws) => {
    const u = ws.getUserData();
    sockets.set(u.id, ws);
    stats.opens.inc();
    try {
      core.open(ws);
    } catch (err) {
      handlerThrew(ws, err);
      return;
    }
    if (!accepting) endSocket(ws, CloseReason.shutdown, CloseCode.goingAway, 'server shutting down');
  },
  message: (ws, data, isBinary) => {
    stats.packetsIn.inc();
    stats.bytesIn.inc(0, data.byteLength);
    try {
      core.message(ws, new Uint8Array(data), 0, data.byteLength, isBinary);
    } catch (err) {
      handlerThrew(ws, err);
    }
  },
  drain: (ws) => {
    try {
      core.drain(ws);
    } catch (err) {
      handlerThrew(ws, err);
    }
  },
  close: (ws, code, message) => {
    const u = ws.getUserData();
    u.open = false;
    sockets.delete(u.id);
    const reason = (u.closeReason >= 0 ? u.closeReason : classifyClose(code, message)) as CloseReasonIndex;
    stats.closes.inc(reason);
    // The close reaches the main thread whatever happens here: the player must not stay "connected" forever.
    try {
      core.close(ws, code, reason);
    } catch (err) {
      stats.handlerErrors.inc();
      log.error({ err, conn: u.id }, 'socket handler threw on close');
      control.close(ws, code, reason);
    }
  },
});
app.any(d.net.wsPath, (res) => {
  res.cork(() => res.writeStatus('426 Upgrade Required').writeHeader('content-type', 'application/json').writeHeader('upgrade', 'websocket').end(JSON.stringify({ error: 'upgrade required: this path speaks WebSocket' })));
});
app.any('/*', (res, req) => forwardHttp(res, req));
const WAIT = new Int32Array(new SharedArrayBuffer(4));

/** Admitted here, in the handler, against the process's shared budgets (see shared-admission.ts for why not later). */
function onUpgrade(res: HttpResponse, req: HttpRequest, ctx: us_socket_context_t): void {
  const ip = addressText(res.getRemoteAddressAsText());
  if (!accepting) {
    refuseUpgradeShuttingDown(res);
    return;
  }
  const claimText = req.getQuery('resume') ?? '';
  const claim = /^\d{1,10}$/.test(claimText) && Number(claimText) <= 0xffffffff ? Number(claimText) : -1;
  const retryMs = admission ? admission.admit(ip, claim, Date.now()) : 0;
  if (retryMs > 0) {
    refuseUpgradeRetryLater(res, retryMs);
    return;
  }
  const data: SocketData = { id: connId(d.index, nextConn++), ip, closeReason: -1, open: true, attachment: null, service: null };
  if (nextConn >= 1 << 28) nextConn = 1;
  res.upgrade(data, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), ctx);
}

// ---------------------------------------------------------------- output

let sendWs: ThreadSocket | null = null;
let sendView: Uint8Array | null = null;
const corkedSend = (): void => {
  sendWs!.send(sendView!, true);
};
/** The main thread's records: the service's calls for this thread's sessions, and sockets with no session yet. */
const onOutput = (type: number, conn: number, data: Uint8Array, offset: number, length: number): void => {
  switch (type) {
    case ToSockets.send: {
      // A frame for a socket with no session (a Kicked before a close): views of the ring's memory, copied by uWS.
      const ws = sockets.get(conn);
      if (!ws) return;
      sendWs = ws;
      sendView = data.subarray(offset, offset + length);
      ws.cork(corkedSend);
      sendWs = null;
      sendView = null;
      return;
    }
    case ToSockets.end: {
      const ws = sockets.get(conn);
      if (!ws) return;
      const u = ws.getUserData();
      if (!u.open) return;
      u.closeReason = readCloseReason(data, offset);
      ws.end(readCloseCode(data, offset), readEndText(data, offset, length));
      return;
    }
    case ToSockets.fault:
      if (data[offset] === GatewayFault.throwInFlush) throw Object.assign(new Error('gateway thread fault injected mid-flush'), { code: 'MMO_ERR_FAULT_INJECTED' });
      if (data[offset] === GatewayFault.stall) stallFor(readFaultArg(data, offset));
      return;
    default:
      deliverToOwner(core, type, conn, data, offset, length);
  }
};
let curZone = 0;
const onZone = (type: number, session: number, data: Uint8Array, offset: number, length: number): void => core.zoneRecord(curZone, type, session, data, offset, length);

/**
 * One wake-up: the main thread's records first, then each zone's up to the
 * tail read before them (a zone's record for a session the main thread is
 * handing to this thread comes after the main thread's `expect`), then one
 * flush of every session's frame.
 */
function drainAll(): void {
  for (let z = 0; z < zoneOut.length; z++) zoneTails[z] = zoneOut[z]!.tailNow();
  toSockets.drain(onOutput);
  for (let z = 0; z < zoneOut.length; z++) {
    curZone = z;
    zoneOut[z]!.drainUntil(onZone, zoneTails[z]!);
  }
  core.flush();
  commitNow();
}

/** debug.faultInjection: blocks this thread's event loop, as a long GC would. */
function stallFor(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy: a stall, on purpose
  }
}

const waker = new MainThreadWaker(new Doorbell(d.socketsBell, 0), drainAll, {
  onError: (err) => {
    if ((err as { code?: string }).code === 'MMO_ERR_FAULT_INJECTED') return die(err);
    // A record that threw: consumed, counted, logged; the rest is delivered next round.
    handlerErrors++;
    stats.handlerErrors.inc();
    const now = Date.now();
    if (now - lastErrorLog >= 1000) {
      lastErrorLog = now;
      log.error({ err, handlerErrors }, 'handling the main thread\'s or a zone\'s records threw; that record is dropped');
    }
    setImmediate(drainAll);
  },
});

// ---------------------------------------------------------------- HTTP

function forwardHttp(res: HttpResponse, req: HttpRequest): void {
  const id = nextReq++;
  const p: PendingHttp = { res, aborted: false, started: false };
  res.onAborted(() => {
    p.aborted = true;
    if (http.delete(id)) post({ t: 'httpAbort', thread: d.index, id });
  });
  const headers: Array<[string, string]> = [];
  req.forEach((k, v) => headers.push([k, v]));
  const length = req.getHeader('content-length');
  const chunked = /chunked/i.test(req.getHeader('transfer-encoding'));
  // uWS calls onData only when a body follows; so does the main thread's copy of the request.
  const hasBody = chunked || (length !== '' && length !== '0');
  http.set(id, p);
  post({
    t: 'http',
    thread: d.index,
    id,
    method: req.getMethod(),
    url: req.getUrl(),
    query: req.getQuery() ?? '',
    headers,
    ip: addressText(res.getRemoteAddressAsText()),
    hasBody,
  });
  if (!hasBody) return;
  // The route judges the body (declared size first, as it does on one thread); this cap only bounds what a thread forwards.
  let size = 0;
  res.onData((chunk, isLast) => {
    if (p.aborted || !http.has(id)) return;
    size += chunk.byteLength;
    if (size > d.maxHttpBodyBytes) {
      http.delete(id);
      post({ t: 'httpAbort', thread: d.index, id });
      res.cork(() => res.writeStatus('413 Payload Too Large').writeHeader('content-type', 'application/json').end(JSON.stringify({ error: 'body_too_large', message: `body is over the limit of ${d.maxHttpBodyBytes} bytes` }), true));
      return;
    }
    post({ t: 'httpData', thread: d.index, id, chunk: chunk.slice(0), last: isLast });
  });
}

function onHttpAnswer(m: Extract<CoreToThread, { t: 'httpRes' }>): void {
  const p = http.get(m.id);
  if (!p || p.aborted) return;
  const { res } = p;
  if (m.done) http.delete(m.id);
  res.cork(() => {
    if (!p.started) {
      p.started = true;
      res.writeStatus(m.status ?? '200 OK');
      for (const [k, v] of m.headers ?? []) res.writeHeader(k, v);
    }
    if (m.done) res.end(m.body ?? '', m.closeConnection ?? false);
    else if (m.body !== undefined && m.body !== null) res.write(m.body);
  });
}

// ---------------------------------------------------------------- control

port.on('message', (m: CoreToThread) => {
  switch (m.t) {
    case 'httpRes':
      return onHttpAnswer(m);
    case 'stopListening':
      accepting = false;
      if (listenSocket) uws.us_listen_socket_close(listenSocket);
      listenSocket = null;
      return;
    case 'exit':
      // Closes the main thread wrote before asking us to exit go out first, with their codes.
      toSockets.drain(onOutput);
      return shutdown(0);
  }
});

/**
 * Closes every socket the app holds: the listen socket, WebSockets, and HTTP
 * connections kept alive between requests, which no handler tracks; any one
 * left open aborts the process when the thread ends.
 */
function closeEverything(): void {
  accepting = false;
  listenSocket = null;
  http.clear();
  (app as unknown as { close(): void }).close();
}

/**
 * Leaves cleanly: uWS must hold no socket when the thread ends (see the
 * header). Asked to exit, sockets the main thread had not closed yet (accepted
 * in the last instant) get a close frame first and up to a second to answer.
 */
function shutdown(code: number): void {
  if (code === 0 && sockets.size > 0) {
    accepting = false;
    if (listenSocket) uws.us_listen_socket_close(listenSocket);
    listenSocket = null;
    for (const ws of sockets.values()) {
      const u = ws.getUserData();
      if (u.closeReason >= 0) continue;
      u.closeReason = CloseReason.shutdown;
      ws.end(CloseCode.goingAway, 'server shutting down');
    }
    const until = Date.now() + 1000;
    const wait = (): void => {
      toSockets.drain(onOutput);
      if (sockets.size > 0 && Date.now() < until) setTimeout(wait, 10);
      else finish(code);
    };
    setTimeout(wait, 10);
    return;
  }
  finish(code);
}

function finish(code: number): void {
  waker.stop();
  core.stop();
  closeEverything();
  publishAll();
  handle?.release();
  post({ t: 'exited', thread: d.index, code, ringFullDrops: toCore.spills });
  // uWS frees closed sockets on its next loop turn: end the thread after it.
  setTimeout(() => port.close(), 0);
}

/** Publishes everything for the main thread, waiting (bounded) while it drains what did not fit. Cold path: leaving. */
function publishAll(): void {
  zoneLinks.commit();
  const until = Date.now() + 2000;
  for (;;) {
    toCore.commit();
    if (toCore.waiting === 0 || Date.now() > until) break;
    Atomics.wait(WAIT, 0, 0, 1);
  }
}

function die(err: unknown): void {
  if (dying) return;
  dying = true;
  const e = err as Error;
  post({ t: 'died', thread: d.index, message: e?.message ?? String(err), stack: e?.stack ?? '' });
  // The sessions go to the main thread with their frames before the sockets close (their closes then find none here).
  try {
    const n = core.exportAll();
    log.warn({ sessions: n }, 'gateway thread dying: sessions handed to the main thread');
  } catch (err2) {
    log.error({ err: err2 }, 'handing the sessions over failed; they are parked without their frames');
  }
  publishAll();
  shutdown(1);
}
process.on('uncaughtException', die);

app.listen(d.net.host, d.port, (ls) => {
  if (!ls) {
    post({ t: 'listening', thread: d.index, ok: false, port: d.port });
    shutdown(1);
    return;
  }
  listenSocket = ls;
  waker.start();
  post({ t: 'listening', thread: d.index, ok: true, port: uws.us_socket_local_port(ls as never) });
});
