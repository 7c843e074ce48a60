// The one connection of this node to NATS (@nats-io/transport-node), loaded
// only when cluster.natsUrl is set. Reconnects forever: while NATS is away,
// publishes are dropped by the client once its buffer fills, local zones keep
// playing, and everything resumes when it is back (subscriptions are renewed
// by the client). Delivery here is at most once; the record batches between
// nodes are made reliable on top of it (stream.ts). Counts what goes in and
// out for mmo_cluster_nats_*.

import type { Logger } from '../log/logger.js';

interface NatsMsg {
  subject: string;
  reply?: string;
  data: Uint8Array;
}
interface NatsConnection {
  publish(subject: string, payload?: Uint8Array | string, opts?: { reply?: string }): void;
  subscribe(subject: string, opts: { callback: (err: Error | null, msg: NatsMsg) => void }): { unsubscribe(): void };
  status(): AsyncIterable<{ type: string }>;
  flush(): Promise<void>;
  drain(): Promise<void>;
  close(): Promise<void>;
  isClosed(): boolean;
}

export type LinkHandler = (data: Uint8Array, subject: string, reply: string | undefined) => void;

export class NatsLink {
  up = true;
  msgsIn = 0;
  msgsOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  disconnects = 0;
  private readonly statusListeners: Array<(up: boolean) => void> = [];

  private constructor(
    private readonly nc: NatsConnection,
    private readonly log: Logger,
  ) {
    void this.watch();
  }

  /** Connects (throws with code MMO_ERR_CLUSTER_NATS when NATS cannot be reached within timeoutMs). Cold path. */
  static async connect(opts: { url: string; name: string; log: Logger; timeoutMs: number }): Promise<NatsLink> {
    const mod = (await import('@nats-io/transport-node')) as unknown as { connect(o: Record<string, unknown>): Promise<NatsConnection> };
    try {
      const nc = await mod.connect({
        servers: opts.url.split(',').map((s) => s.trim()).filter(Boolean),
        name: opts.name,
        timeout: opts.timeoutMs,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 250,
        reconnectJitter: 100,
        pingInterval: 2000,
        maxPingOut: 2,
      });
      return new NatsLink(nc, opts.log);
    } catch (err) {
      throw Object.assign(new Error(`cannot reach NATS at ${opts.url}: ${(err as Error).message}`), { code: 'MMO_ERR_CLUSTER_NATS' });
    }
  }

  onStatus(fn: (up: boolean) => void): void {
    this.statusListeners.push(fn);
  }

  private async watch(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (s.type === 'disconnect' && this.up) {
        this.up = false;
        this.disconnects++;
        this.log.warn('NATS connection lost; reconnecting (local zones keep playing)');
        for (const f of this.statusListeners) f(false);
      } else if (s.type === 'reconnect' && !this.up) {
        this.up = true;
        this.log.info('NATS connection back');
        for (const f of this.statusListeners) f(true);
      }
    }
  }

  publish(subject: string, data: Uint8Array, reply?: string): void {
    if (this.nc.isClosed()) return;
    try {
      this.nc.publish(subject, data, reply ? { reply } : undefined);
      this.msgsOut++;
      this.bytesOut += data.length;
    } catch (err) {
      // Closed or over the client's buffer while disconnected: the message is lost, like a datagram (record batches are resent by stream.ts).
      this.log.debug({ err, subject }, 'NATS publish failed');
    }
  }

  subscribe(subject: string, handler: LinkHandler): void {
    this.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return this.log.warn({ err, subject }, 'NATS subscription error');
        this.msgsIn++;
        this.bytesIn += msg.data.length;
        try {
          handler(msg.data, msg.subject, msg.reply);
        } catch (e) {
          this.log.error({ err: e, subject: msg.subject }, 'handling a NATS message threw; it is dropped');
        }
      },
    });
  }

  async flush(): Promise<void> {
    if (!this.nc.isClosed() && this.up) await this.nc.flush();
  }

  async close(): Promise<void> {
    if (this.nc.isClosed()) return;
    try {
      await this.nc.drain();
    } catch {
      await this.nc.close();
    }
  }
}
