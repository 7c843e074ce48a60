// The protocol boundary over real sockets: whatever a client sends, only its
// own connection pays (closed with the documented code, counted), and the
// SDK plays against the real server.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import fc from 'fast-check';
import { startServer, metricValue, type TestServer } from './helpers/server.js';
import { RawClient } from './helpers/raw-client.js';
import { CloseCode } from '../src/protocol/close-codes.js';
import { connect, ChatChannel, InteractAction, type MmoClient } from '../src/client/index.js';
import { ClientMessageBuilder } from '../src/protocol/build.js';
import { PROTOCOL_VERSION } from '../src/protocol/version.js';
import { waitFor } from './helpers/wait.js';

let s: TestServer;
before(async () => {
  s = await startServer({ args: ['--zones.count=1', '--zones.npcsPerZone=30', '--sessions.chatPerSec=100', '--sessions.chatBurst=100'] });
});
after(async () => {
  await s.stop();
});

/** Many sockets come from many loopback addresses, as many players would (per-address admission limits). */
let nextAddress = 0;
async function rawSocket(): Promise<WebSocket> {
  const ws = new WebSocket(s.wsUrl, { localAddress: `127.0.${1 + (nextAddress >> 8)}.${1 + (nextAddress++ & 255)}` });
  await once(ws, 'open');
  return ws;
}

function closeOf(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return once(ws, 'close').then(([code, reason]) => ({ code: code as number, reason: String(reason) }));
}

describe('hostile frames close only their own connection', () => {
  let bystander: RawClient;
  before(async () => {
    bystander = await RawClient.open(s.wsUrl);
    bystander.hello('bystander');
    await bystander.welcome();
  });

  /** The bystander still plays: its chat comes back to it. */
  async function bystanderPlays(seq: number): Promise<void> {
    bystander.send(bystander.b.chat(seq, ChatChannel.Say, `alive ${seq}`));
    await bystander.until(() => bystander.messages().some((m) => m.type === 'chat' && m.text === `alive ${seq}`), 5000, 'bystander chat');
    assert.equal(bystander.closed, null);
  }

  const cases: Array<[string, (ws: WebSocket) => void, number, string]> = [
    ['garbage bytes', (ws) => ws.send(randomBytes(64)), CloseCode.malformed, 'malformed'],
    ['a text frame', (ws) => ws.send('{"hello":1}'), CloseCode.textFrame, 'text_frame'],
    ['an empty frame', (ws) => ws.send(Buffer.alloc(0)), CloseCode.malformed, 'malformed'],
    [
      'a truncated envelope',
      (ws) => ws.send(new ClientMessageBuilder().hello(PROTOCOL_VERSION, null, 'trunc', 'x').slice(0, 20)),
      CloseCode.malformed,
      'malformed',
    ],
    [
      'a 32-byte message claiming a 2^31-element vector',
      (ws) => {
        const b = Buffer.from(new ClientMessageBuilder().resume(PROTOCOL_VERSION, 1, new Uint8Array(16), 0));
        // Point at the token vector's length word and inflate it.
        for (let i = 0; i + 4 <= b.length; i++) if (b.readUInt32LE(i) === 16) b.writeUInt32LE(0x7fffffff, i);
        ws.send(b);
      },
      CloseCode.malformed,
      'malformed',
    ],
    ['an input before Hello', (ws) => ws.send(new ClientMessageBuilder().move(1, 1, 1).slice()), CloseCode.unexpectedMessage, 'unexpected'],
  ];

  let n = 0;
  for (const [name, sendIt, code, reason] of cases) {
    test(`${name}: closed with ${code}, counted; the bystander keeps playing`, async () => {
      const before = (await metricValue(s.url, `mmo_protocol_rejected_total{reason="${reason}"}`)) ?? 0;
      const ws = await rawSocket();
      const closed = closeOf(ws);
      sendIt(ws);
      assert.equal((await closed).code, code);
      assert.equal(await metricValue(s.url, `mmo_protocol_rejected_total{reason="${reason}"}`), before + 1);
      await bystanderPlays(++n);
    });
  }

  test('an unsupported protocol version is told so (4002) in a Kicked message', async () => {
    const c = await RawClient.open(s.wsUrl);
    c.hello('old', null, PROTOCOL_VERSION + 1);
    await c.until(() => c.closed !== null);
    assert.equal(c.closed!.code, CloseCode.versionMismatch);
    assert.match(c.find('kicked')!.reason!, /protocol version 2 is not supported/);
  });

  test('10,000 random mutations of valid messages: each is accepted or closes its own socket; the server never fails', async () => {
    const b = new ClientMessageBuilder();
    const seeds = [b.hello(PROTOCOL_VERSION, null, 'fz', 'x').slice(), b.move(1, 2, 3).slice(), b.chat(2, ChatChannel.Say, 'hi').slice(), b.ping(1).slice()];
    const inputs = fc.sample(
      fc.tuple(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.nat({ max: 80 })).map(([seed, flips, cut]) => {
        const m = Buffer.from(seed);
        for (const [i, v] of flips) m[i % m.length] = v;
        return m.subarray(0, Math.max(0, m.length - cut));
      }),
      { numRuns: 10_000, seed: 42 },
    );
    // A few sockets, each fed mutations until it is closed; then the next.
    let i = 0;
    let sockets = 0;
    while (i < inputs.length) {
      const ws = await rawSocket();
      sockets++;
      const closed = closeOf(ws);
      let done = false;
      void closed.then(() => (done = true));
      while (!done && i < inputs.length) {
        ws.send(inputs[i++]!);
        if (i % 50 === 0) await new Promise((r) => setImmediate(r));
      }
      if (!done) ws.close();
      const c = await closed;
      assert.ok([1000, 1005, CloseCode.malformed, CloseCode.unexpectedMessage, CloseCode.versionMismatch, CloseCode.authFailed, CloseCode.resumeRefused].includes(c.code), `close ${c.code}`);
    }
    assert.ok(sockets > 1);
    const health = await fetch(`${s.url}/healthz`);
    assert.equal(health.status, 200);
    await bystanderPlays(1000);
  });
});

describe('the SDK against the real server', () => {
  const clients: MmoClient[] = [];
  after(() => {
    for (const c of clients) c.close();
  });

  test('connect, ping, a round of every command, the model follows, clean close', async () => {
    const a = connect(s.wsUrl, { guestName: 'sdk_a' });
    const b = connect(s.wsUrl, { guestName: 'sdk_b' });
    clients.push(a, b);
    const [wa] = await Promise.all([a.once('welcome'), a.once('snapshot'), b.once('snapshot')]);
    assert.equal(wa.name, 'guest_sdk_a');
    assert.equal(wa.tickRate, 20);
    const rtt = await a.ping();
    assert.ok(rtt >= 0 && rtt < 1000, `rtt ${rtt}`);

    // Move: small legal steps are accepted (no correction) and acknowledged.
    const x0 = a.self!.x;
    const y0 = a.self!.y;
    let rejected = 0;
    a.on('moveRejected', () => rejected++);
    let last = 0;
    for (let i = 1; i <= 5; i++) {
      last = a.move(x0 + i * 0.2, y0);
      await new Promise((r) => setTimeout(r, 50));
    }
    await waitFor(() => a.ackedInput >= last);
    assert.equal(rejected, 0);

    // Chat on every channel a player may use.
    const heard: string[] = [];
    b.on('chat', (m) => heard.push(`${m.channel}:${m.text}`));
    a.chat(ChatChannel.Zone, 'zone hi');
    a.chat(ChatChannel.Global, 'global hi');
    a.chat(ChatChannel.Whisper, 'psst', 'guest_sdk_b');
    await waitFor(() => heard.length >= 3);
    assert.deepEqual(new Set(heard), new Set([`${ChatChannel.Zone}:zone hi`, `${ChatChannel.Global}:global hi`, `${ChatChannel.Whisper}:psst`]));

    // Attack and interact with something that is not there: a clear refusal, not silence.
    const errors: number[] = [];
    a.on('error', (e) => errors.push(e.code));
    a.attack(0x7fff_0001);
    a.interact(0x7fff_0001, InteractAction.Loot);
    await waitFor(() => errors.length >= 2);
    assert.ok(errors.every((c) => c === 100), `errors ${errors}`);

    const connected = (await metricValue(s.url, 'mmo_sessions{state="connected"}'))!;
    const closed = a.once('close');
    a.close();
    assert.equal((await closed).code, 1000);
    // A clean close is a logout: the session ends rather than lingering as a zombie.
    await waitFor(async () => (await metricValue(s.url, 'mmo_sessions{state="connected"}')) === connected - 1, 5000);
    assert.equal(await metricValue(s.url, 'mmo_sessions{state="zombie"}'), 0);
  });
});

