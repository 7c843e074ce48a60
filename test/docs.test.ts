// The operator and client-developer docs stay true to the code:
// - docs/operations.md lists every metric the server registers: those a
//   running server (two gateway threads, so the thread metrics exist) shows
//   on /metrics, and every mmo_* name written in src/; and lists nothing that
//   is neither.
// - docs/protocol.md has one row per close code with the same name and the
//   same "resume" answer as isRetryable(), one row per message tag of each
//   union, and every ErrorCode and MoveReject number with its name.
// A new metric or code fails here until its line is written.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from './helpers/server.js';
import { CloseCode, isRetryable } from '../src/protocol/close-codes.js';
import { ErrorCode, MoveReject } from '../src/protocol/codes.js';
import { ClientBody } from '../src/protocol/generated/mmo/client-body.js';
import { ServerBody } from '../src/protocol/generated/mmo/server-body.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const doc = (name: string): string => readFileSync(join(ROOT, 'docs', name), 'utf8');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** mmo_* names quoted in src/ (registrations, and the names other code reads); a histogram's _bucket/_sum/_count folded into it. */
function namesInSource(): Set<string> {
  const all = new Set<string>();
  for (const f of sources(join(ROOT, 'src'))) {
    for (const m of readFileSync(f, 'utf8').matchAll(/['"`](mmo_[a-z0-9_]+)['"`]/g)) all.add(m[1]!);
  }
  const out = new Set<string>();
  for (const n of all) {
    const base = n.replace(/_(bucket|sum|count)$/, '');
    out.add(base !== n && all.has(base) ? base : n);
  }
  return out;
}

/** The metric names of docs/operations.md's tables (first cell of a row). */
function documentedMetrics(): Set<string> {
  return new Set([...doc('operations.md').matchAll(/^\| `(mmo_[a-z0-9_]+)` \|/gm)].map((m) => m[1]!));
}

test('docs/operations.md lists every metric the server registers, and no other', async () => {
  const s = await startServer({ args: ['--net.gatewayThreads=2', '--zones.count=1', '--zones.npcsPerZone=0'] });
  let text: string;
  try {
    text = await (await fetch(`${s.url}/metrics`)).text();
  } finally {
    assert.equal(await s.stop(), 0);
  }
  const served = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));
  assert.ok(served.size > 80 && served.has('mmo_gateway_threads'), `a full scrape with the thread metrics (${served.size} names)`);
  for (const n of served) assert.match(n, /^mmo_/, 'every metric is named mmo_*');
  const registered = new Set([...served, ...namesInSource()]);
  const documented = documentedMetrics();
  const missing = [...registered].filter((n) => !documented.has(n)).sort();
  assert.deepEqual(missing, [], `metrics missing from docs/operations.md (add a row to its Metrics tables): ${missing.join(', ')}`);
  const stale = [...documented].filter((n) => !registered.has(n)).sort();
  assert.deepEqual(stale, [], `docs/operations.md lists metrics the server does not have: ${stale.join(', ')}`);
});

test('docs/protocol.md has every close code, with its name and whether to resume', () => {
  const rows = new Map<number, { name: string; resume: string }>();
  for (const m of doc('protocol.md').matchAll(/^\| (\d{4}) \| (\w+) \| (yes|no) \|/gm)) {
    assert.ok(!rows.has(Number(m[1])), `close code ${m[1]} has two rows`);
    rows.set(Number(m[1]), { name: m[2]!, resume: m[3]! });
  }
  for (const [name, code] of Object.entries(CloseCode)) {
    const row = rows.get(code);
    assert.ok(row, `close code ${code} (${name}) is missing from docs/protocol.md's table`);
    assert.equal(row.name, name, `close code ${code}`);
    assert.equal(row.resume, isRetryable(code) ? 'yes' : 'no', `close code ${code} (${name}): isRetryable says ${isRetryable(code)}`);
  }
  const known = new Set<number>(Object.values(CloseCode));
  assert.deepEqual([...rows.keys()].filter((c) => !known.has(c)), [], 'rows for close codes the server does not have');
});

test('docs/protocol.md has every message of both unions and every error and move-reject code', () => {
  const md = doc('protocol.md');
  const client = md.slice(md.indexOf('Client to server (`ClientBody`)'), md.indexOf('Server to client (`ServerBody`)'));
  const server = md.slice(md.indexOf('Server to client (`ServerBody`)'), md.indexOf('## A session'));
  assert.ok(client.length > 0 && server.length > 0, 'both message tables are there');
  for (const [table, union] of [
    [client, ClientBody],
    [server, ServerBody],
  ] as const) {
    const rows = new Map([...table.matchAll(/^\| (\d+) \| `(\w+)` \|/gm)].map((m) => [Number(m[1]), m[2]!]));
    const tags = Object.entries(union).filter(([k, v]) => typeof v === 'number' && k !== 'NONE') as Array<[string, number]>;
    for (const [name, tag] of tags) assert.equal(rows.get(tag), name, `union tag ${tag} (${name})`);
    assert.equal(rows.size, tags.length, 'no rows for tags the schema does not have');
  }
  for (const [name, code] of [...Object.entries(ErrorCode), ...Object.entries(MoveReject)]) {
    assert.ok(new RegExp(`\\b${code}\\s+${name}\\b`).test(md), `"${code} ${name}" is missing from docs/protocol.md`);
  }
});
