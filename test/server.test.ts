import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { startServer, metricValue, type TestServer } from './helpers/server.js';
import { loadUws, UwsLoadError } from '../src/net/uws.js';
import { CloseCode } from '../src/protocol/close-codes.js';
import { ClientMessageBuilder } from '../src/protocol/build.js';
import { PROTOCOL_VERSION } from '../src/protocol/version.js';
import { waitFor } from './helpers/wait.js';

function connect(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return once(ws, 'close').then(([code, reason]) => ({ code: code as number, reason: String(reason) }));
}

describe('a running server', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
  });
  after(async () => {
    await s.stop();
  });

  test('logs one start-up line with version, config source, listen address, zones and native uWS', () => {
    const line = s.logs.find((l) => typeof l.listen === 'string')!;
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    assert.equal(line.version, pkg.version);
    assert.match(String(line.config), /^defaults < cli /);
    assert.equal(line.listen, `127.0.0.1:${s.port}`);
    assert.equal(typeof line.zones, 'number');
    assert.equal(line.uws, 'native');
  });

  test('GET /healthz is 200', async () => {
    const r = await fetch(`${s.url}/healthz`);
    assert.equal(r.status, 200);
    assert.equal(((await r.json()) as { status: string }).status, 'ok');
  });

  test('GET /readyz is 200 with every component up', async () => {
    const r = await fetch(`${s.url}/readyz`);
    assert.equal(r.status, 200);
    const body = (await r.json()) as { status: string; components: Record<string, string> };
    assert.equal(body.status, 'ready');
    assert.equal(body.components.listener, 'up');
  });

  test('GET /metrics is Prometheus text where every metric starts with mmo_', async () => {
    const r = await fetch(`${s.url}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type')!, /^text\/plain/);
    const text = await r.text();
    const names = new Set(text.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]!));
    for (const n of names) assert.ok(n.startsWith('mmo_'), `${n} lacks the mmo_ prefix`);
    for (const required of [
      'mmo_ws_connections',
      'mmo_net_packets_in_total',
      'mmo_net_bytes_in_total',
      'mmo_net_packets_out_total',
      'mmo_net_bytes_out_total',
      'mmo_net_send_batches_total',
      'mmo_net_packets_per_batch',
      'mmo_eventloop_delay_seconds',
      'mmo_process_resident_memory_bytes',
      'mmo_nodejs_heap_size_used_bytes',
      'mmo_net_backpressure_drops_total',
      'mmo_ws_closes_total',
    ]) {
      assert.ok(names.has(required), `missing ${required}`);
    }
    assert.match(text, /^mmo_eventloop_delay_seconds_bucket\{le="\+Inf"\} [1-9]/m, 'event-loop histogram is sampling');
  });

  test('unknown paths are 404, wrong methods 405 with Allow, plain GET on the WebSocket path 426', async () => {
    assert.equal((await fetch(`${s.url}/nope`)).status, 404);
    const r = await fetch(`${s.url}/healthz`, { method: 'POST' });
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'GET');
    assert.equal((await fetch(`${s.url}/ws`)).status, 426);
  });

  test('POST /debug/gc is not served unless debug.gcEndpoint is on', async () => {
    assert.equal((await fetch(`${s.url}/debug/gc`, { method: 'POST' })).status, 404);
  });

  test('a WebSocket connects, is counted, and closes cleanly', async () => {
    const ws = await connect(s.wsUrl);
    assert.equal(await metricValue(s.url, 'mmo_ws_connections'), 1);
    const before = (await metricValue(s.url, 'mmo_ws_closes_total{reason="client"}')) ?? 0;
    ws.send(new ClientMessageBuilder().hello(PROTOCOL_VERSION, null, 'cleanclose', 'test').slice());
    await once(ws, 'message');
    ws.close(1000, 'bye');
    const c = await closed(ws);
    assert.equal(c.code, 1000);
    await waitFor(async () => (await metricValue(s.url, 'mmo_ws_closes_total{reason="client"}')) === before + 1);
    assert.equal(await metricValue(s.url, 'mmo_ws_connections'), 0);
    assert.ok(((await metricValue(s.url, 'mmo_net_bytes_in_total')) ?? 0) >= 24);
  });

  test('an oversized frame closes only its own socket', async () => {
    const victim = await connect(s.wsUrl);
    const bystander = await connect(s.wsUrl);
    const victimClosed = closed(victim);
    victim.send(Buffer.alloc(4096 + 1));
    const c = await victimClosed;
    assert.equal(c.code, 1006, 'uWS drops the socket without a close frame');
    // The other socket is alive: a WebSocket ping is answered.
    bystander.ping();
    await once(bystander, 'pong');
    assert.equal(bystander.readyState, WebSocket.OPEN);
    await waitFor(async () => ((await metricValue(s.url, 'mmo_ws_closes_total{reason="tooBig"}')) ?? 0) >= 1);
    bystander.close();
    await closed(bystander);
  });
});

describe('shutdown', () => {
  test('SIGTERM tells connected clients (1001) and exits 0 within 5 s', async () => {
    // Exit code 0 is the proof of time: past server.shutdownTimeoutMs (4 s,
    // under the 5 s the issue asks for) the server exits 1. A wall-clock
    // assertion here would measure the test machine's load instead.
    const s = await startServer({ args: ['--server.shutdownTimeoutMs=4000'] });
    const a = await connect(s.wsUrl);
    const b = await connect(s.wsUrl);
    const ca = closed(a);
    const cb = closed(b);
    const code = await s.stop('SIGTERM');
    assert.equal(code, 0);
    for (const c of [await ca, await cb]) {
      assert.equal(c.code, CloseCode.goingAway);
      assert.equal(c.reason, 'server shutting down');
    }
    assert.ok(s.logs.some((l) => l.msg === 'shutdown complete'));
  });

  test('debug.gcEndpoint: POST /debug/gc collects and answers the heap left, or 501 naming --expose-gc', async () => {
    const withGc = await startServer({ args: ['--debug.gcEndpoint=true'], env: { NODE_OPTIONS: '--expose-gc' } });
    const without = await startServer({ args: ['--debug.gcEndpoint=true'] });
    try {
      const r = await fetch(`${withGc.url}/debug/gc`, { method: 'POST' });
      assert.equal(r.status, 200);
      const body = (await r.json()) as { heapUsedBytes: number; heapTotalBytes: number; tookMs: number };
      assert.ok(body.heapUsedBytes > 1e6 && body.heapUsedBytes <= body.heapTotalBytes, JSON.stringify(body));
      assert.ok(body.tookMs > 0, JSON.stringify(body));
      assert.equal((await fetch(`${withGc.url}/debug/gc`)).status, 405);
      const no = await fetch(`${without.url}/debug/gc`, { method: 'POST' });
      assert.equal(no.status, 501);
      assert.match(((await no.json()) as { error: string }).error, /--expose-gc/);
    } finally {
      await Promise.all([withGc.stop(), without.stop()]);
    }
  });

  test('SIGINT also exits 0', async () => {
    const s = await startServer();
    assert.equal(await s.stop('SIGINT'), 0);
  });
});

describe('uWebSockets.js native binary', () => {
  test('the server refuses to start on the slow emulation (exit 3, clear error)', async () => {
    const s = await startServer({ env: { UWS_USE_FALLBACK: '1' }, expectExit: true });
    assert.equal(await s.exited, 3);
    const fatal = s.logs.find((l) => l.level === 60)!;
    assert.match(String(fatal.msg), /refusing to start on the slow uWebSockets\.js emulation/);
    assert.match(String(fatal.msg), /net\.allowSlowFallback/);
  });

  test('net.allowSlowFallback=true starts on the emulation and says so', async () => {
    const s = await startServer({ env: { UWS_USE_FALLBACK: '1' }, args: ['--net.allowSlowFallback=true'] });
    try {
      const line = s.logs.find((l) => typeof l.listen === 'string')!;
      assert.equal(line.uws, 'emulation');
      assert.ok(s.logs.some((l) => l.level === 40 && /slow uWebSockets\.js emulation/.test(String(l.msg))));
      assert.equal(await metricValue(s.url, 'mmo_uws_native'), 0);
    } finally {
      await s.stop();
    }
  });

  test('a binary that fails to load is an error naming it, unless the fallback is allowed', () => {
    const binaryPath = '/nonexistent/uws_test.node';
    assert.throws(
      () => loadUws({ allowSlowFallback: false, binaryPath, env: {} }),
      (err: unknown) => err instanceof UwsLoadError && err.code === 'MMO_ERR_UWS_NATIVE' && err.message.includes(binaryPath),
    );
    const fallback = loadUws({ allowSlowFallback: true, binaryPath, env: {} });
    assert.equal(fallback.native, false);
    assert.equal(typeof fallback.uws.App, 'function');
    const native = loadUws({ allowSlowFallback: false, env: {} });
    assert.equal(native.native, true);
  });
});

describe('logging', () => {
  test('a closed stdout costs the logs, not the process: SIGTERM still exits 0', async () => {
    const s = await startServer();
    // The log reader goes away, as when a log shipper dies or output is piped to `head`.
    s.child.stdout!.destroy();
    const ws = await connect(s.wsUrl);
    const c = closed(ws);
    const t0 = Date.now();
    const code = await Promise.race([s.stop('SIGTERM'), new Promise<string>((r) => setTimeout(() => r('hung'), 8000))]);
    assert.equal(code, 0, `exit within 8 s, took ${Date.now() - t0} ms; stderr: ${s.stderr()}`);
    assert.equal((await c).code, CloseCode.goingAway);
  });
});
