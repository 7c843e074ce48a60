// The gateway's two hot paths, without sockets or worker threads:
//
//   inbound   SessionCore.message(): verify a Move, dedupe by seq, rate
//             limit, copy into the zone's ring
//   outbound  SessionCore.zoneRecord() + drained(): stage a zone's Delta for a
//             session, compose its frame, keep it for replay, send it (corked)
//
// Each is measured in ops/s (messages) and JS-heap bytes allocated per
// message in steady state. The inbound path's floor is the Uint8Array view it
// must make over uWS's ArrayBuffer; the baseline line measures exactly that.
//
// Sessions are guests made directly in the registry (no database); sockets are
// objects with uWS's WebSocket methods that count what they are sent.

import { Registry } from 'prom-client';
import { pino } from 'pino';
import { measureSync, heapBytesPerOp, report } from './harness.js';
import { SessionService } from '../../src/session/service.js';
import { ZoneSet } from '../../src/zone/host.js';
import { FromZone } from '../../src/zone/records.js';
import { SpscRing } from '../../src/ring/index.js';
import { BufferPool } from '../../src/pool/index.js';
import { NetStats } from '../../src/net/stats.js';
import { ClientMessageBuilder, DeltaBuilder } from '../../src/protocol/build.js';
import { clientVerifyLimits } from '../../src/protocol/verify.js';
import { defaultZoneDefs } from '../../src/world/index.js';
import type { Socket } from '../../src/net/gateway.js';
import type { Persistence } from '../../src/persist/persistence.js';
import type { Accounts } from '../../src/persist/accounts.js';

const SESSIONS = 1000;
const log = pino({ level: 'silent' });
const registry = new Registry();
const zones = new ZoneSet(
  {
    defs: defaultZoneDefs(1, { npcsPerZone: 0 }),
    tickHz: 20,
    checkpointIntervalMs: 1000,
    stateIntervalMs: 1000,
    maxRestarts: 1,
    restartWindowMs: 1000,
    heartbeatTimeoutMs: 1000,
    heapLimitMb: 64,
    inboundRingBytes: 4 * 1024 * 1024,
    outboundRingBytes: 65536,
    mailboxBytes: 16384,
    faultInjection: false,
    logLevel: 'silent',
    threads: null,
  },
  log,
);
const pool = new BufferPool({ pageSize: 16384, pagesPerSet: 64, minPages: 64, maxPages: 65536 });
const stats = new NetStats(registry);
const service = new SessionService({
  cfg: {
    zombieTtlMs: 60_000,
    replay: { maxBytes: 131072, maxAgeMs: 30_000, maxFrames: 64 },
    chatPerSec: 1,
    chatBurst: 5,
    inputsPerSec: 1e9,
    inputBurst: 1e9,
    floodStrikes: 1e9,
    heldInputsMax: 256,
    lagBytes: 1 << 30,
    closeBytes: 1 << 30,
  },
  admission: { handshakesPerSec: 1, handshakeBurst: 1, resumeReserve: 0.5, perAddressLoginsPerSec: 1, perAddressLoginBurst: 1, perAddressResumesPerSec: 1, perAddressResumeBurst: 1, maxTrackedAddresses: 100 },
  verify: clientVerifyLimits(),
  zones,
  persistence: {} as Persistence,
  accounts: {} as Accounts,
  pool,
  registry,
  stats,
  log,
  tickHz: 20,
});

let sentBytes = 0;
function fakeSocket(id: number, attachment: unknown): Socket {
  const data = { id, ip: '127.0.0.1', closeReason: -1, open: true, attachment, service: null };
  const ws = {
    getUserData: () => data,
    cork(fn: () => void) {
      fn();
      return ws;
    },
    send(b: Uint8Array) {
      sentBytes += b.byteLength;
      return 1;
    },
    getBufferedAmount: () => 0,
    end() {},
    close() {},
  };
  return ws as unknown as Socket;
}

// Guests logged in straight on the main thread's owner (the join it writes is drained unread below).
const joinBytes = new Uint8Array(16);
const sessions = Array.from({ length: SESSIONS }, (_, i) => {
  const ws = fakeSocket(i + 1, null);
  service.core.open(ws);
  const id = 1000 + i;
  service.core.login(i + 1, id, { name: `bench${i}`, accountId: 0x8000_0000 + i, guest: true }, 0, new Uint8Array(16), joinBytes, 0, joinBytes.length);
  const s = service.core.sessions.get(id)!;
  s.entity = 1000 + i;
  s.pendingWelcome = false;
  return { s, ws };
});
zones.commitPending();
new SpscRing(zones.hosts[0]!.memory.inbound, 0).drain(() => {});

// ---- inbound: a Move per call, the zone's side drained as a zone would.
const zoneSide = new SpscRing(zones.hosts[0]!.memory.inbound, 0);
const drainNoop = (): void => {};
const b = new ClientMessageBuilder();
// Built once: each session's seq is reset before its message is sent again,
// so the measured calls are accepted inputs, not duplicates.
const moves = sessions.map((_, j) => {
  const m = b.move(1, 100 + (j % 50), 200);
  return new Uint8Array(m.buffer.slice(m.byteOffset, m.byteOffset + m.byteLength));
});
let k = 0;
function inboundOnce(): void {
  const i = k++ % SESSIONS;
  if (i === 0) {
    zones.commitPending(); // what the end of an event-loop turn does
    zoneSide.drain(drainNoop);
  }
  const { s, ws } = sessions[i]!;
  s.inSeq = 0;
  const mv = moves[i]!;
  service.message(ws, mv, 0, mv.length, true);
}

const inboundRate = measureSync(inboundOnce, { rounds: 7, roundMs: 300 });
const inboundHeap = heapBytesPerOp(inboundOnce, 200_000);
report({ name: 'gateway.inbound.move', opsPerSec: inboundRate.opsPerSec, heapBytesPerOp: inboundHeap, note: 'verify, dedupe, rate limit, copy into the zone ring' });

// Baseline: the one allocation the inbound path cannot avoid (a view over uWS's ArrayBuffer).
const ab = moves[0]!.buffer;
let sink = 0;
const viewOnce = (): void => {
  sink += new Uint8Array(ab).length;
};
report({ name: 'gateway.inbound.baseline.view', opsPerSec: measureSync(viewOnce).opsPerSec, heapBytesPerOp: heapBytesPerOp(viewOnce, 200_000), sink });

// ---- outbound: one Delta per session per flush (a zone tick), composed and sent.
const delta = new DeltaBuilder();
delta.begin(1);
for (let e = 0; e < 16; e++) delta.addUpdate(5000 + e, 100 + e, 200, 100, 0, 0);
const dlen = delta.finishRaw();
const dbytes = delta.bytes.slice(delta.start, delta.start + dlen);
function tickOnce(): void {
  for (let i = 0; i < SESSIONS; i++) service.core.zoneRecord(0, FromZone.outDelta, sessions[i]!.s.id, dbytes, 0, dlen);
  service.drained();
  // The client acks what it got, as the SDK does about once a second: keep the replay buffers bounded.
  for (let i = 0; i < SESSIONS; i++) {
    const s = sessions[i]!.s;
    s.replay.ackThrough(s.outSeq - 1);
  }
}
const outRate = measureSync(tickOnce, { opsPerCall: SESSIONS, rounds: 7, roundMs: 300 });
const outHeap = heapBytesPerOp(tickOnce, SESSIONS * 200, SESSIONS);
report({
  name: 'gateway.outbound.delta',
  opsPerSec: outRate.opsPerSec,
  heapBytesPerOp: outHeap,
  deltaBytes: dlen,
  note: 'stage, compose one frame per session, keep for replay, send corked',
  sentMB: Math.round(sentBytes / 1e6),
});
await zones.stop();
