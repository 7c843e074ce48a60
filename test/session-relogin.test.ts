// A player who logs out and straight back in must load the state its last
// session ended with. The final state comes back with the zone's answer to
// the leave (FromZone.left), which may be slower than a database read: the
// service holds the login until it is in. The test plays the zone (the zone
// set is not started: it delivers the zone's records itself) and the
// database (loads and saves are recorded).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { SessionService } from '../src/session/service.js';
import { ZoneSet } from '../src/zone/host.js';
import { FromZone, JoinedRecord } from '../src/zone/records.js';
import { BufferPool } from '../src/pool/index.js';
import { CloseReason, NetStats, type CloseReasonIndex } from '../src/net/stats.js';
import { ClientMessageBuilder } from '../src/protocol/build.js';
import { PROTOCOL_VERSION } from '../src/protocol/version.js';
import { clientVerifyLimits } from '../src/protocol/verify.js';
import { defaultZoneDefs, newPlayerState, encodePlayerState } from '../src/world/index.js';
import { createWorkerLogger } from '../src/log/logger.js';
import type { GatewayLike, Socket } from '../src/net/gateway.js';
import { FakeSocket } from './helpers/fake-socket.js';
import type { Persistence } from '../src/persist/persistence.js';
import type { Accounts } from '../src/persist/accounts.js';
import type { PlayerRecord } from '../src/persist/types.js';
import type { PlayerSnapshot } from '../src/persist/write-queue.js';

test('a login right after a logout waits for the zone to hand back the final state, then loads it', async () => {
  const log = createWorkerLogger('silent', {});
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
      inboundRingBytes: 1 << 16,
      outboundRingBytes: 1 << 16,
      mailboxBytes: 16384,
      faultInjection: false,
      logLevel: 'silent',
      threads: null,
    },
    log,
  );
  zones.hosts[0]!.state = 1; // up: the test plays the zone
  const loads: number[] = [];
  const released: PlayerSnapshot[] = [];
  const record: PlayerRecord = { id: 500, accountId: 5, name: 'vera', zone: zones.hosts[0]!.def.id, x: 10, y: 10, hp: 100, maxHp: 100, xp: 0, level: 1, inventory: [], version: 1, updatedAt: 0 };
  const persistence = {
    loadForLogin: async () => {
      loads.push(performance.now());
      // Read-your-writes, as the real queue serves a released final state before it is written.
      const last = released.at(-1);
      return last ? { ...record, x: last.x, y: last.y } : record;
    },
    release: (_id: number, s: PlayerSnapshot) => void released.push(s),
    markDirty: () => true,
    writeThrough: async () => {},
  } as unknown as Persistence;
  const accounts = {
    verifyToken: () => ({ ok: true, claims: { accountId: 5, name: 'vera', guest: false, expiresAt: Date.now() + 60_000 } }),
  } as unknown as Accounts;
  const service = new SessionService({
    cfg: { zombieTtlMs: 60_000, replay: { maxBytes: 65536, maxAgeMs: 30_000, maxFrames: 64 }, chatPerSec: 10, chatBurst: 10, inputsPerSec: 100, inputBurst: 100, floodStrikes: 100, heldInputsMax: 16, lagBytes: 1 << 20, closeBytes: 1 << 22 },
    admission: { handshakesPerSec: 100, handshakeBurst: 100, resumeReserve: 0.5, perAddressLoginsPerSec: 100, perAddressLoginBurst: 100, perAddressResumesPerSec: 100, perAddressResumeBurst: 100, maxTrackedAddresses: 100 },
    verify: clientVerifyLimits(),
    zones,
    persistence,
    accounts,
    pool: new BufferPool({ pageSize: 16384, pagesPerSet: 4, minPages: 4, maxPages: 64 }),
    registry,
    stats: new NetStats(registry),
    log,
    tickHz: 20,
  });
  const gateway = { closeSocket: (ws: Socket, reason: CloseReasonIndex) => void (ws.getUserData().closeReason = reason) } as unknown as GatewayLike;
  service.attach(gateway);
  const core = service.core;
  const hello = new ClientMessageBuilder().hello(PROTOCOL_VERSION, 'token', null, 'test').slice();
  const settle = () => new Promise((r) => setImmediate(r));

  // Logged in, in the zone.
  const ws1 = new FakeSocket(1);
  core.open(ws1);
  core.message(ws1, hello, 0, hello.length, true);
  await settle();
  assert.equal(loads.length, 1);
  const s = service.registry.findByIdentity({ accountId: 5, name: 'vera', guest: false })!;
  const j = new Uint8Array(JoinedRecord.size);
  JoinedRecord.write(j, 0, 7, 0);
  service.record(0, FromZone.joined, s.id, j, 0, j.length);

  // A deliberate logout: the zone is asked to let the player go; its answer is not in yet.
  core.close(ws1, 1000, CloseReason.client);
  const ws2 = new FakeSocket(2);
  core.open(ws2);
  core.message(ws2, hello, 0, hello.length, true);
  await settle();
  assert.equal(loads.length, 1, 'the second login has not loaded yet: the final state is on its way');

  // The zone answers with where the player really ended: the held login loads that.
  const final = newPlayerState('vera');
  final.x = 88;
  final.y = 99;
  final.hp = 100;
  final.maxHp = 100;
  final.level = 1;
  const buf = new Uint8Array(512);
  const n = encodePlayerState(final, buf, 0);
  service.record(0, FromZone.left, s.id, buf, 0, n);
  await settle();
  assert.equal(released.length, 1);
  assert.equal(released[0]!.x, 88);
  assert.equal(loads.length, 2, 'loaded once the final state was in');
  const again = service.registry.findByIdentity({ accountId: 5, name: 'vera', guest: false })!;
  assert.notEqual(again.id, s.id, 'a new session');
  await zones.stop();
});
