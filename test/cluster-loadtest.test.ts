// The cluster load-test scenario, small: two nodes over nats-server and
// PostgreSQL, bots walking through portal after portal (each crossing
// changes node). It must see crossings between nodes with nothing lost,
// doubled or left unacknowledged, no unexpected disconnect, and NATS
// traffic on both nodes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runClusterLoad } from '../loadtest/cluster.js';

test('cluster scenario: 2 nodes, bots crossing between them: nothing lost or doubled', { timeout: 120_000 }, async (t) => {
  const r = await runClusterLoad({ nodes: 2, clients: 10, durationSec: 8, zones: 2, zoneSize: 128, log: () => undefined });
  t.diagnostic(JSON.stringify(r));
  assert.deepEqual(r.failures, []);
  assert.equal(r.pass, true);
  assert.ok(r.crossNodeCrossings >= 10, `crossings between nodes: ${r.crossNodeCrossings}`);
  assert.equal(r.crossNodeCrossings, r.crossings, 'with 2 zones on 2 nodes every crossing changes node');
  assert.equal(r.handoffMs.n, r.crossings, 'every crossing timed');
  assert.equal(r.lostInputs + r.doubledInputs + r.unackedInputs + r.unexpectedDisconnects, 0);
  for (const n of r.natsMsgsPerSecPerNode) assert.ok(n.in > 0 && n.out > 0, `NATS traffic on ${n.node}`);
  assert.ok(r.link, 'the record streams\' counters are reported');
  assert.equal(r.link.resets, 0, 'no record stream reset');
});
