// The Hello deadline: a socket that upgrades and then says nothing valid is
// closed with 4202 once sessions.helloDeadlineMs has passed; one that said
// Hello (or Resume) is never touched. The sweep is checked on a fake clock,
// then the whole path against the real server at 127.0.0.1, with the sockets
// on the main thread and on two gateway threads.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { HelloDeadline } from '../src/session/hello-deadline.js';
import { CloseCode, isRetryable } from '../src/protocol/close-codes.js';
import { startServer, metricValue, type TestServer } from './helpers/server.js';
import { RawClient } from './helpers/raw-client.js';

interface FakeSocket {
  id: number;
  pending: boolean;
}

function harness(deadlineMs: number, registry: Registry | null = null) {
  const expired: number[] = [];
  const d = new HelloDeadline<FakeSocket>(
    deadlineMs,
    {
      isPending: (ws) => ws.pending,
      expire: (ws) => {
        ws.pending = false;
        expired.push(ws.id);
      },
    },
    registry,
  );
  return { d, expired };
}

describe('HelloDeadline on a fake clock', () => {
  test('closes a socket once its deadline has passed, not a millisecond before', () => {
    const { d, expired } = harness(5000);
    const a = { id: 1, pending: true };
    d.add(a, 1000);
    assert.equal(d.sweep(5999), 0);
    assert.deepEqual(expired, []);
    assert.equal(d.sweep(6000), 1);
    assert.deepEqual(expired, [1]);
    assert.equal(d.tracked, 0, 'the entry is gone after its deadline');
    assert.equal(d.sweep(100_000), 0, 'closed once only');
  });

  test('a socket that said Hello (or closed) before its deadline is dropped untouched', () => {
    const { d, expired } = harness(1000);
    const said = { id: 1, pending: true };
    const silent = { id: 2, pending: true };
    d.add(said, 0);
    d.add(silent, 10);
    said.pending = false;
    assert.equal(d.sweep(2000), 1);
    assert.deepEqual(expired, [2]);
    assert.equal(d.timeouts, 1);
  });

  test('sweeps in opening order and stops at the first socket still in time', () => {
    const { d, expired } = harness(100);
    for (let i = 0; i < 10; i++) d.add({ id: i, pending: true }, i * 10);
    assert.equal(d.sweep(145), 5); // opened at 0..40: deadlines 100..140
    assert.deepEqual(expired, [0, 1, 2, 3, 4]);
    assert.equal(d.tracked, 5);
    assert.equal(d.sweep(1000), 5);
    assert.deepEqual(expired, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  test('grows past its initial capacity while entries wrap around, keeping the order', () => {
    const { d, expired } = harness(10);
    let id = 0;
    // Wrap the head first: add and expire 700, then hold 3000 at once.
    for (; id < 700; id++) d.add({ id, pending: true }, 0);
    assert.equal(d.sweep(10), 700);
    const start = id;
    for (; id < start + 3000; id++) d.add({ id, pending: true }, 100 + (id - start) * 0.001);
    assert.equal(d.tracked, 3000);
    assert.equal(d.sweep(200), 3000);
    for (let k = 0; k < expired.length; k++) assert.equal(expired[k], k, `position ${k}`);
  });

  test('0 disables it: nothing is tracked or closed', () => {
    const { d, expired } = harness(0);
    d.add({ id: 1, pending: true }, 0);
    assert.equal(d.tracked, 0);
    assert.equal(d.sweep(1e12), 0);
    assert.deepEqual(expired, []);
  });

  test('counts closures in mmo_session_hello_timeouts_total', async () => {
    const reg = new Registry();
    const { d } = harness(50, reg);
    d.add({ id: 1, pending: true }, 0);
    d.add({ id: 2, pending: true }, 0);
    d.add({ id: 3, pending: false }, 0);
    d.sweep(50);
    const text = await reg.metrics();
    assert.match(text, /^mmo_session_hello_timeouts_total 2$/m);
  });

  test('a negative deadline is refused with the key named', () => {
    assert.throws(() => harness(-1), /helloDeadlineMs must be >= 0/);
  });

  test('4202 is a retryable close code (reconnect and say Hello at once)', () => {
    assert.equal(CloseCode.helloTimeout, 4202);
    assert.equal(isRetryable(CloseCode.helloTimeout), true);
  });
});

const DEADLINE_MS = 600;

for (const threads of [null, 2] as const) {
  describe(`Hello deadline against the real server (${threads === null ? 'default gateway threads' : `net.gatewayThreads=${threads}`})`, () => {
    let s: TestServer;
    before(async () => {
      s = await startServer({
        args: ['--zones.count=1', '--zones.npcsPerZone=0', `--sessions.helloDeadlineMs=${DEADLINE_MS}`, ...(threads === null ? [] : [`--net.gatewayThreads=${threads}`])],
      });
    });
    after(async () => {
      await s.stop();
    });

    test('a silent socket and one that only pings are closed with 4202; a player who said Hello stays', async () => {
      const t0 = performance.now();
      const player = await RawClient.open(s.wsUrl, { localAddress: '127.0.0.1' });
      player.hello('hdplayer');
      await player.welcome();
      const silent = await RawClient.open(s.wsUrl, { localAddress: '127.0.0.2' });
      const pinger = await RawClient.open(s.wsUrl, { localAddress: '127.0.0.3' });
      const pings = setInterval(() => pinger.ws.ping(), 100);
      try {
        await silent.until(() => silent.closed !== null, 5000, 'silent socket closed');
        await pinger.until(() => pinger.closed !== null, 5000, 'pinging socket closed');
      } finally {
        clearInterval(pings);
      }
      const elapsed = performance.now() - t0;
      assert.equal(silent.closed!.code, CloseCode.helloTimeout, `silent: ${JSON.stringify(silent.closed)}`);
      assert.equal(pinger.closed!.code, CloseCode.helloTimeout, `pinger: ${JSON.stringify(pinger.closed)}`);
      assert.ok(elapsed >= DEADLINE_MS - 50, `closed after ${elapsed.toFixed(0)} ms, before the ${DEADLINE_MS} ms deadline`);
      assert.ok(silent.messages().some((m) => m.type === 'kicked'), 'told why before the close');
      // Well past the deadline, the player is still connected and still answered.
      await new Promise((r) => setTimeout(r, DEADLINE_MS));
      assert.equal(player.closed, null, 'the player who said Hello was not closed');
      const before = player.frames.length;
      player.send(player.b.ping(12345));
      await player.until(() => player.messages().some((m) => m.type === 'pong'), 5000, 'pong');
      assert.ok(player.frames.length > before);
      assert.equal(await metricValue(s.url, 'mmo_session_hello_timeouts_total'), 2);
      player.close();
    });

    test('a refused resume is closed for what it is (4101), not counted as a Hello timeout', async () => {
      const c = await RawClient.open(s.wsUrl, { localAddress: '127.0.0.4' });
      const beforeCount = (await metricValue(s.url, 'mmo_session_hello_timeouts_total')) ?? 0;
      c.resume(999_999, new Uint8Array(32), 0);
      await c.until(() => c.closed !== null, 5000, 'resume refused');
      assert.equal(c.closed!.code, CloseCode.resumeRefused);
      await new Promise((r) => setTimeout(r, DEADLINE_MS + 400));
      assert.equal(await metricValue(s.url, 'mmo_session_hello_timeouts_total'), beforeCount);
    });
  });
}
