// The fault-injection proxy (loadtest/netfault) on its own: forwarding, cuts
// with RST and FIN at one or both ends, black holes, delay, throttle, the
// connection cap, the lifetime that stops it by itself, and seeded chaos.
// Only lower bounds on time are asserted (a delay is never shorter than set).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { NetFaultProxy, NetFaultError, type FaultEvent } from '../loadtest/netfault/index.js';
import { waitFor } from './helpers/wait.js';
import { setTimeout as sleep } from 'node:timers/promises';

interface Upstream {
  server: net.Server;
  port: number;
  /** Server-side sockets in accept order. */
  sockets: net.Socket[];
  /** Whether each server-side socket saw an error (RST) / an end (FIN) / close. */
  events: Array<{ error: string | null; ended: boolean; closed: boolean }>;
}

const cleanups: Array<() => unknown> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

/** An echo server on 127.0.0.1 that records what happens to its sockets. */
async function echoServer(echo = true): Promise<Upstream> {
  const up: Upstream = { server: net.createServer(), port: 0, sockets: [], events: [] };
  up.server.on('connection', (s) => {
    const ev = { error: null as string | null, ended: false, closed: false };
    up.sockets.push(s);
    up.events.push(ev);
    s.on('data', (b) => {
      if (echo) s.write(b);
    });
    s.on('error', (e: NodeJS.ErrnoException) => (ev.error = e.code ?? e.message));
    s.on('end', () => (ev.ended = true));
    s.on('close', () => (ev.closed = true));
  });
  await new Promise<void>((r) => up.server.listen(0, '127.0.0.1', r));
  up.port = (up.server.address() as net.AddressInfo).port;
  cleanups.push(() => {
    for (const s of up.sockets) s.destroy();
    return new Promise((r) => up.server.close(() => r(undefined)));
  });
  return up;
}

async function proxyTo(up: Upstream, extra: Partial<Parameters<typeof NetFaultProxy.start>[0]> = {}): Promise<NetFaultProxy> {
  const p = await NetFaultProxy.start({ target: { host: '127.0.0.1', port: up.port }, lifetimeMs: 30_000, ...extra });
  cleanups.push(() => p.close());
  return p;
}

interface Client {
  sock: net.Socket;
  received: () => Buffer;
  error: () => string | null;
  ended: () => boolean;
  closed: Promise<unknown>;
}

async function client(p: NetFaultProxy, localAddress?: string): Promise<Client> {
  const sock = net.connect({ host: p.host, port: p.port, ...(localAddress ? { localAddress } : {}) });
  const chunks: Buffer[] = [];
  let error: string | null = null;
  let ended = false;
  sock.on('data', (b) => chunks.push(b));
  sock.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
  sock.on('end', () => (ended = true));
  // Not events.once: it rejects when 'error' comes first, and a reset is what some tests expect.
  const closed = new Promise((resolve) => sock.once('close', resolve));
  await once(sock, 'connect');
  cleanups.push(() => sock.destroy());
  return { sock, received: () => Buffer.concat(chunks), error: () => error, ended: () => ended, closed };
}

/** The proxy's timings are tight: poll every 5 ms. */
const until = (cond: () => boolean, what: string, ms = 5000): Promise<void> => waitFor(cond, ms, what, 5);


test('forwards bytes both ways and reports each link with its client address', async () => {
  const up = await echoServer();
  const p = await proxyTo(up);
  const c = await client(p, '127.0.0.7');
  c.sock.write('hello through the proxy');
  await until(() => c.received().toString() === 'hello through the proxy', 'the echo');
  const [info] = p.connections();
  assert.equal(p.size, 1);
  assert.equal(info!.clientAddress, '127.0.0.7');
  assert.equal(info!.bytesUp, 23);
  assert.equal(info!.bytesDown, 23);
  assert.equal(up.sockets[0]!.remotePort, info!.upstreamPort);
  assert.equal(p.stats.bytesUp, 23);
});

test('cut with RST aborts both ends; with FIN both ends see an orderly end', async () => {
  const up = await echoServer();
  const p = await proxyTo(up);
  const a = await client(p);
  const b = await client(p);
  await until(() => up.sockets.length === 2, 'two upstream sockets');
  const [la, lb] = p.connections();
  assert.equal(p.cut(la!.id, 'rst'), 1);
  await a.closed;
  assert.equal(a.error(), 'ECONNRESET');
  await until(() => up.events[0]!.closed, 'upstream close after RST');
  assert.equal(up.events[0]!.error, 'ECONNRESET');

  assert.equal(p.cut(lb!.id, 'fin'), 1);
  await b.closed;
  assert.equal(b.error(), null);
  assert.equal(b.ended(), true);
  await until(() => up.events[1]!.ended, 'upstream FIN');
  assert.equal(up.events[1]!.error, null);
  await until(() => p.size === 0, 'links removed');
  assert.deepEqual(
    p.faults.map((f) => [f.kind, f.conn, f.random]),
    [
      ['rst', la!.id, false],
      ['fin', lb!.id, false],
    ],
  );
  assert.equal(p.stats.cuts, 2);
});

test('a black hole forwards nothing either way and closes nothing; lifting it lets new bytes through', async () => {
  const up = await echoServer(false);
  const p = await proxyTo(up);
  const c = await client(p);
  await until(() => up.sockets.length === 1, 'upstream socket');
  const server = up.sockets[0]!;
  let serverGot = '';
  server.on('data', (d) => (serverGot += d.toString()));
  assert.equal(p.blackhole('all'), 1);
  c.sock.write('lost-up');
  server.write('lost-down');
  await sleep(300);
  assert.equal(serverGot, '');
  assert.equal(c.received().length, 0);
  assert.equal(up.events[0]!.closed, false);
  assert.equal(c.sock.destroyed, false);
  assert.equal(p.connections()[0]!.droppedBytes, 16);

  p.blackhole('all', false);
  c.sock.write('after');
  server.write('back');
  await until(() => serverGot === 'after' && c.received().toString() === 'back', 'bytes after the hole');
  assert.deepEqual(
    p.faults.map((f) => f.kind),
    ['blackhole', 'clear'],
  );
});

test('a client closing during a black hole is not passed on until the hole is lifted', async () => {
  const up = await echoServer();
  const p = await proxyTo(up);
  const c = await client(p);
  await until(() => up.sockets.length === 1, 'upstream socket');
  p.blackhole('all');
  c.sock.destroy();
  await c.closed;
  await sleep(200);
  assert.equal(up.events[0]!.closed, false, 'the server must not hear of the close through a black hole');
  p.blackhole('all', false);
  await until(() => up.events[0]!.closed, 'upstream closed once the hole is lifted');
  await until(() => p.size === 0, 'link removed');
});

test('cutting only the client end leaves the server end half-open until cleared', async () => {
  const up = await echoServer();
  const p = await proxyTo(up);
  const c = await client(p);
  await until(() => up.sockets.length === 1, 'upstream socket');
  p.cut('all', 'rst', 'client');
  await c.closed;
  assert.equal(c.error(), 'ECONNRESET');
  await sleep(200);
  assert.equal(up.events[0]!.closed, false);
  p.clear('all');
  await until(() => up.events[0]!.closed, 'upstream closed after clear');
});

test('delay holds every chunk at least the set time each way, in order', async () => {
  const up = await echoServer();
  const p = await proxyTo(up, { defaults: { delayMs: 80 } });
  const c = await client(p);
  const t0 = performance.now();
  for (let i = 0; i < 5; i++) c.sock.write(String(i));
  await until(() => c.received().length === 5, 'the echo');
  const rtt = performance.now() - t0;
  assert.equal(c.received().toString(), '01234');
  assert.ok(rtt >= 160, `round trip ${rtt} ms should be at least 2 x 80 ms`);
  p.delay('all', 0);
  // A delayed round trip can never take less than 160 ms; an undelayed one can
  // still be slow on a loaded machine, so the fastest of five is what is judged.
  let fastest = Infinity;
  for (let i = 0; i < 5; i++) {
    const t1 = performance.now();
    c.sock.write('x');
    await until(() => c.received().length === 6 + i, 'the echo without delay');
    fastest = Math.min(fastest, performance.now() - t1);
  }
  assert.ok(fastest < 160, `lifting the delay speeds the round trip up: fastest of five ${fastest.toFixed(1)} ms`);
});

test('throttle limits the bandwidth of each direction', async () => {
  const up = await echoServer(false);
  const p = await proxyTo(up);
  const c = await client(p);
  await until(() => up.sockets.length === 1, 'upstream socket');
  let got = 0;
  up.sockets[0]!.on('data', (d) => (got += d.length));
  p.throttle('all', 32 * 1024);
  const t0 = performance.now();
  c.sock.write(Buffer.alloc(24 * 1024, 1));
  await until(() => got === 24 * 1024, 'all bytes', 10_000);
  const ms = performance.now() - t0;
  // 24 KiB at 32 KiB/s: at least 0.75 s minus the first slice (1/20 s).
  assert.ok(ms >= 650, `24 KiB at 32 KiB/s arrived in ${ms} ms`);
});

test('refuses links past maxConnections and counts them', async () => {
  const up = await echoServer();
  const p = await proxyTo(up, { maxConnections: 2 });
  await client(p);
  await client(p);
  const third = net.connect({ host: p.host, port: p.port });
  let err: string | null = null;
  third.on('error', (e: NodeJS.ErrnoException) => (err = e.code ?? null));
  await new Promise((resolve) => third.once('close', resolve));
  assert.equal(err, 'ECONNRESET');
  assert.equal(p.stats.refused, 1);
  assert.equal(p.size, 2);
});

test('stops by itself when its lifetime runs out, closing every link', async () => {
  const up = await echoServer();
  const p = await proxyTo(up, { lifetimeMs: 300 });
  const c = await client(p);
  await p.closed;
  await c.closed;
  assert.equal(p.size, 0);
  assert.equal(p.cut('all'), 0, 'a closed proxy does nothing');
  await assert.rejects(
    new Promise((resolve, reject) => {
      const s = net.connect({ host: p.host, port: p.port });
      s.on('connect', () => resolve(s));
      s.on('error', reject);
    }),
    /ECONNREFUSED/,
  );
});

test('seeded chaos picks the same faults on the same links', async () => {
  const run = async (): Promise<FaultEvent[]> => {
    const up = await echoServer();
    const p = await proxyTo(up);
    for (let i = 0; i < 4; i++) await client(p);
    await until(() => up.sockets.length === 4, 'four upstream sockets');
    p.startChaos({ seed: 42, meanIntervalMs: 20, weights: { blackhole: 1, delay: 1, throttle: 1 }, maxFaults: 6, durationMs: [10_000, 10_000] });
    await until(() => p.faults.length >= 6, 'six faults');
    await sleep(100);
    const faults = [...p.faults];
    await p.close();
    return faults;
  };
  const a = await run();
  const b = await run();
  assert.equal(a.length, 6, 'maxFaults bounds chaos');
  assert.ok(a.every((f) => f.random && ['blackhole', 'delay', 'throttle'].includes(f.kind)));
  // Link ids restart at 1 per proxy, so the two runs are comparable.
  assert.deepEqual(
    a.map((f) => [f.kind, f.conn, f.detail]),
    b.map((f) => [f.kind, f.conn, f.detail]),
  );
});

test('refuses addresses outside 127.0.0.0/8', async () => {
  await assert.rejects(NetFaultProxy.start({ target: { host: '10.0.0.1', port: 80 } }), (e: unknown) => e instanceof NetFaultError && e.code === 'MMO_ERR_NETFAULT_ADDRESS');
  await assert.rejects(NetFaultProxy.start({ target: { host: '127.0.0.1', port: 80 }, host: '0.0.0.0' }), (e: unknown) => e instanceof NetFaultError && e.code === 'MMO_ERR_NETFAULT_ADDRESS');
});
