// On the node that owns a zone: the players of other nodes' gateways inside
// it. Each gets a proxy session id with the top bit set (local session ids
// stay below 2^31, session/registry.ts), so the zone's output for it is told
// apart with one comparison and sent back to its gateway node. A proxy lives
// while it is in at least one of this node's zones: from the join until the
// zone's `left` (logout) or `fenceAck` (handed off through a portal).

export const PROXY_BIT = 0x8000_0000;

export class Proxy {
  /** Zone indexes (this node's) the player is in: two during a handoff between two zones of this node. */
  readonly zones = new Set<number>();
  /** Zone indexes that were sent a fence for this player and have not answered it (a restart answers for them). */
  readonly fencing = new Set<number>();
  entity = 0;
  /** Last FromZone.state payload, to rejoin the player if its zone restarts here. */
  state: Uint8Array = new Uint8Array(0);
  stateLen = 0;

  constructor(
    readonly id: number,
    readonly node: string,
    readonly session: number,
  ) {}
}

export class Proxies {
  private readonly byNode = new Map<string, Map<number, Proxy>>();
  private readonly byId = new Map<number, Proxy>();
  private next = 1;

  get size(): number {
    return this.byId.size;
  }

  get(node: string, session: number): Proxy | undefined {
    return this.byNode.get(node)?.get(session);
  }

  /** The proxy of a (gateway node, session), made on its first join. Cold path. */
  join(node: string, session: number): Proxy {
    let m = this.byNode.get(node);
    if (!m) this.byNode.set(node, (m = new Map()));
    let p = m.get(session);
    if (p) return p;
    let id: number;
    do {
      id = (PROXY_BIT | this.next) >>> 0;
      this.next = this.next >= 0x7fff_ffff ? 1 : this.next + 1;
    } while (this.byId.has(id));
    p = new Proxy(id, node, session);
    m.set(session, p);
    this.byId.set(id, p);
    return p;
  }

  byProxyId(id: number): Proxy | undefined {
    return this.byId.get(id);
  }

  /** The player left zone `zone` here; forgets the proxy when it is in none. */
  leftZone(p: Proxy, zone: number): void {
    p.zones.delete(zone);
    p.fencing.delete(zone);
    if (p.zones.size > 0) return;
    this.byId.delete(p.id);
    const m = this.byNode.get(p.node);
    m?.delete(p.session);
    if (m && m.size === 0) this.byNode.delete(p.node);
  }

  /** Every proxy of a node's gateway (it is gone: its players are taken out). */
  ofNode(node: string): Proxy[] {
    return [...(this.byNode.get(node)?.values() ?? [])];
  }

  inZone(zone: number): Proxy[] {
    return [...this.byId.values()].filter((p) => p.zones.has(zone));
  }
}
