// A userland TCP proxy for fault injection on loopback (tc netem is not
// available here). Clients connect to the proxy, the proxy connects to the
// target and forwards bytes both ways; on command (or at random moments, from
// a seeded generator) it cuts a connection with RST or FIN, black-holes it
// (forwards nothing either way and closes nothing), delays or throttles it.
//
// Bounded: at most maxConnections links, at most maxQueuedBytes held per
// direction (past it the source is paused: TCP back-pressure does the rest),
// a bounded fault log, and a lifetime after which the proxy closes itself and
// every link. Listens on 127.0.0.0/8 only.
//
// Cold path: allocates per chunk (queue entries); this is a test tool, not
// part of the server.

import { EventEmitter } from 'node:events';
import net from 'node:net';

export type CutMode = 'rst' | 'fin';
/** Which end of a link a cut reaches: the client's socket, the server's, or both. */
export type Side = 'both' | 'client' | 'server';
export type FaultKind = 'rst' | 'fin' | 'blackhole' | 'delay' | 'throttle' | 'clear';

/** Faults in force on one link (both directions alike). */
export interface LinkFaults {
  /** Added one-way latency per direction, ms. */
  delayMs: number;
  /** Bandwidth per direction, bytes/s; 0 = unlimited. */
  bytesPerSec: number;
  /** Forward nothing either way and close nothing; bytes that arrive meanwhile are dropped. */
  blackhole: boolean;
}

export interface ChaosOptions {
  /** Seed of the generator that picks moments, links and faults (same seed, same choices). */
  seed: number;
  /** Mean time between faults, ms (exponentially distributed). */
  meanIntervalMs: number;
  /** Relative weights of the fault kinds; a missing kind never happens. Default { rst: 1, fin: 1, blackhole: 1 }. */
  weights?: Partial<Record<Exclude<FaultKind, 'clear'>, number>>;
  /** A black hole, delay or throttle is lifted after a duration drawn from [min, max] ms. Default [500, 3000]. */
  durationMs?: [number, number];
  /** Delay drawn from [min, max] ms. Default [50, 500]. */
  delayMs?: [number, number];
  /** Throttle drawn from [min, max] bytes/s. Default [1024, 65536]. */
  bytesPerSec?: [number, number];
  /** Stop after this many faults. Default unlimited (the proxy's lifetime still bounds it). */
  maxFaults?: number;
}

export interface ProxyOptions {
  target: { host: string; port: number };
  /** Listen address, in 127.0.0.0/8. Default 127.0.0.1. */
  host?: string;
  /** Listen port; 0 (default) picks a free one. */
  port?: number;
  /**
   * Source address of the upstream connections (127.0.0.x), default the OS's
   * choice; 'mirror' uses each client's own address, so the server sees the
   * same spread of addresses as without the proxy.
   */
  sourceAddress?: string;
  /** Links open at once; further clients are reset on accept. Default 10000. */
  maxConnections?: number;
  /** The proxy closes itself (and every link) after this long, ms. Default 600000; at most 86400000. */
  lifetimeMs?: number;
  /** Bytes held per direction per link (delay, throttle) before the source is paused. Default 4 MiB. */
  maxQueuedBytes?: number;
  /** Faults every new link starts with. */
  defaults?: Partial<LinkFaults>;
  /** Random faults from the start (see startChaos). */
  chaos?: ChaosOptions;
  /** Do not keep the event loop alive for the proxy's own timers and listener. Default false. */
  unref?: boolean;
  /** Fault events kept in `faults` (oldest dropped). Default 10000. */
  maxFaultLog?: number;
}

export interface ConnInfo {
  id: number;
  clientAddress: string;
  clientPort: number;
  /** Local port of the proxy's connection to the target (what the server sees as the client's port); 0 until connected. */
  upstreamPort: number;
  openedAtMs: number;
  /** Bytes forwarded client -> server and server -> client. */
  bytesUp: number;
  bytesDown: number;
  /** Bytes dropped while black-holed. */
  droppedBytes: number;
  faults: LinkFaults;
}

export interface FaultEvent {
  /** performance.now() of the proxy's process. */
  atMs: number;
  kind: FaultKind;
  conn: number;
  /** Whether chaos picked it (false: a command). */
  random: boolean;
  detail?: number | string;
}

export interface ProxyStats {
  accepted: number;
  /** Clients reset because maxConnections links were open. */
  refused: number;
  /** Upstream connections that failed (the client was reset). */
  upstreamFailures: number;
  closed: number;
  bytesUp: number;
  bytesDown: number;
  droppedBytes: number;
  cuts: number;
}

/** A link, a link id, every link, or those matching a predicate. */
export type ConnSelector = number | 'all' | ((c: ConnInfo) => boolean);

export class NetFaultError extends Error {
  constructor(
    readonly code: 'MMO_ERR_NETFAULT_ADDRESS' | 'MMO_ERR_NETFAULT_OPTIONS' | 'MMO_ERR_NETFAULT_LISTEN',
    message: string,
  ) {
    super(message);
    this.name = 'NetFaultError';
  }
}

const MAX_LIFETIME_MS = 86_400_000;

/** Small seeded PRNG (mulberry32): reproducible chaos. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function isLoopback(host: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === 'localhost' || host === '::1';
}

interface Chunk {
  buf: Buffer;
  releaseAt: number;
}

/** One direction of a link: src -> dst through the delay/throttle queue. */
class Pipe {
  private queue: Chunk[] = [];
  private head = 0;
  queuedBytes = 0;
  private lastRelease = 0;
  private timer: NodeJS.Timeout | null = null;
  private pausedByQueue = false;
  /** src ended (FIN) while bytes were queued: end dst once the queue is empty. */
  private endPending = false;

  constructor(
    private readonly link: Link,
    private readonly src: net.Socket,
    private readonly dst: net.Socket,
    private readonly up: boolean,
  ) {}

  onData(buf: Buffer): void {
    const f = this.link.faults;
    if (f.blackhole) {
      this.link.dropped(buf.length);
      return;
    }
    if (f.delayMs <= 0 && f.bytesPerSec <= 0 && this.head === this.queue.length) {
      this.write(buf);
      return;
    }
    const now = performance.now();
    if (f.bytesPerSec > 0) {
      // Slices of about 1/20 s of bandwidth keep delivery smooth.
      const slice = Math.max(64, Math.floor(f.bytesPerSec / 20));
      for (let o = 0; o < buf.length; o += slice) {
        const part = buf.subarray(o, Math.min(buf.length, o + slice));
        const start = Math.max(now + f.delayMs, this.lastRelease);
        this.lastRelease = start + (part.length * 1000) / f.bytesPerSec;
        this.enqueue(part, this.lastRelease);
      }
    } else {
      this.lastRelease = Math.max(now + f.delayMs, this.lastRelease);
      this.enqueue(buf, this.lastRelease);
    }
    if (this.queuedBytes > this.link.proxy.maxQueuedBytes && !this.pausedByQueue) {
      this.pausedByQueue = true;
      this.src.pause();
    }
    this.schedule();
  }

  onEnd(): void {
    if (this.head === this.queue.length) this.dst.end();
    else this.endPending = true;
  }

  /** Faults changed: a lifted black hole or delay may release the queue now. */
  reschedule(): void {
    const f = this.link.faults;
    if (f.delayMs <= 0 && f.bytesPerSec <= 0) {
      for (let i = this.head; i < this.queue.length; i++) this.queue[i]!.releaseAt = 0;
      this.lastRelease = 0;
    }
    this.schedule();
  }

  /** Drops everything queued (cuts). */
  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.queue = [];
    this.head = 0;
    this.queuedBytes = 0;
  }

  private enqueue(buf: Buffer, releaseAt: number): void {
    this.queue.push({ buf, releaseAt });
    this.queuedBytes += buf.length;
  }

  private schedule(): void {
    if (this.timer || this.head === this.queue.length) return;
    const wait = Math.max(0, this.queue[this.head]!.releaseAt - performance.now());
    this.timer = setTimeout(() => this.release(), wait);
    if (this.link.proxy.unrefTimers) this.timer.unref();
  }

  private release(): void {
    this.timer = null;
    if (this.link.faults.blackhole) return; // held until the black hole is lifted (or the link is cut)
    const now = performance.now();
    while (this.head < this.queue.length && this.queue[this.head]!.releaseAt <= now + 1) {
      const c = this.queue[this.head++]!;
      this.queuedBytes -= c.buf.length;
      this.write(c.buf);
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
      if (this.endPending) this.dst.end();
    } else if (this.head > 1024) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    if (this.pausedByQueue && this.queuedBytes <= this.link.proxy.maxQueuedBytes / 2) {
      this.pausedByQueue = false;
      this.src.resume();
    }
    this.schedule();
  }

  private write(buf: Buffer): void {
    if (this.dst.destroyed) return;
    this.link.forwarded(this.up, buf.length);
    if (!this.dst.write(buf) && !this.pausedByQueue) {
      this.src.pause();
      this.dst.once('drain', () => {
        if (!this.pausedByQueue) this.src.resume();
      });
    }
  }
}

class Link {
  readonly info: ConnInfo;
  readonly upPipe: Pipe;
  readonly downPipe: Pipe;
  private ended = false;
  /** A side closed while the link was black-holed: close the other when the hole is lifted. */
  private deferredClose = false;

  constructor(
    readonly proxy: NetFaultProxy,
    id: number,
    readonly client: net.Socket,
    readonly server: net.Socket,
    faults: LinkFaults,
  ) {
    this.info = {
      id,
      clientAddress: client.remoteAddress ?? '',
      clientPort: client.remotePort ?? 0,
      upstreamPort: 0,
      openedAtMs: performance.now(),
      bytesUp: 0,
      bytesDown: 0,
      droppedBytes: 0,
      faults,
    };
    client.setNoDelay(true);
    server.setNoDelay(true);
    this.upPipe = new Pipe(this, client, server, true);
    this.downPipe = new Pipe(this, server, client, false);
    client.on('data', (b: Buffer) => this.upPipe.onData(b));
    server.on('data', (b: Buffer) => this.downPipe.onData(b));
    server.on('connect', () => {
      this.info.upstreamPort = server.localPort ?? 0;
    });
    client.on('end', () => this.onEnd(this.upPipe));
    server.on('end', () => this.onEnd(this.downPipe));
    client.on('error', () => this.onSideGone(this.server, true));
    server.on('error', () => this.onSideGone(this.client, true));
    client.on('close', () => this.onSideGone(this.server, false));
    server.on('close', () => this.onSideGone(this.client, false));
  }

  get faults(): LinkFaults {
    return this.info.faults;
  }

  forwarded(up: boolean, n: number): void {
    if (up) this.info.bytesUp += n;
    else this.info.bytesDown += n;
    this.proxy.countForwarded(up, n);
  }

  dropped(n: number): void {
    this.info.droppedBytes += n;
    this.proxy.countDropped(n);
  }

  setFaults(f: Partial<LinkFaults>): void {
    Object.assign(this.info.faults, f);
    this.upPipe.reschedule();
    this.downPipe.reschedule();
    if (!this.faults.blackhole && this.deferredClose) {
      this.deferredClose = false;
      this.client.destroy();
      this.server.destroy();
    }
  }

  cut(mode: CutMode, side: Side): void {
    this.upPipe.clear();
    this.downPipe.clear();
    const rst = (s: net.Socket) => (s.destroyed ? undefined : s.resetAndDestroy());
    const fin = (s: net.Socket) => (s.destroyed ? undefined : s.end());
    const hit = mode === 'rst' ? rst : fin;
    if (side === 'both') {
      hit(this.client);
      hit(this.server);
      return;
    }
    // One side only: the other end is left open and hears nothing more (a half-open connection).
    hit(side === 'client' ? this.client : this.server);
    this.info.faults.blackhole = true;
    this.deferredClose = true;
  }

  destroy(): void {
    this.upPipe.clear();
    this.downPipe.clear();
    this.client.destroy();
    this.server.destroy();
  }

  private onEnd(pipe: Pipe): void {
    if (this.faults.blackhole) {
      this.deferredClose = true;
      return;
    }
    pipe.onEnd();
  }

  private onSideGone(other: net.Socket, error: boolean): void {
    if (this.faults.blackhole) {
      // A black hole carries no news either: the other end finds out by itself (timeouts), or when the hole is lifted.
      this.deferredClose = true;
      this.finishIfBothGone();
      return;
    }
    if (!other.destroyed) {
      if (error) other.resetAndDestroy(); // an abort travels on as an abort
      else {
        other.end(); // an orderly close travels on as FIN, after what is queued
        setTimeout(() => other.destroy(), 2000).unref();
      }
    }
    this.finishIfBothGone();
  }

  private finishIfBothGone(): void {
    if (this.ended || !this.client.destroyed || !this.server.destroyed) return;
    this.ended = true;
    this.upPipe.clear();
    this.downPipe.clear();
    this.proxy.linkClosed(this);
  }
}

/**
 * The proxy. Create with NetFaultProxy.start(); talk to `host:port` instead
 * of the target. Single-threaded (the caller's event loop); safe to call
 * any method at any time, including after close() (then they do nothing).
 */
export class NetFaultProxy extends EventEmitter {
  readonly stats: ProxyStats = { accepted: 0, refused: 0, upstreamFailures: 0, closed: 0, bytesUp: 0, bytesDown: 0, droppedBytes: 0, cuts: 0 };
  /** Faults applied, oldest first (bounded by maxFaultLog). */
  readonly faults: FaultEvent[] = [];
  readonly maxQueuedBytes: number;
  readonly unrefTimers: boolean;
  /** Resolves once the proxy has closed (close() or its lifetime ran out). */
  readonly closed: Promise<void>;

  private readonly links = new Map<number, Link>();
  private nextId = 1;
  private defaults: LinkFaults;
  private lifetime: NodeJS.Timeout | null = null;
  private chaosTimer: NodeJS.Timeout | null = null;
  /** Timers that lift chaos faults; cleared on close so a closed proxy holds no timer. */
  private readonly liftTimers = new Set<NodeJS.Timeout>();
  private isClosed = false;
  private resolveClosed!: () => void;
  private readonly maxFaultLog: number;

  private constructor(
    private readonly server: net.Server,
    private readonly opts: ProxyOptions,
    readonly host: string,
    readonly port: number,
  ) {
    super();
    this.maxQueuedBytes = opts.maxQueuedBytes ?? 4 * 1024 * 1024;
    this.unrefTimers = opts.unref ?? false;
    this.maxFaultLog = opts.maxFaultLog ?? 10_000;
    this.defaults = { delayMs: 0, bytesPerSec: 0, blackhole: false, ...opts.defaults };
    this.closed = new Promise((r) => (this.resolveClosed = r));
  }

  /** Starts listening; resolves once the port is bound. Throws NetFaultError on a non-loopback address or bad options. */
  static async start(opts: ProxyOptions): Promise<NetFaultProxy> {
    const host = opts.host ?? '127.0.0.1';
    if (!isLoopback(host)) throw new NetFaultError('MMO_ERR_NETFAULT_ADDRESS', `proxy listen address ${host} is not in 127.0.0.0/8`);
    if (!isLoopback(opts.target.host)) throw new NetFaultError('MMO_ERR_NETFAULT_ADDRESS', `proxy target ${opts.target.host} is not in 127.0.0.0/8`);
    if (opts.sourceAddress !== undefined && opts.sourceAddress !== 'mirror' && !isLoopback(opts.sourceAddress)) {
      throw new NetFaultError('MMO_ERR_NETFAULT_ADDRESS', `proxy source address ${opts.sourceAddress} is not in 127.0.0.0/8`);
    }
    const lifetimeMs = opts.lifetimeMs ?? 600_000;
    if (!(lifetimeMs > 0 && lifetimeMs <= MAX_LIFETIME_MS)) {
      throw new NetFaultError('MMO_ERR_NETFAULT_OPTIONS', `lifetimeMs must be in (0, ${MAX_LIFETIME_MS}], got ${lifetimeMs}`);
    }
    const max = opts.maxConnections ?? 10_000;
    if (!(Number.isInteger(max) && max >= 1)) throw new NetFaultError('MMO_ERR_NETFAULT_OPTIONS', `maxConnections must be a positive integer, got ${max}`);
    const server = net.createServer({ noDelay: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e) => reject(new NetFaultError('MMO_ERR_NETFAULT_LISTEN', `proxy cannot listen on ${host}:${opts.port ?? 0}: ${e.message}`)));
      server.listen({ host, port: opts.port ?? 0, backlog: 4096 }, () => resolve());
    });
    const port = (server.address() as net.AddressInfo).port;
    const p = new NetFaultProxy(server, opts, host, port);
    server.on('connection', (s) => p.accept(s));
    server.on('error', () => void p.close());
    if (p.unrefTimers) server.unref();
    p.lifetime = setTimeout(() => void p.close(), lifetimeMs);
    if (p.unrefTimers) p.lifetime.unref();
    if (opts.chaos) p.startChaos(opts.chaos);
    return p;
  }

  get size(): number {
    return this.links.size;
  }

  /** Snapshots of the open links (copies). */
  connections(): ConnInfo[] {
    return [...this.links.values()].map((l) => ({ ...l.info, faults: { ...l.info.faults } }));
  }

  /** Cuts links: RST (abortive close) or FIN (orderly), at one or both ends. Returns how many links. */
  cut(sel: ConnSelector, mode: CutMode = 'rst', side: Side = 'both'): number {
    return this.apply(sel, mode, false, (l) => {
      this.stats.cuts++;
      l.cut(mode, side);
    }, side === 'both' ? undefined : side);
  }

  /** Black-holes links (on) or lifts the black hole (off). Returns how many links. */
  blackhole(sel: ConnSelector, on = true): number {
    return this.apply(sel, on ? 'blackhole' : 'clear', false, (l) => l.setFaults({ blackhole: on }));
  }

  /** Sets the one-way delay of links (0 lifts it). */
  delay(sel: ConnSelector, ms: number): number {
    return this.apply(sel, 'delay', false, (l) => l.setFaults({ delayMs: Math.max(0, ms) }), ms);
  }

  /** Limits links to bytesPerSec per direction (0 lifts it). */
  throttle(sel: ConnSelector, bytesPerSec: number): number {
    return this.apply(sel, 'throttle', false, (l) => l.setFaults({ bytesPerSec: Math.max(0, bytesPerSec) }), bytesPerSec);
  }

  /** Lifts every fault of links. */
  clear(sel: ConnSelector): number {
    return this.apply(sel, 'clear', false, (l) => l.setFaults({ delayMs: 0, bytesPerSec: 0, blackhole: false }));
  }

  /** Faults that links opened from now on start with. */
  setDefaults(f: Partial<LinkFaults>): void {
    this.defaults = { ...this.defaults, ...f };
  }

  /** Random faults at random moments on random links (replaces a running chaos). */
  startChaos(c: ChaosOptions): void {
    this.stopChaos();
    if (this.isClosed) return;
    if (!(c.meanIntervalMs > 0)) throw new NetFaultError('MMO_ERR_NETFAULT_OPTIONS', `chaos.meanIntervalMs must be > 0, got ${c.meanIntervalMs}`);
    const rnd = mulberry32(c.seed);
    const weights = Object.entries(c.weights ?? { rst: 1, fin: 1, blackhole: 1 }).filter(([, w]) => (w ?? 0) > 0) as Array<[Exclude<FaultKind, 'clear'>, number]>;
    const total = weights.reduce((s, [, w]) => s + w, 0);
    if (total <= 0) throw new NetFaultError('MMO_ERR_NETFAULT_OPTIONS', 'chaos.weights: at least one kind needs a positive weight');
    const span = (r: [number, number]) => r[0] + rnd() * (r[1] - r[0]);
    let n = 0;
    const next = () => {
      const wait = -Math.log(1 - rnd()) * c.meanIntervalMs;
      this.chaosTimer = setTimeout(fire, wait);
      if (this.unrefTimers) this.chaosTimer.unref();
    };
    const fire = () => {
      this.chaosTimer = null;
      if (this.isClosed) return;
      const ids = [...this.links.keys()];
      if (ids.length > 0) {
        const id = ids[Math.floor(rnd() * ids.length)]!;
        let x = rnd() * total;
        let kind = weights[0]![0];
        for (const [k, w] of weights) {
          if (x < w) {
            kind = k;
            break;
          }
          x -= w;
        }
        this.chaosFault(id, kind, span(c.durationMs ?? [500, 3000]), span(c.delayMs ?? [50, 500]), Math.round(span(c.bytesPerSec ?? [1024, 65536])));
        n++;
      }
      if (c.maxFaults === undefined || n < c.maxFaults) next();
    };
    next();
  }

  stopChaos(): void {
    if (this.chaosTimer) clearTimeout(this.chaosTimer);
    this.chaosTimer = null;
  }

  /** Closes the listener and destroys every link. Idempotent. */
  close(): Promise<void> {
    if (this.isClosed) return this.closed;
    this.isClosed = true;
    this.stopChaos();
    for (const t of this.liftTimers) clearTimeout(t);
    this.liftTimers.clear();
    if (this.lifetime) clearTimeout(this.lifetime);
    for (const l of this.links.values()) l.destroy();
    this.links.clear();
    this.server.close(() => this.resolveClosed());
    this.emit('closed');
    return this.closed;
  }

  // ------------------------------------------------------------ internals

  /** @internal */
  countForwarded(up: boolean, n: number): void {
    if (up) this.stats.bytesUp += n;
    else this.stats.bytesDown += n;
  }

  /** @internal */
  countDropped(n: number): void {
    this.stats.droppedBytes += n;
  }

  /** @internal */
  linkClosed(l: Link): void {
    if (!this.links.delete(l.info.id)) return;
    this.stats.closed++;
    this.emit('close', l.info);
  }

  private accept(client: net.Socket): void {
    if (this.isClosed || this.links.size >= (this.opts.maxConnections ?? 10_000)) {
      this.stats.refused++;
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    this.stats.accepted++;
    const src = this.opts.sourceAddress === 'mirror' ? client.remoteAddress?.replace(/^::ffff:/, '') : this.opts.sourceAddress;
    const upstream = net.connect({
      host: this.opts.target.host,
      port: this.opts.target.port,
      noDelay: true,
      ...(src && isLoopback(src) ? { localAddress: src } : {}),
    });
    const id = this.nextId++;
    const link = new Link(this, id, client, upstream, { ...this.defaults });
    this.links.set(id, link);
    upstream.once('error', () => {
      if (link.info.upstreamPort === 0) this.stats.upstreamFailures++;
    });
    this.emit('connection', link.info);
  }

  private apply(sel: ConnSelector, kind: FaultKind, random: boolean, fn: (l: Link) => void, detail?: number | string): number {
    if (this.isClosed) return 0;
    const chosen: Link[] = [];
    if (sel === 'all') chosen.push(...this.links.values());
    else if (typeof sel === 'number') {
      const l = this.links.get(sel);
      if (l) chosen.push(l);
    } else {
      for (const l of this.links.values()) if (sel(l.info)) chosen.push(l);
    }
    const at = performance.now();
    for (const l of chosen) {
      this.log({ atMs: at, kind, conn: l.info.id, random, ...(detail !== undefined ? { detail } : {}) });
      fn(l);
    }
    return chosen.length;
  }

  private chaosFault(id: number, kind: Exclude<FaultKind, 'clear'>, durationMs: number, delayMs: number, bytesPerSec: number): void {
    const link = this.links.get(id);
    if (!link) return;
    const at = performance.now();
    const lift = (what: Partial<LinkFaults>) => {
      const t = setTimeout(() => {
        this.liftTimers.delete(t);
        if (!this.links.has(id)) return;
        this.log({ atMs: performance.now(), kind: 'clear', conn: id, random: true });
        link.setFaults(what);
      }, durationMs);
      this.liftTimers.add(t);
      if (this.unrefTimers) t.unref();
    };
    switch (kind) {
      case 'rst':
      case 'fin':
        this.log({ atMs: at, kind, conn: id, random: true });
        this.stats.cuts++;
        link.cut(kind, 'both');
        return;
      case 'blackhole':
        this.log({ atMs: at, kind, conn: id, random: true, detail: Math.round(durationMs) });
        link.setFaults({ blackhole: true });
        return lift({ blackhole: false });
      case 'delay':
        this.log({ atMs: at, kind, conn: id, random: true, detail: Math.round(delayMs) });
        link.setFaults({ delayMs });
        return lift({ delayMs: 0 });
      case 'throttle':
        this.log({ atMs: at, kind, conn: id, random: true, detail: bytesPerSec });
        link.setFaults({ bytesPerSec });
        return lift({ bytesPerSec: 0 });
    }
  }

  private log(e: FaultEvent): void {
    this.faults.push(e);
    if (this.faults.length > this.maxFaultLog) this.faults.splice(0, this.faults.length - this.maxFaultLog);
    this.emit('fault', e);
  }
}
