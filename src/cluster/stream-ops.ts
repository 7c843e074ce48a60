// The record streams as operators see them: their mmo_cluster_link_*
// metrics, their line in GET /cluster, and the debug hook that makes the
// link lose messages on purpose (debug.faultInjection). Cold path.

import type { Registry } from 'prom-client';
import { PullCounter, PullGauge } from '../metrics/hot.js';
import { sendJson, type Route } from '../net/http.js';
import type { PeerStreams } from './stream.js';

export function registerStreamMetrics(registry: Registry, s: PeerStreams): void {
  new PullCounter(registry, 'mmo_cluster_link_resent_batches_total', 'Record batches published again to a peer: it reported a gap (NACK), or nothing was acknowledged within the resend timeout.', () => s.resent);
  new PullCounter(registry, 'mmo_cluster_link_resend_timeouts_total', 'Times nothing sent to a peer was acknowledged within the resend timeout (250 ms, doubling to 2 s): its batches were sent again from the oldest unacknowledged.', () => s.timeouts);
  new PullCounter(registry, 'mmo_cluster_link_gaps_total', 'Batches missing in a peer\'s stream to this node (lost by NATS), each asked for again once.', () => s.gaps);
  new PullCounter(registry, 'mmo_cluster_link_duplicates_total', 'Batches from a peer dropped because they had been delivered already (a resend that crossed an ack).', () => s.duplicates);
  new PullCounter(registry, 'mmo_cluster_link_resets_total', 'Record streams with a peer started afresh because records were lost for good (the peer restarted, or fell too far behind): the peer was treated as gone until its next heartbeat.', () => s.resets);
  new PullCounter(registry, 'mmo_cluster_link_overflows_total', 'Of those resets, the ones where the resend buffer for a peer was full (4096 batches or 16 MiB unacknowledged).', () => s.overflows);
  new PullCounter(registry, 'mmo_cluster_link_malformed_total', 'Messages on this node\'s record subjects that are not batches of this version (dropped).', () => s.malformed);
  new PullGauge(registry, 'mmo_cluster_link_unacked_bytes', 'Bytes of record batches kept for resending until their peers acknowledge them.', () => s.unackedBytes);
}

export function streamStatus(s: PeerStreams): Record<string, number> {
  return { resent: s.resent, timeouts: s.timeouts, gaps: s.gaps, duplicates: s.duplicates, resets: s.resets, overflows: s.overflows, malformed: s.malformed, unackedBytes: s.unackedBytes, dropEvery: s.dropEvery, dropped: s.dropped };
}

/** POST /debug/cluster/link-fault?dropEvery=k: drop every k-th record batch or ack this node publishes (0: stop). Tests and game days only. */
export function linkFaultRoute(s: PeerStreams): Route {
  return {
    method: 'post',
    path: '/debug/cluster/link-fault',
    handler: (res, req) => {
      const k = Number(req.getQuery('dropEvery'));
      if (!(Number.isInteger(k) && k >= 0 && k <= 1_000_000) || k === 1) return sendJson(res, 400, { error: 'need dropEvery=0 (off) or 2..1000000' });
      s.dropEvery = k;
      sendJson(res, 200, { dropEvery: k });
    },
  };
}
