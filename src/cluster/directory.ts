// Which node runs which zone, as every node hears it: each node announces
// its owned zones, the ones up, and its load on `mmo.hb` every
// cluster.heartbeatMs; every node keeps this table from those heartbeats. A
// node not heard from for cluster.nodeTimeoutMs (or that said goodbye) is
// gone, and so are its zones. No election, no central registry: the table is
// the same on every node within one heartbeat. Pure logic on a given clock.

import { decodeJson, encodeJson } from './json-message.js';

export interface Heartbeat {
  v: 1;
  node: string;
  /** Increases with each heartbeat of one process; a restarted node starts again (its `boot` changes). */
  seq: number;
  boot: number;
  owned: number[];
  up: number[];
  /** Owned zones starting or restarting from a checkpoint (not up yet, not down for good). */
  recovering?: number[];
  sessions: number;
  proxies: number;
  /** Event-loop utilisation of the node's main thread since its last heartbeat, 0..1. */
  elu: number;
  /** Set in the last heartbeat of a node shutting down. */
  bye?: boolean;
  /** The node's public WebSocket URL (cluster.publicUrl): where a resume of one of its sessions is sent. Empty until it listens. */
  url?: string;
}

export interface NodeEntry {
  id: string;
  alive: boolean;
  lastSeen: number;
  /** Ms of this process's own stalls credited to the node since it was last heard (see sweep); at most the timeout. */
  credit: number;
  boot: number;
  owned: number[];
  up: Set<number>;
  recovering: Set<number>;
  sessions: number;
  proxies: number;
  elu: number;
  /** Its public WebSocket URL, '' when it announced none. */
  url: string;
}

/** Reads a heartbeat from the wire; null when it is not one (a bad peer must not break the table). */
export function parseHeartbeat(bytes: Uint8Array): Heartbeat | null {
  const h = decodeJson(bytes) as Partial<Heartbeat> | null;
  if (!h || h.v !== 1 || typeof h.node !== 'string' || !Array.isArray(h.owned) || !Array.isArray(h.up)) return null;
  if (!h.owned.every(Number.isInteger) || !h.up.every(Number.isInteger)) return null;
  const recovering = Array.isArray(h.recovering) ? h.recovering.filter(Number.isInteger) : [];
  return { v: 1, node: h.node, seq: Number(h.seq) || 0, boot: Number(h.boot) || 0, owned: h.owned, up: h.up, recovering, sessions: Number(h.sessions) || 0, proxies: Number(h.proxies) || 0, elu: Number(h.elu) || 0, bye: h.bye === true, url: typeof h.url === 'string' && /^wss?:\/\/\S+$/.test(h.url) ? h.url : '' };
}

export function encodeHeartbeat(h: Heartbeat): Uint8Array {
  return encodeJson(h);
}

export class Directory {
  readonly nodes = new Map<string, NodeEntry>();
  /** zone id -> the alive node that owns it (recomputed on every change). */
  private owners = new Map<number, string>();
  /** Zones two alive nodes claim, for the log and /cluster. */
  conflicts: number[] = [];

  constructor(
    readonly self: string,
    readonly timeoutMs: number,
    /** A node appeared, came back, or went (cold path). */
    private readonly onChange: (node: string, alive: boolean) => void = () => undefined,
  ) {}

  /** A heartbeat arrived at `now`. */
  note(h: Heartbeat, now: number): void {
    if (h.node === this.self) return;
    let e = this.nodes.get(h.node);
    if (h.bye) {
      if (e && e.alive && e.boot === h.boot) this.markGone(e);
      return;
    }
    const wasAlive = e?.alive ?? false;
    if (!e) {
      e = { id: h.node, alive: true, lastSeen: now, credit: 0, boot: h.boot, owned: h.owned, up: new Set(h.up), recovering: new Set(h.recovering ?? []), sessions: h.sessions, proxies: h.proxies, elu: h.elu, url: h.url ?? '' };
      this.nodes.set(h.node, e);
    } else {
      e.alive = true;
      e.lastSeen = now;
      e.credit = 0;
      e.boot = h.boot;
      e.owned = h.owned;
      e.up = new Set(h.up);
      e.recovering = new Set(h.recovering ?? []);
      e.sessions = h.sessions;
      e.proxies = h.proxies;
      e.elu = h.elu;
      e.url = h.url ?? '';
    }
    this.recompute();
    if (!wasAlive) this.onChange(h.node, true);
  }

  /** When the last sweep ran (-1: none yet). */
  private lastSweep = -1;

  /**
   * Marks gone every node silent for longer than the timeout, counting only
   * the time this process was running. Sweeps come every timeout/20; when
   * two are more than timeout/4 apart this process itself was stalled (CPU
   * starvation, a long GC, a blocked loop), and a peer's heartbeats from that
   * time may be waiting unread in the NATS socket: timers run before I/O, so
   * without this a starved node would declare every peer dead on waking and
   * end their players' crossings. The stall is credited to each node, up to
   * the timeout in all until it is heard again, so a node that really died
   * is gone within two timeouts however starved this process is.
   */
  sweep(now: number): void {
    const gap = this.lastSweep < 0 ? 0 : now - this.lastSweep;
    this.lastSweep = now;
    const stall = gap > this.timeoutMs / 4 ? gap - this.timeoutMs / 20 : 0;
    for (const e of this.nodes.values()) {
      if (!e.alive) continue;
      if (stall > 0 && e.credit < this.timeoutMs) {
        const c = Math.min(stall, this.timeoutMs - e.credit);
        e.credit += c;
        e.lastSeen += c;
      }
      if (now - e.lastSeen > this.timeoutMs) this.markGone(e);
    }
  }

  /** Marks an alive node gone now (its record stream was reset, stream.ts); true if it was alive. Its next heartbeat brings it back. */
  forget(node: string): boolean {
    const e = this.nodes.get(node);
    if (!e?.alive) return false;
    this.markGone(e);
    return true;
  }

  private markGone(e: NodeEntry): void {
    e.alive = false;
    e.up = new Set();
    e.recovering = new Set();
    this.recompute();
    this.onChange(e.id, false);
  }

  private recompute(): void {
    const owners = new Map<number, string>();
    const conflicts = new Set<number>();
    const ids = [...this.nodes.values()].filter((e) => e.alive).map((e) => e.id).sort();
    for (const id of ids) {
      for (const z of this.nodes.get(id)!.owned) {
        if (owners.has(z)) conflicts.add(z);
        else owners.set(z, id);
      }
    }
    this.owners = owners;
    this.conflicts = [...conflicts].sort((a, b) => a - b);
  }

  /** The alive node running zone `id`, or undefined. */
  ownerOf(zoneId: number): string | undefined {
    return this.owners.get(zoneId);
  }

  /** True when an alive node owns the zone and reports it up. */
  isZoneUp(zoneId: number): boolean {
    const o = this.owners.get(zoneId);
    return o !== undefined && this.nodes.get(o)!.up.has(zoneId);
  }

  /** True when an alive node owns the zone and reports it starting or restarting (not up yet, not down for good). */
  isZoneRecovering(zoneId: number): boolean {
    const o = this.owners.get(zoneId);
    return o !== undefined && this.nodes.get(o)!.recovering.has(zoneId);
  }

  alive(): string[] {
    return [...this.nodes.values()].filter((e) => e.alive).map((e) => e.id);
  }

  /** The public WebSocket URL of an alive node, or '' (gone, or announced none). */
  urlOf(node: string): string {
    const e = this.nodes.get(node);
    return e?.alive ? e.url : '';
  }

  isAlive(node: string): boolean {
    return this.nodes.get(node)?.alive ?? false;
  }
}
