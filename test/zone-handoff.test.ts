// Handoff through a portal, under load: the player crosses from zone 1 to
// zone 2 without reconnecting, while it keeps talking and being whispered
// to. Every message in both directions arrives exactly once and in order.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, metricValue, type TestServer } from './helpers/server.js';
import { connect, ChatChannel, type MmoClient } from '../src/client/index.js';
import { waitFor } from './helpers/wait.js';
import { setTimeout as sleep } from 'node:timers/promises';

const SIZE = 128;
let s: TestServer;
const clients: MmoClient[] = [];

before(async () => {
  s = await startServer({
    args: [
      '--zones.count=2',
      `--zones.size=${SIZE}`,
      '--zones.npcsPerZone=0',
      '--world.movement.maxSpeed=64',
      '--sessions.chatPerSec=200',
      '--sessions.chatBurst=200',
      '--sessions.inputsPerSec=500',
      '--sessions.inputBurst=500',
    ],
  });
});
after(async () => {
  for (const c of clients) c.close();
  await s.stop();
});

function client(name: string): MmoClient {
  const i = clients.length;
  const c = connect(s.wsUrl, { guestName: name, localAddress: `127.0.2.${1 + (i % 250)}` });
  clients.push(c);
  return c;
}


test('a player walks through a portal while chatting and being whispered to: nothing lost, nothing doubled, all in order', async () => {
  // Background load in zone 1: players wandering about.
  const crowd = Array.from({ length: 40 }, (_, i) => client(`crowd${i}`));
  await Promise.all(crowd.map((c) => c.once('snapshot')));
  let wandering = true;
  const wander = (async () => {
    let k = 0;
    while (wandering) {
      for (const c of crowd) {
        const me = c.self;
        if (me) c.move(me.x + (k % 2 ? 0.5 : -0.5), me.y);
      }
      k++;
      await sleep(50);
    }
  })();

  const walker = client('walker');
  const whisperer = client('whisperer');
  await Promise.all([walker.once('snapshot'), whisperer.once('snapshot')]);
  const own: string[] = [];
  const whispers: string[] = [];
  walker.on('chat', (m) => {
    if (m.channel === ChatChannel.Say && m.fromName === 'guest_walker') own.push(m.text ?? '');
    if (m.channel === ChatChannel.Whisper) whispers.push(m.text ?? '');
  });
  const zoneChanged = walker.once('zone');
  let rejected = 0;
  walker.on('moveRejected', () => rejected++);

  // Walk to the portal's row, then east through it, talking all the way. New
  // players are spread over the zones: the walker crosses from wherever it starts.
  const start = walker.zone;
  const target = start === 1 ? 2 : 1;
  let x = walker.self!.x;
  let y = walker.self!.y;
  const mid = SIZE / 2;
  let said = 0;
  let whispered = 0;
  let lastInput = 0;
  for (let step = 0; step < 200 && walker.zone === start; step++) {
    if (Math.abs(y - mid) > 1) y += Math.sign(mid - y) * Math.min(2.5, Math.abs(mid - y));
    else x += 2.5;
    lastInput = walker.move(x, y);
    lastInput = walker.chat(ChatChannel.Say, `say${++said}`);
    whisperer.chat(ChatChannel.Whisper, `w${++whispered}`, 'guest_walker');
    await sleep(50);
  }
  const zc = await zoneChanged;
  assert.equal(zc.zone, target, 'arrived in the next zone');
  // Keep talking for a while in the new zone.
  for (let i = 0; i < 10; i++) {
    lastInput = walker.chat(ChatChannel.Say, `say${++said}`);
    whisperer.chat(ChatChannel.Whisper, `w${++whispered}`, 'guest_walker');
    await sleep(30);
  }
  await waitFor(() => own.length >= said && whispers.length >= whispered && walker.ackedInput >= lastInput, 10_000);
  wandering = false;
  await wander;

  assert.deepEqual(own, Array.from({ length: said }, (_, i) => `say${i + 1}`), 'every say heard once, in order, across the handoff');
  assert.deepEqual(whispers, Array.from({ length: whispered }, (_, i) => `w${i + 1}`), 'every whisper received once, in order');
  assert.equal(rejected, 0, 'no move was refused on the way');
  assert.equal(walker.pendingInputs, 0, 'every input acknowledged');
  assert.equal(walker.stats.reconnects, 0, 'no reconnect');
  assert.ok(((await metricValue(s.url, 'mmo_session_handoffs_total')) ?? 0) >= 1);
  assert.equal(await metricValue(s.url, 'mmo_session_duplicate_inputs_total'), 0);
  assert.equal(walker.zone, target);
});

