// Stand-in for a zone another node runs. The session layer talks to it as to
// any zone host (send, reserve/commit): what it is given goes to the owner
// over NATS instead of into a worker's ring, and the owner's answers come
// back through ClusterNode into SessionService.record. No worker, no ticks:
// its state is what the directory says of the owner (up, or down when the
// node is gone or reports the zone down).

import { ZoneHost, ZoneState, type ZoneSet } from '../zone/host.js';
import type { ZoneMemoryHandles } from '../zone/shared.js';
import type { ZoneDef } from '../world/index.js';

/** What a remote host needs from the cluster node. */
export interface RemoteSink {
  /** A ToZone record for zone `host` of session `session`; false when no node owning it is alive. */
  toZone(host: RemoteZoneHost, type: number, session: number, src: Uint8Array | null, offset: number, length: number): boolean;
  /** Why the zone is not reachable, for /readyz. */
  whyDown(host: RemoteZoneHost): string;
}

export class RemoteZoneHost extends ZoneHost {
  override readonly local: boolean = false;
  private pendingType = 0;
  private pendingSession = 0;
  private pendingLength = -1;

  constructor(index: number, def: ZoneDef, memory: ZoneMemoryHandles, set: ZoneSet, private readonly sink: RemoteSink) {
    super(index, def, memory, set);
    this.state = ZoneState.down;
  }

  override readiness(): string | true {
    if (this.state === ZoneState.up) return true;
    return this.state === ZoneState.restarting ? 'restarting on its node' : this.sink.whyDown(this);
  }

  override spawn(): void {
    // Runs elsewhere.
  }

  override send(type: number, session: number, src: Uint8Array | null, offset = 0, length = src ? src.length - offset : 0): boolean {
    // As a local zone: records go on while it restarts (the owner's ring keeps them for the new worker).
    if (this.state !== ZoneState.up && this.state !== ZoneState.restarting) return false;
    // Zone-wide controls (degradation, reconcile, fault injection) belong to the owner's own supervisor.
    if (session === 0) return true;
    return this.sink.toZone(this, type, session, src, offset, length);
  }

  /** The record is built in this host's unused inbound ring memory (no worker reads it) and sent on commit(). */
  override reserve(type: number, session: number, length: number): number {
    if ((this.state !== ZoneState.up && this.state !== ZoneState.restarting) || length > this.inbound.data.length) return -1;
    this.pendingType = type;
    this.pendingSession = session;
    this.pendingLength = length;
    return 0;
  }

  override commit(): void {
    if (this.pendingLength < 0) return;
    const n = this.pendingLength;
    this.pendingLength = -1;
    this.send(this.pendingType, this.pendingSession, this.inbound.data, 0, n);
  }

  override async stop(): Promise<void> {
    this.state = ZoneState.stopped;
  }

  override checkHeartbeat(): void {
    // The owner supervises it.
  }

  override terminate(): boolean {
    return false;
  }

  /** Set by the cluster node from the directory. */
  setReachable(up: boolean): void {
    if (this.state === ZoneState.stopped) return;
    this.state = up ? ZoneState.up : ZoneState.down;
  }

  /** The owner is restarting it from a checkpoint: not up, but its players stay (set by the cluster node). */
  setRecovering(): void {
    if (this.state !== ZoneState.stopped) this.state = ZoneState.restarting;
  }
}
