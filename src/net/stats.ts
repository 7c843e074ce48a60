// Gateway counters. The hot path bumps typed-array slots; prom-client reads
// them when /metrics is scraped (see metrics/hot.ts).

import type { Registry } from 'prom-client';
import { HotCounter, HotHistogram, MetricArena } from '../metrics/hot.js';

/** Why a socket closed, as the `reason` label of mmo_ws_closes_total. Index = label slot. */
export const CloseReason = {
  /** The client closed the socket with a close frame. */
  client: 0,
  /** The connection dropped without a close frame (network loss, killed client, idle timeout). */
  lost: 1,
  /** A frame over net.maxPayloadLength. */
  tooBig: 2,
  /** Server shutdown. */
  shutdown: 3,
  /** A malformed or unverifiable frame. */
  malformed: 4,
  /** Outbound backlog past the hard limit. */
  slowConsumer: 5,
  /** A second login took the session over. */
  takenOver: 6,
  /** Flood / rate limit exceeded. */
  flood: 7,
  /** Resume or authentication refused. */
  refused: 8,
  /** Kicked by the server (zone down, admin). */
  kicked: 9,
} as const;
export type CloseReasonIndex = (typeof CloseReason)[keyof typeof CloseReason];
const CLOSE_REASON_LABELS = Object.keys(CloseReason).map((reason) => ({ reason }));

/** uWS reports a dropped socket as 1006 with this text when the frame was too big. */
const TOO_BIG_TEXT = 'Received too big message';

/** Classifies a close the server did not initiate. Cold-ish path: once per socket. */
export function classifyClose(code: number, message: ArrayBuffer): CloseReasonIndex {
  if (code === 1006) {
    return message.byteLength === TOO_BIG_TEXT.length && Buffer.from(message).toString('latin1') === TOO_BIG_TEXT
      ? CloseReason.tooBig
      : CloseReason.lost;
  }
  return CloseReason.client;
}

export class NetStats {
  readonly packetsIn: HotCounter;
  readonly bytesIn: HotCounter;
  readonly packetsOut: HotCounter;
  readonly bytesOut: HotCounter;
  readonly sendBatches: HotCounter;
  readonly packetsPerBatch: HotHistogram;
  readonly backpressureDrops: HotCounter;
  readonly closes: HotCounter;
  readonly opens: HotCounter;
  /** Exceptions the session layer threw on a socket's event (each closed that socket only). */
  readonly handlerErrors: HotCounter;
  /** Sockets open right now (kept by the gateway, read by a gauge). */
  open = 0;

  /**
   * `registry` null: a gateway thread's stats, counted into `arena` (shared
   * memory) and added to the main thread's by NetStats.addSource.
   */
  constructor(registry: Registry | null, arena: MetricArena = new MetricArena()) {
    this.packetsIn = new HotCounter(registry, 'mmo_net_packets_in_total', 'WebSocket messages received from clients.', [{}], arena);
    this.bytesIn = new HotCounter(registry, 'mmo_net_bytes_in_total', 'WebSocket payload bytes received from clients.', [{}], arena);
    this.packetsOut = new HotCounter(registry, 'mmo_net_packets_out_total', 'Protocol messages sent to clients (several per frame when batched).', [{}], arena);
    this.bytesOut = new HotCounter(registry, 'mmo_net_bytes_out_total', 'WebSocket payload bytes sent to clients.', [{}], arena);
    this.sendBatches = new HotCounter(registry, 'mmo_net_send_batches_total', 'WebSocket frames sent, each carrying one flush worth of messages for one session.', [{}], arena);
    this.packetsPerBatch = new HotHistogram(
      registry,
      'mmo_net_packets_per_batch',
      'Protocol messages per outbound WebSocket frame (gathered send).',
      [1, 2, 4, 8, 16, 32, 64, 128, 256],
      [{}],
      arena,
    );
    this.backpressureDrops = new HotCounter(registry, 'mmo_net_backpressure_drops_total', 'Outbound frames dropped because the socket was over net.maxBackpressure.', [{}], arena);
    this.closes = new HotCounter(registry, 'mmo_ws_closes_total', 'WebSocket closes by reason.', CLOSE_REASON_LABELS, arena);
    this.opens = new HotCounter(registry, 'mmo_ws_opens_total', 'WebSocket connections accepted.', [{}], arena);
    this.handlerErrors = new HotCounter(registry, 'mmo_net_handler_errors_total', 'Exceptions thrown while handling a socket event (message, open, drain, close); each closed that socket only.', [{}], arena);
  }

  /** Adds a gateway thread's stats (its arena, taken in the constructor's order) to these. */
  addSource(arena: MetricArena): void {
    for (const c of [this.packetsIn, this.bytesIn, this.packetsOut, this.bytesOut, this.sendBatches]) c.addSource(arena);
    this.packetsPerBatch.addSource(arena);
    for (const c of [this.backpressureDrops, this.closes, this.opens, this.handlerErrors]) c.addSource(arena);
  }
}
