// ResumeLookup on its own, with a stand-in for NATS and a directory fed by
// hand: the first `held` answer names the holder's announced URL; all peers
// saying no, or silence until cluster.requestTimeoutMs, is null; a holder that
// announced no URL is no redirect; the holder checks the token it is sent;
// past MAX_OPEN_LOOKUPS a resume is refused without asking.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Directory, type Heartbeat } from '../src/cluster/directory.js';
import { ResumeLookup, MAX_OPEN_LOOKUPS, RESUME_SUBJECT, resumeReplySubject } from '../src/cluster/resume-lookup.js';

// The lookup's timers are unref'd (they must not keep a server alive): this keeps the test's event loop up while it waits on one.
const keepAlive = setInterval(() => undefined, 1000);
after(() => clearInterval(keepAlive));

const hb = (node: string, url: string): Heartbeat => ({ v: 1, node, seq: 1, boot: 1, owned: [], up: [], sessions: 0, proxies: 0, elu: 0, url });
const json = (o: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(o));

function setup(timeoutMs = 1000) {
  const sent: Array<{ subject: string; body: Record<string, unknown> }> = [];
  const link = { up: true, publish: (subject: string, data: Uint8Array) => void sent.push({ subject, body: JSON.parse(new TextDecoder().decode(data)) as Record<string, unknown> }) };
  const dir = new Directory('b', 10_000);
  dir.note(hb('a', 'ws://10.0.0.1:7777/ws'), 0);
  dir.note(hb('c', ''), 0);
  const lookup = new ResumeLookup('b', link, dir, timeoutMs, () => false);
  return { sent, link, dir, lookup };
}

test('resume lookup: the first node that holds the session names its URL; all saying no is null', async () => {
  const { sent, lookup } = setup();
  const p = lookup.ask(42, new Uint8Array([1, 2, 3]));
  assert.equal(sent.length, 1);
  assert.equal(sent[0]!.subject, RESUME_SUBJECT);
  assert.deepEqual(sent[0]!.body, { id: 1, node: 'b', session: 42, token: 'AQID' });
  lookup.onAnswer(json({ id: 1, node: 'c', held: false }));
  lookup.onAnswer(json({ id: 1, node: 'a', held: true }));
  assert.equal(await p, 'ws://10.0.0.1:7777/ws');
  assert.equal(lookup.redirects, 1);

  const q = lookup.ask(43, new Uint8Array([9]));
  lookup.onAnswer(json({ id: 2, node: 'a', held: false }));
  lookup.onAnswer(json({ id: 2, node: 'c', held: true })); // holds it but announced no URL: nowhere to send the client
  assert.equal(await q, null);
  assert.equal(lookup.lookups, 2);
  assert.equal(lookup.redirects, 1);
  lookup.onAnswer(new Uint8Array([0xff])); // garbage is ignored
});

test('resume lookup: silence until the timeout is null; no peer or NATS down answers at once without asking', async () => {
  const { sent, link, lookup } = setup(30);
  const t0 = performance.now();
  assert.equal(await lookup.ask(1, new Uint8Array(16)), null);
  assert.ok(performance.now() - t0 >= 25);
  link.up = false;
  assert.equal(await lookup.ask(1, new Uint8Array(16)), null);
  assert.equal(sent.length, 1, 'nothing published while NATS is down');
  const alone = new ResumeLookup('b', { up: true, publish: () => assert.fail('nobody to ask') }, new Directory('b', 1000), 1000, () => false);
  assert.equal(await alone.ask(1, new Uint8Array(16)), null);
});

test('resume lookup: the holder checks the token it is sent and answers on the asker\'s subject', () => {
  const sent: Array<{ subject: string; body: Record<string, unknown> }> = [];
  const link = { up: true, publish: (subject: string, data: Uint8Array) => void sent.push({ subject, body: JSON.parse(new TextDecoder().decode(data)) as Record<string, unknown> }) };
  const seen: Array<[number, string]> = [];
  const holder = new ResumeLookup('a', link, new Directory('a', 1000), 1000, (session, token) => {
    seen.push([session, Buffer.from(token).toString('hex')]);
    return session === 42 && Buffer.from(token).toString('hex') === '010203';
  });
  holder.onAsk(json({ id: 7, node: 'b', session: 42, token: 'AQID' }));
  holder.onAsk(json({ id: 8, node: 'b', session: 42, token: 'AAAA' }));
  holder.onAsk(json({ id: 9, node: 'a', session: 42, token: 'AQID' })); // its own question: no answer
  holder.onAsk(json({ id: 9, node: 'b.>', session: 42, token: 'AQID' })); // not a node id: no answer on a wildcard subject
  holder.onAsk(new Uint8Array([0xff]));
  assert.deepEqual(seen, [[42, '010203'], [42, '000000']]);
  assert.deepEqual(sent, [
    { subject: resumeReplySubject('b'), body: { id: 7, node: 'a', held: true } },
    { subject: resumeReplySubject('b'), body: { id: 8, node: 'a', held: false } },
  ]);
});

test('resume lookup: past MAX_OPEN_LOOKUPS open questions a resume is refused without asking', async () => {
  const { sent, lookup } = setup(60_000);
  const open = Array.from({ length: MAX_OPEN_LOOKUPS }, (_, i) => lookup.ask(i + 1, new Uint8Array(16)));
  assert.equal(await lookup.ask(999_999, new Uint8Array(16)), null);
  assert.equal(sent.length, MAX_OPEN_LOOKUPS);
  assert.equal(lookup.shed, 1);
  lookup.stop(); // shutdown answers every open question
  assert.deepEqual(new Set(await Promise.all(open)), new Set([null]));
});
