// The lean bots' WebSocket codec (loadtest/lean/ws.ts) and connection
// (loadtest/lean/conn.ts): frames split over reads at every byte, several
// frames in one read, fragmented messages with control frames between the
// fragments, 16- and 64-bit lengths, broken framing, client masking; and the
// connection against an independent implementation (the `ws` package's
// server): handshake, masked messages, fragments, ping -> pong, close codes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocketServer, type WebSocket as WsSocket } from 'ws';
import { WsReader, WsOp, maskedFrameSize, writeMaskedFrame, parseUpgradeAnswer, acceptFor, type WsSink } from '../loadtest/lean/ws.js';
import { LeanConn, parseWsUrl, type ConnOwner } from '../loadtest/lean/conn.js';
import { mulberry32 } from '../loadtest/netfault/proxy.js';

type Event = [string, ...unknown[]];

class Recorder implements WsSink {
  readonly events: Event[] = [];
  onWsMessage(b: Buffer, o: number, n: number, binary: boolean): void {
    this.events.push(['message', Buffer.from(b.subarray(o, o + n)).toString('hex'), binary]);
  }
  onWsPing(b: Buffer, o: number, n: number): void {
    this.events.push(['ping', Buffer.from(b.subarray(o, o + n)).toString('hex')]);
  }
  onWsPong(b: Buffer, o: number, n: number): void {
    this.events.push(['pong', Buffer.from(b.subarray(o, o + n)).toString('hex')]);
  }
  onWsClose(code: number, b: Buffer, o: number, n: number): void {
    this.events.push(['close', code, b.toString('utf8', o, o + n)]);
  }
  onWsError(reason: string): void {
    this.events.push(['error', reason]);
  }
}

/** An unmasked server frame. */
function frame(op: number, payload: Buffer, fin = true): Buffer {
  const n = payload.length;
  const head = n < 126 ? Buffer.from([(fin ? 0x80 : 0) | op, n]) : n < 65536 ? Buffer.from([(fin ? 0x80 : 0) | op, 126, n >> 8, n & 0xff]) : Buffer.from([(fin ? 0x80 : 0) | op, 127, 0, 0, 0, 0, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
  return Buffer.concat([head, payload]);
}

function bytes(n: number, seed: number): Buffer {
  const r = mulberry32(seed);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
}

const close = (code: number, reason: string) => Buffer.concat([Buffer.from([code >> 8, code & 0xff]), Buffer.from(reason)]);

/** A stream exercising every path: small, 16-bit and 64-bit lengths, a fragmented message with a ping inside, a pong, a close. */
function stream(): { wire: Buffer; expected: Event[] } {
  const a = bytes(10, 1);
  const b = bytes(300, 2);
  const c = bytes(70_000, 3);
  const f1 = bytes(5, 4);
  const f2 = bytes(200, 5);
  const f3 = bytes(1, 6);
  const wire = Buffer.concat([
    frame(WsOp.binary, a),
    frame(WsOp.binary, b),
    frame(WsOp.text, Buffer.from('hi')),
    frame(WsOp.binary, c),
    frame(WsOp.binary, f1, false),
    frame(WsOp.ping, Buffer.from('p1')),
    frame(WsOp.continuation, f2, false),
    frame(WsOp.continuation, f3, true),
    frame(WsOp.pong, Buffer.alloc(0)),
    frame(WsOp.binary, Buffer.alloc(0)),
    frame(WsOp.close, close(4101, 'resume refused')),
  ]);
  const expected: Event[] = [
    ['message', a.toString('hex'), true],
    ['message', b.toString('hex'), true],
    ['message', Buffer.from('hi').toString('hex'), false],
    ['message', c.toString('hex'), true],
    ['ping', Buffer.from('p1').toString('hex')],
    ['message', Buffer.concat([f1, f2, f3]).toString('hex'), true],
    ['pong', ''],
    ['message', '', true],
    ['close', 4101, 'resume refused'],
  ];
  return { wire, expected };
}

test('ws reader: the whole stream in one read gives every message, control frame and close in order', () => {
  const { wire, expected } = stream();
  const r = new Recorder();
  const reader = new WsReader(r);
  assert.equal(reader.feed(wire, 0, wire.length), true);
  assert.deepEqual(r.events, expected);
  assert.equal(reader.carried, 0);
});

test('ws reader: the stream split at every byte boundary (two reads) gives the same events', () => {
  const { wire, expected } = stream();
  // Every split point in the first 400 bytes (headers of the small frames and of the 16-bit one) and a sample beyond.
  const points: number[] = [];
  for (let i = 1; i < 400; i++) points.push(i);
  for (let i = 400; i < wire.length; i += 997) points.push(i);
  for (const k of points) {
    const r = new Recorder();
    const reader = new WsReader(r);
    // A read buffer reused between reads, as net's onread does: the reader must have copied what it keeps.
    const buf = Buffer.alloc(wire.length);
    wire.copy(buf, 0, 0, k);
    reader.feed(buf, 0, k);
    buf.fill(0xee);
    wire.copy(buf, 0, k);
    reader.feed(buf, 0, wire.length - k);
    assert.deepEqual(r.events, expected, `split at ${k}`);
  }
});

test('ws reader: one byte per read gives the same events', () => {
  const { wire, expected } = stream();
  const r = new Recorder();
  const reader = new WsReader(r);
  const one = Buffer.alloc(1);
  for (let i = 0; i < wire.length; i++) {
    one[0] = wire[i]!;
    reader.feed(one, 0, 1);
  }
  assert.deepEqual(r.events, expected);
});

test('ws reader: random read sizes over 200 seeded streams give the same events', () => {
  const { wire, expected } = stream();
  for (let seed = 1; seed <= 200; seed++) {
    const rnd = mulberry32(seed);
    const r = new Recorder();
    const reader = new WsReader(r);
    let p = 0;
    while (p < wire.length) {
      const n = Math.min(wire.length - p, 1 + Math.floor(rnd() * (rnd() < 0.5 ? 16 : 4000)));
      reader.feed(wire, p, p + n);
      p += n;
    }
    assert.deepEqual(r.events, expected, `seed ${seed}`);
  }
});

test('ws reader: broken framing is reported and stops the reader', () => {
  const cases: Array<[string, Buffer, RegExp]> = [
    ['masked server frame', Buffer.from([0x82, 0x81, 1, 2, 3, 4, 5]), /masked/],
    ['reserved bits', Buffer.from([0xc2, 0x00]), /reserved/],
    ['continuation without a start', frame(WsOp.continuation, Buffer.from('x')), /continuation/],
    ['new message inside a fragmented one', Buffer.concat([frame(WsOp.binary, Buffer.from('a'), false), frame(WsOp.binary, Buffer.from('b'))]), /inside a fragmented/],
    ['fragmented control frame', frame(WsOp.ping, Buffer.from('a'), false), /control/],
    ['unknown opcode', frame(3, Buffer.from('a')), /opcode 3/],
    ['64-bit length over 4 GiB', Buffer.from([0x82, 127, 0, 0, 0, 1, 0, 0, 0, 0]), /4 GiB/],
  ];
  for (const [what, wire, why] of cases) {
    const r = new Recorder();
    const reader = new WsReader(r);
    assert.equal(reader.feed(wire, 0, wire.length), false, what);
    const errs = r.events.filter((e) => e[0] === 'error');
    assert.equal(errs.length, 1, what);
    assert.match(String(errs[0]![1]), why, what);
    assert.equal(reader.feed(frame(WsOp.binary, Buffer.from('ok')), 0, 4), false, `${what}: stays stopped`);
  }
  const r = new Recorder();
  const small = new WsReader(r, 100);
  const big = frame(WsOp.binary, Buffer.alloc(101));
  assert.equal(small.feed(big, 0, big.length), false);
  assert.match(String(r.events[0]![1]), /limit 100/);
});

test('ws writer: masked frames of every length class unmask to the payload', () => {
  for (const n of [0, 1, 5, 125, 126, 127, 1000, 65535, 65536, 70_000]) {
    const payload = bytes(n, n + 7);
    const out = Buffer.alloc(maskedFrameSize(n) + 3);
    const mask = 0xa1b2c3d4;
    const w = writeMaskedFrame(out, 3, WsOp.binary, payload, 0, n, mask);
    assert.equal(w, maskedFrameSize(n), `size for ${n}`);
    const f = out.subarray(3, 3 + w);
    assert.equal(f[0], 0x82);
    assert.equal(f[1]! & 0x80, 0x80, 'mask bit');
    const len7 = f[1]! & 0x7f;
    const [len, h] = len7 < 126 ? [len7, 2] : len7 === 126 ? [f.readUInt16BE(2), 4] : [f.readUInt32BE(6), 10];
    assert.equal(len, n);
    const key = f.subarray(h, h + 4);
    assert.deepEqual([...key], [0xa1, 0xb2, 0xc3, 0xd4]);
    const un = Buffer.alloc(n);
    for (let i = 0; i < n; i++) un[i] = f[h + 4 + i]! ^ key[i % 4]!;
    assert.ok(un.equals(payload), `payload of ${n}`);
  }
});

test('ws handshake: the answer is parsed once complete; the accept key follows RFC 6455', () => {
  // RFC 6455 section 1.3's example.
  assert.equal(acceptFor('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  const text = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: abc\r\n\r\n';
  const b = Buffer.concat([Buffer.from(text), Buffer.from([0x82, 0x00])]);
  assert.equal(parseUpgradeAnswer(b, text.length - 1), null);
  const a = parseUpgradeAnswer(b, b.length)!;
  assert.equal(a.status, 101);
  assert.equal(a.end, text.length);
  assert.equal(a.headers.get('sec-websocket-accept'), 'abc');
  assert.throws(() => parseUpgradeAnswer(Buffer.from('SSH-2.0\r\n\r\n'), 11), { code: 'MMO_ERR_LEAN_HANDSHAKE' });
});

class Owner implements ConnOwner {
  opened = 0;
  readonly messages: Array<[string, boolean]> = [];
  readonly closed: Array<[number, string]> = [];
  private waiters: Array<() => void> = [];
  constructor(public conn: LeanConn | null = null) {}
  onConnOpen(): void {
    this.opened++;
    this.poke();
  }
  onConnMessage(b: Buffer, o: number, n: number, binary: boolean): void {
    this.messages.push([b.toString('utf8', o, o + n), binary]);
    this.poke();
  }
  onConnClosed(code: number, reason: string): void {
    this.closed.push([code, reason]);
    this.poke();
  }
  private poke(): void {
    for (const w of this.waiters.splice(0)) w();
  }
  async until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }
}

test('lean connection against the ws package server: handshake, masked messages, fragments, ping/pong, close code', async () => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const port = (wss.address() as { port: number }).port;
  const received: Buffer[] = [];
  const addrs: string[] = [];
  let pongs = 0;
  let server: WsSocket | null = null;
  wss.on('connection', (ws, req) => {
    server = ws;
    addrs.push(req.socket.remoteAddress ?? '');
    ws.on('message', (d: Buffer) => received.push(d));
    ws.on('pong', () => pongs++);
  });
  try {
    const owner = new Owner();
    const conn = new LeanConn(owner, parseWsUrl(`ws://127.0.0.1:${port}/ws`), '127.0.3.7', mulberry32(9));
    conn.connect();
    await owner.until(() => owner.opened === 1 && server !== null, 'open');
    assert.equal(conn.open, true);
    assert.deepEqual(addrs, ['127.0.3.7'], 'bound to the given source address');
    // Client -> server: masked frames (ws rejects unmasked client frames with 1002), small and large, one write.
    const big = bytes(70_000, 11);
    assert.equal(conn.queue(Buffer.from('hello'), 0, 5), true);
    assert.equal(conn.queue(big, 0, big.length), true);
    conn.flush();
    await owner.until(() => received.length === 2, 'the server got both');
    assert.equal(received[0]!.toString(), 'hello');
    assert.ok(received[1]!.equals(big));
    // Server -> client: a fragmented message with a ping between the fragments; the ping is answered.
    const s = server!;
    s.send('frag-', { fin: false, binary: true });
    s.ping('x');
    s.send('ment', { fin: true, binary: true });
    s.send('text', { binary: false });
    await owner.until(() => owner.messages.length === 2 && pongs === 1, 'messages and the pong');
    assert.deepEqual(owner.messages, [
      ['frag-ment', true],
      ['text', false],
    ]);
    // The server closes with a session code: the connection reports it.
    s.close(4101, 'resume refused');
    await owner.until(() => owner.closed.length === 1, 'close');
    assert.deepEqual(owner.closed, [[4101, 'resume refused']]);
    assert.equal(conn.open, false);
    // Reused for a new connection; killed without a close frame: 1006.
    server = null;
    conn.connect();
    await owner.until(() => owner.opened === 2 && server !== null, 'second open');
    conn.kill();
    await owner.until(() => owner.closed.length === 2, 'killed');
    assert.equal(owner.closed[1]![0], 1006);
  } finally {
    for (const c of wss.clients) c.terminate();
    await new Promise((r) => wss.close(r));
  }
});

test('lean connection: a refused upgrade closes with 1006 and the HTTP status as the reason', async () => {
  const { createServer } = await import('node:http');
  const http = createServer((_req, res) => {
    res.writeHead(503, { 'retry-after': '2' });
    res.end('busy');
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const port = (http.address() as { port: number }).port;
  try {
    let hint = -1;
    const owner = new Owner();
    const o: ConnOwner = { onConnOpen: () => owner.onConnOpen(), onConnMessage: () => undefined, onConnClosed: (c, r, h) => ((hint = h), owner.onConnClosed(c, r)) };
    const conn = new LeanConn(o, parseWsUrl(`ws://127.0.0.1:${port}/ws`), undefined, mulberry32(3));
    conn.connect();
    await owner.until(() => owner.closed.length === 1, 'closed');
    assert.equal(owner.opened, 0);
    assert.deepEqual(owner.closed[0], [1006, 'upgrade refused: HTTP 503']);
    assert.equal(hint, 2000, 'Retry-After read as the retry hint');
  } finally {
    http.closeAllConnections();
    await new Promise((r) => http.close(r));
  }
});
