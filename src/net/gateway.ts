// The gateway: one uWS app on the main thread that owns every socket. It
// accepts, counts, closes and shuts down; what a message means is decided by
// the SocketHandler plugged into it (the session layer). It never simulates.

import type { Logger } from '../log/logger.js';
import type { NetConfig } from '../config/schema.js';
import { CloseCode } from '../protocol/close-codes.js';
import { CloseReason, classifyClose, type CloseReasonIndex, type NetStats } from './stats.js';
import { mountRoutes, refuseUpgradeRetryLater, refuseUpgradeShuttingDown, type Route } from './http.js';
import { addressText, type TemplatedApp, type UwsLoad, type WebSocket, type us_listen_socket, type HttpRequest, type HttpResponse, type us_socket_context_t } from './uws.js';

/** Per-socket state uWS keeps for us (getUserData()). */
export interface SocketData {
  /** Connection id, unique for the life of the process. */
  readonly id: number;
  /** Remote address as text. */
  readonly ip: string;
  /** Set when the server closes the socket itself, so the close handler knows why. -1 until then. */
  closeReason: number;
  /** False once the close handler has run: the socket must not be touched after that. */
  open: boolean;
  /** The owner's per-socket state (SessionCore: the session bound to this socket). */
  attachment: unknown;
  /** The service's per-socket state (SessionService: where the socket is in its Hello or Resume). */
  service: unknown;
}

/**
 * A client's socket as the session layer sees it: a uWS WebSocket on the
 * main-thread gateway, a RemoteSocket (remote-socket.ts) when the sockets live
 * on gateway threads. Only these calls are made on it.
 */
export interface Socket {
  getUserData(): SocketData;
  /** 1: written; 0: queued (backpressure, see getBufferedAmount); 2: dropped past net.maxBackpressure. */
  send(message: Uint8Array, isBinary: boolean): number;
  cork(cb: () => void): unknown;
  getBufferedAmount(): number;
  end(code?: number, shortMessage?: string): void;
}

/**
 * Closes a socket with a close frame, once: the gateway's close handler then
 * records `reason`. What every gateway's closeSocket does, on whichever
 * thread holds the socket (a gateway thread's own sockets too).
 */
export function endSocket(ws: Pick<Socket, 'getUserData' | 'end'>, reason: CloseReasonIndex, code: number, text: string): void {
  const d = ws.getUserData();
  if (!d.open) return;
  d.closeReason = reason;
  ws.end(code, text);
}

/** What the session layer needs of a gateway, whichever kind runs. */
export interface GatewayLike {
  /** Listens on net.host:net.port; resolves with the bound port. */
  listen(): Promise<number>;
  readonly listening: boolean;
  readonly boundPort: number;
  readonly connections: number;
  /** Stops accepting: closes the listen socket(s); existing sockets stay. */
  stopListening(): void;
  /** Closes one socket with a close frame; the close handler records `reason`. */
  closeSocket(ws: Socket, reason: CloseReasonIndex, code: number, text: string): void;
  /** Closes every socket (shutdown). */
  closeAll(reason: CloseReasonIndex, code: number, text: string): void;
  /**
   * Ends the gateway's threads, if it has any (after closeAll, at shutdown),
   * waiting up to `waitMs` for them. Idempotent. The process must not exit
   * while a uWS thread still runs: Node aborts (SIGABRT) closing a worker's
   * loop that holds uWS handles, so every exit path awaits this first.
   */
  close(waitMs?: number): Promise<void>;
}

/** What the gateway calls; implemented by the session layer. Must not throw (the gateway guards anyway). */
export interface SocketHandler {
  open(ws: Socket): void;
  /** The message is data[offset, offset + length), valid only during this call (uWS neuters it, or the ring reuses it, afterwards). */
  message(ws: Socket, data: Uint8Array, offset: number, length: number, isBinary: boolean): void;
  drain(ws: Socket): void;
  close(ws: Socket, code: number, reason: CloseReasonIndex): void;
}

/** Decides whether an upgrade may proceed. Returns 0 to admit, or a retry delay in ms to refuse. */
export interface UpgradeGate {
  admit(ip: string, req: HttpRequest): number;
}

export interface GatewayOptions {
  net: NetConfig;
  uws: UwsLoad;
  log: Logger;
  stats: NetStats;
  routes: readonly Route[];
  handler: SocketHandler;
  gate?: UpgradeGate;
}

export class Gateway implements GatewayLike {
  readonly app: TemplatedApp;
  private listenSocket: us_listen_socket | null = null;
  private readonly sockets = new Set<WebSocket<SocketData>>();
  private nextId = 1;
  private accepting = true;
  private port = -1;
  /** Rate-limits "handler threw" logs: at most one per second. */
  private lastHandlerErrorLog = 0;

  constructor(private readonly opts: GatewayOptions) {
    const { uws, net } = opts;
    this.app = uws.uws.App();
    this.app.ws<SocketData>(net.wsPath, {
      maxPayloadLength: net.maxPayloadLength,
      idleTimeout: net.idleTimeout,
      maxBackpressure: net.maxBackpressure,
      sendPingsAutomatically: net.sendPingsAutomatically,
      closeOnBackpressureLimit: 0,
      upgrade: (res, req, ctx) => this.onUpgrade(res, req, ctx),
      open: (ws) => this.onOpen(ws),
      message: (ws, data, isBinary) => this.onMessage(ws, data, isBinary),
      drain: (ws) => this.onDrain(ws),
      close: (ws, code, message) => this.onClose(ws, code, message),
    });
    mountRoutes(this.app, opts.routes, [net.wsPath]);
  }

  /** Listens on net.host:net.port; resolves with the bound port. */
  listen(): Promise<number> {
    const { host, port } = this.opts.net;
    return new Promise((resolve, reject) => {
      this.app.listen(host, port, (ls) => {
        if (!ls) {
          reject(Object.assign(new Error(`cannot listen on ${host}:${port} (in use or not permitted)`), { code: 'MMO_ERR_LISTEN' }));
          return;
        }
        this.listenSocket = ls;
        this.port = this.opts.uws.uws.us_socket_local_port(ls as never);
        resolve(this.port);
      });
    });
  }

  get listening(): boolean {
    return this.listenSocket !== null;
  }

  get boundPort(): number {
    return this.port;
  }

  get connections(): number {
    return this.sockets.size;
  }

  /** Stops accepting: closes the listen socket; existing sockets stay. */
  stopListening(): void {
    this.accepting = false;
    if (this.listenSocket) {
      this.opts.uws.uws.us_listen_socket_close(this.listenSocket);
      this.listenSocket = null;
    }
  }

  /** Closes one socket with a close frame; the close handler records `reason`. */
  closeSocket(ws: Socket, reason: CloseReasonIndex, code: number, text: string): void {
    endSocket(ws, reason, code, text);
  }

  /** Closes every socket (shutdown). */
  closeAll(reason: CloseReasonIndex, code: number, text: string): void {
    for (const ws of [...this.sockets]) this.closeSocket(ws, reason, code, text);
  }

  /** Nothing to end: the sockets live on this thread. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  private onUpgrade(res: HttpResponse, req: HttpRequest, ctx: us_socket_context_t): void {
    const ip = addressText(res.getRemoteAddressAsText());
    if (!this.accepting) {
      refuseUpgradeShuttingDown(res);
      return;
    }
    const retryMs = this.opts.gate ? this.opts.gate.admit(ip, req) : 0;
    if (retryMs > 0) {
      refuseUpgradeRetryLater(res, retryMs);
      return;
    }
    const data: SocketData = { id: this.nextId++, ip, closeReason: -1, open: true, attachment: null, service: null };
    res.upgrade(
      data,
      req.getHeader('sec-websocket-key'),
      req.getHeader('sec-websocket-protocol'),
      req.getHeader('sec-websocket-extensions'),
      ctx,
    );
  }

  private onOpen(ws: WebSocket<SocketData>): void {
    this.sockets.add(ws);
    this.opts.stats.opens.inc();
    this.opts.stats.open = this.sockets.size;
    if (!this.accepting) {
      this.closeSocket(ws, CloseReason.shutdown, CloseCode.goingAway, 'server shutting down');
      return;
    }
    try {
      this.opts.handler.open(ws);
    } catch (err) {
      this.handlerThrew(ws, err);
    }
  }

  /** Hot. No closure per message: try/catch costs nothing in V8 while nothing throws. */
  private onMessage(ws: WebSocket<SocketData>, data: ArrayBuffer, isBinary: boolean): void {
    const s = this.opts.stats;
    const n = data.byteLength;
    s.packetsIn.inc();
    s.bytesIn.inc(0, n);
    try {
      this.opts.handler.message(ws, new Uint8Array(data), 0, n, isBinary);
    } catch (err) {
      this.handlerThrew(ws, err);
    }
  }

  private onDrain(ws: WebSocket<SocketData>): void {
    try {
      this.opts.handler.drain(ws);
    } catch (err) {
      this.handlerThrew(ws, err);
    }
  }

  private onClose(ws: WebSocket<SocketData>, code: number, message: ArrayBuffer): void {
    const d = ws.getUserData();
    d.open = false;
    this.sockets.delete(ws);
    this.opts.stats.open = this.sockets.size;
    const reason = (d.closeReason >= 0 ? d.closeReason : classifyClose(code, message)) as CloseReasonIndex;
    this.opts.stats.closes.inc(reason);
    try {
      this.opts.handler.close(ws, code, reason);
    } catch (err) {
      this.logHandlerError(err, d.id);
    }
  }

  /** A handler that throws must cost only its own socket: log (rate-limited), count and close it. */
  private handlerThrew(ws: Socket, err: unknown): void {
    this.opts.stats.handlerErrors.inc();
    this.logHandlerError(err, ws.getUserData().id);
    this.closeSocket(ws, CloseReason.malformed, CloseCode.malformed, 'internal error handling message');
  }

  private logHandlerError(err: unknown, conn: number): void {
    const now = Date.now();
    if (now - this.lastHandlerErrorLog < 1000) return;
    this.lastHandlerErrorLog = now;
    this.opts.log.error({ err, conn }, 'socket handler threw; socket closed');
  }
}
