// Worker entry of one gateway thread: a uWS app of its own on the shared port
// (SO_REUSEPORT: the kernel spreads new connections over the threads), doing
// the network I/O of its sockets and nothing else. What a message means is
// decided on the main thread, which owns every session; this thread moves
// bytes between its sockets and two rings (gateway-records.ts):
//
//   socket ─▶ uWS ─▶ ToCore ring ─▶ main thread (sessions, admission, routing to zones)
//   socket ◀─ uWS ◀─ ToSockets ring ◀─ main thread (one frame per session per flush)
//
// Upgrades wait for the main thread's admission decision (one budget for the
// whole process, whichever thread a handshake lands on). HTTP requests other
// than the WebSocket are forwarded whole to the main thread and answered from
// there (cold path, postMessage): every route works on every thread.
//
// Dying: an uncaught exception closes this thread's listen socket and every
// socket it holds, then the thread exits; its clients resume on another
// thread. Never terminate() a thread running uWS: Node aborts the whole
// process on the loop handles uWS still holds (measured on 20.30).

import { parentPort, workerData } from 'node:worker_threads';
import { setupThread, type ThreadsShared } from '../../native-bindings/threads.js';
import type { NetConfig } from '../config/schema.js';
import { Doorbell, MainThreadWaker, SpscRing } from '../ring/index.js';
import { CloseCode } from '../protocol/close-codes.js';
import { CloseReason, classifyClose } from './stats.js';
import { refuseUpgradeRetryLater, refuseUpgradeShuttingDown } from './http.js';
import { addressText, loadUws, type HttpResponse, type HttpRequest, type us_listen_socket, type WebSocket, type us_socket_context_t } from './uws.js';
import { SharedAdmission, type SharedAdmissionInit } from '../session/shared-admission.js';
import {
  GatewayFault,
  ToCore,
  ToSockets,
  connId,
  readCloseCode,
  readCloseReason,
  readEndText,
  writeBuffered,
  writeClose,
  writeMessage,
  writeOpen,
} from './gateway-records.js';
import type { CoreToThread, ThreadToCore, ProxiedRequest } from './gateway-messages.js';

export interface GatewayThreadData {
  index: number;
  net: NetConfig;
  /** The port every thread listens on (already chosen when net.port is 0). */
  port: number;
  toCore: SharedArrayBuffer;
  toSockets: SharedArrayBuffer;
  coreBell: SharedArrayBuffer;
  socketsBell: SharedArrayBuffer;
  threads: ThreadsShared | null;
  /** Largest HTTP request body forwarded to the main thread; bigger ones get 413 here. */
  maxHttpBodyBytes: number;
  /** The process's handshake budgets (null: admit every upgrade). */
  admission: SharedAdmissionInit | null;
}

interface ThreadSocketData {
  id: number;
  ip: string;
  /** Set when the main thread closes the socket: the close record then carries its reason. -1 until then. */
  closeReason: number;
  open: boolean;
}
type ThreadSocket = WebSocket<ThreadSocketData>;

interface PendingHttp {
  res: HttpResponse;
  aborted: boolean;
  started: boolean;
}

const port = parentPort!;
const d = workerData as GatewayThreadData;
const post = (m: ThreadToCore): void => port.postMessage(m);
const handle = d.threads ? setupThread({ role: 'net', index: d.index, shared: d.threads }) : null;

const uws = loadUws({ allowSlowFallback: d.net.allowSlowFallback }).uws;
const toCore = new SpscRing(d.toCore, 0, new Doorbell(d.coreBell, 0));
const toSockets = new SpscRing(d.toSockets, 0);
const sockets = new Map<number, ThreadSocket>();
const admission = d.admission ? new SharedAdmission(d.admission) : null;
const http = new Map<number, PendingHttp>();
let nextConn = 1;
let nextReq = 1;
let listenSocket: us_listen_socket | null = null;
let accepting = true;
let commitScheduled = false;
let ringFullDrops = 0;
let dying = false;

const commitNow = (): void => {
  commitScheduled = false;
  toCore.commit();
};
/** One commit per event-loop turn: the messages uWS hands over in one poll phase are published together. */
function commitSoon(): void {
  if (commitScheduled) return;
  commitScheduled = true;
  setImmediate(commitNow);
}

/** The ToCore ring is full (the main thread is far behind): the socket is closed and its client resumes; nothing it sent is half-delivered. */
function ringFull(ws: ThreadSocket): void {
  ringFullDrops++;
  const u = ws.getUserData();
  if (!u.open) return;
  u.closeReason = CloseReason.kicked;
  ws.end(CloseCode.tryAgainLater, 'server busy: reconnect to resume');
}

const app = uws.App();
app.ws<ThreadSocketData>(d.net.wsPath, {
  maxPayloadLength: d.net.maxPayloadLength,
  idleTimeout: d.net.idleTimeout,
  maxBackpressure: d.net.maxBackpressure,
  sendPingsAutomatically: d.net.sendPingsAutomatically,
  closeOnBackpressureLimit: 0,
  upgrade: (res, req, ctx) => onUpgrade(res, req, ctx),
  open: (ws) => {
    const u = ws.getUserData();
    sockets.set(u.id, ws);
    if (!writeOpen(toCore, u.id, u.ip)) {
      sockets.delete(u.id);
      u.open = false;
      ws.end(CloseCode.tryAgainLater, 'server busy');
      return;
    }
    commitSoon();
    if (!accepting) {
      u.closeReason = CloseReason.shutdown;
      ws.end(CloseCode.goingAway, 'server shutting down');
    }
  },
  message: (ws, data, isBinary) => {
    if (!writeMessage(toCore, ws.getUserData().id, isBinary, new Uint8Array(data))) return ringFull(ws);
    commitSoon();
  },
  drain: (ws) => {
    if (!writeBuffered(toCore, ToCore.drain, ws.getUserData().id, ws.getBufferedAmount())) return;
    commitSoon();
  },
  close: (ws, code, message) => {
    const u = ws.getUserData();
    u.open = false;
    sockets.delete(u.id);
    const reason = u.closeReason >= 0 ? u.closeReason : classifyClose(code, message);
    // A close must reach the sessions or the player stays "connected" forever: wait for room.
    while (!writeClose(toCore, u.id, code, reason)) {
      toCore.commit();
      Atomics.wait(WAIT, 0, 0, 1);
    }
    commitSoon();
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
  const data: ThreadSocketData = { id: connId(d.index, nextConn++), ip, closeReason: -1, open: true };
  if (nextConn >= 1 << 28) nextConn = 1;
  res.upgrade(data, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), ctx);
}

// ---------------------------------------------------------------- output

let sendWs: ThreadSocket | null = null;
let sendView: Uint8Array | null = null;
let sendResult = 0;
const corkedSend = (): void => {
  sendResult = sendWs!.send(sendView!, true);
};
/** Views of the ring's memory by offset and length are made per frame; uWS copies what it cannot write at once. */
const onOutput = (type: number, conn: number, data: Uint8Array, offset: number, length: number): void => {
  switch (type) {
    case ToSockets.send: {
      const ws = sockets.get(conn);
      if (!ws) return;
      sendWs = ws;
      sendView = data.subarray(offset, offset + length);
      ws.cork(corkedSend);
      sendWs = null;
      sendView = null;
      if (sendResult === 1) return;
      if (sendResult === 2) {
        // Dropped past net.maxBackpressure: the frame is in the session's replay buffer; the client resumes.
        const u = ws.getUserData();
        u.closeReason = CloseReason.slowConsumer;
        ws.end(CloseCode.slowConsumer, 'too far behind: reconnect to resume');
        return;
      }
      if (writeBuffered(toCore, ToCore.buffered, conn, ws.getBufferedAmount())) commitSoon();
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
      return;
  }
};
const waker = new MainThreadWaker(new Doorbell(d.socketsBell, 0), () => toSockets.drain(onOutput), {
  onError: (err) => die(err),
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
  closeEverything();
  toCore.commit();
  handle?.release();
  post({ t: 'exited', thread: d.index, code, ringFullDrops });
  // uWS frees closed sockets on its next loop turn: end the thread after it.
  setTimeout(() => port.close(), 0);
}

function die(err: unknown): void {
  if (dying) return;
  dying = true;
  const e = err as Error;
  post({ t: 'died', thread: d.index, message: e?.message ?? String(err), stack: e?.stack ?? '' });
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
