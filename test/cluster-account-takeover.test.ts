// AccountTakeover on its own, with a stand-in for NATS, a directory fed by
// hand and a fake clock: a login waits until every alive node has let go of
// the account and saved it; a node that could not save refuses the login; a
// node that is silent until cluster.nodeTimeoutMs, or is marked gone while
// the question is open, does not hold the login; the node asked lets go with
// half the wait as its bound and answers the asker.

import { test, mock, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Directory, type Heartbeat } from '../src/cluster/directory.js';
import { AccountTakeover, ACCOUNT_SUBJECT, accountReplySubject, MAX_OPEN_TAKEOVERS } from '../src/cluster/account-takeover.js';

const WAIT_MS = 2000;
const hb = (node: string): Heartbeat => ({ v: 1, node, seq: 1, boot: 1, owned: [], up: [], sessions: 0, proxies: 0, elu: 0 });
const json = (o: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(o));

beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
afterEach(() => mock.timers.reset());

function setup(letGo: (account: number, by: string, within: number) => Promise<boolean> = () => Promise.resolve(true)) {
  const sent: Array<{ subject: string; body: Record<string, unknown> }> = [];
  const link = { up: true, publish: (subject: string, data: Uint8Array) => void sent.push({ subject, body: JSON.parse(new TextDecoder().decode(data)) as Record<string, unknown> }) };
  const dir = new Directory('b', 10_000);
  dir.note(hb('a'), 0);
  dir.note(hb('c'), 0);
  const warnings: string[] = [];
  const t = new AccountTakeover('b', link, dir, WAIT_MS, { letGo }, (_o, m) => warnings.push(m));
  return { sent, link, dir, t, warnings };
}

/** Whether the promise has settled after the pending microtasks ran. */
async function settled<T>(p: Promise<T>): Promise<{ done: boolean; value?: T }> {
  let out: { done: boolean; value?: T } = { done: false };
  void p.then((value) => (out = { done: true, value }));
  for (let i = 0; i < 5; i++) await Promise.resolve();
  return out;
}

test('account takeover: the login goes ahead once every alive node said saved, not before', async () => {
  const { sent, t } = setup();
  const p = t.ask(7);
  assert.equal(sent.length, 1);
  assert.equal(sent[0]!.subject, ACCOUNT_SUBJECT);
  assert.deepEqual(sent[0]!.body, { id: 1, node: 'b', account: 7 });
  t.onAnswer(json({ id: 1, node: 'a', saved: true }));
  assert.equal((await settled(p)).done, false, 'c has not answered yet');
  t.onAnswer(json({ id: 1, node: 'a', saved: true })); // a duplicate answer counts once
  t.onAnswer(json({ id: 1, node: 'x', saved: true })); // a node not asked does not count
  assert.equal((await settled(p)).done, false);
  t.onAnswer(json({ id: 1, node: 'c', saved: true }));
  assert.deepEqual(await settled(p), { done: true, value: null });
  assert.equal(t.asks, 1);
  assert.equal(t.refused, 0);
});

test('account takeover: a node that could not save the player refuses the login with a retry', async () => {
  const { t } = setup();
  const p = t.ask(7);
  t.onAnswer(json({ id: 1, node: 'a', saved: false }));
  t.onAnswer(json({ id: 1, node: 'c', saved: true }));
  const r = await p;
  assert.match(r ?? '', /still being saved on node a; retry-after-ms=1000/);
  assert.equal(t.refused, 1);
});

test('account takeover: a silent node holds the login for cluster.nodeTimeoutMs and a tenth at most; a node marked gone not at all', async () => {
  const { t, dir, warnings } = setup();
  const p = t.ask(7);
  t.onAnswer(json({ id: 1, node: 'a', saved: true }));
  mock.timers.tick(WAIT_MS * 1.1 - 1); // past nodeTimeoutMs, as long as a dead node may take to be marked gone
  assert.equal((await settled(p)).done, false);
  mock.timers.tick(1);
  assert.deepEqual(await settled(p), { done: true, value: null }, 'c stayed silent: the login goes ahead');
  assert.equal(t.unanswered, 1);
  assert.equal(warnings.length, 1);

  const q = t.ask(8);
  t.onAnswer(json({ id: 2, node: 'c', saved: true }));
  dir.sweep(20_000); // a is not heard from any more: marked gone
  t.nodeGone('a');
  assert.deepEqual(await settled(q), { done: true, value: null }, 'no waiting for a node that is gone');
  assert.equal(t.unanswered, 1);
});

test('account takeover: nobody to ask (no peers, NATS away) goes ahead at once; too many open questions refuse', async () => {
  const { t, link, sent } = setup();
  link.up = false;
  assert.equal(await t.ask(7), null);
  assert.equal(sent.length, 0);
  link.up = true;
  for (let i = 0; i < MAX_OPEN_TAKEOVERS; i++) void t.ask(i);
  assert.match((await t.ask(99_999)) ?? '', /retry-after-ms/);
  t.stop();
  const alone = new AccountTakeover('b', link, new Directory('b', 10_000), WAIT_MS, { letGo: () => Promise.resolve(true) });
  assert.equal(await alone.ask(1), null);
});

test('account takeover: the node asked lets go of the account within half the wait and answers the asker', async () => {
  const calls: Array<[number, string, number]> = [];
  let finish: (saved: boolean) => void = () => undefined;
  const { t, sent } = setup((account, by, within) => {
    calls.push([account, by, within]);
    return new Promise((r) => (finish = r));
  });
  t.onAsk(json({ id: 5, node: 'a', account: 42 }));
  t.onAsk(json({ id: 6, node: 'b', account: 42 })); // its own question: ignored
  t.onAsk(json({ id: 7, node: 'bad node!', account: 42 })); // not a node id: ignored
  t.onAsk(new TextEncoder().encode('{not json'));
  assert.deepEqual(calls, [[42, 'a', WAIT_MS / 2]]);
  await settled(Promise.resolve());
  assert.equal(sent.length, 0, 'no answer before the player is saved');
  finish(true);
  await settled(Promise.resolve());
  assert.deepEqual(sent, [{ subject: accountReplySubject('a'), body: { id: 5, node: 'b', saved: true } }]);
});
