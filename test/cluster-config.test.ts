// cluster.*: off by default; with cluster.natsUrl set, start-up refuses what
// nodes cannot share (per-node SQLite, a generated token secret) and a
// placement that names no zone of the layout: exit 2, the key named.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli, tempDir } from './helpers/server.js';
import { loadConfig } from '../src/config/loader.js';
import { startupIssues } from '../src/config/validate.js';
import { ConfigError, type ConfigIssue } from '../src/config/errors.js';

/** The issues loading this configuration raises (loadConfig runs the start-up checks). */
function issuesOf(argv: string[], env: Record<string, string> = {}): ConfigIssue[] {
  try {
    return startupIssues(loadConfig({ argv, env }).config).issues;
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
}

const SECRET = 'k'.repeat(40);

test('cluster is off by default and a default config has no cluster issue', () => {
  const { config } = loadConfig({ argv: [], env: {} });
  assert.equal(config.cluster.natsUrl, '');
  assert.deepEqual(config.cluster.ownedZones, []);
  assert.deepEqual(startupIssues(config).issues, []);
});

test('cluster on with SQLite and a generated token secret: both keys named', () => {
  const keys = issuesOf(['--cluster.natsUrl=nats://127.0.0.1:4222', '--cluster.ownedZones=1', '--zones.count=2']).map((i) => i.key);
  assert.deepEqual(keys.sort(), ['auth.tokenSecret', 'persist.postgresUrl']);
});

test('cluster placement must name distinct zones of the layout; heartbeat at most half the timeout', () => {
  const base = ['--cluster.natsUrl=nats://127.0.0.1:4222', '--persist.postgresUrl=postgres://x@127.0.0.1/db', '--zones.count=4'];
  const env = { MMO_AUTH__TOKEN_SECRET: SECRET };
  const none = issuesOf(base, env);
  assert.deepEqual(none.map((i) => i.key), ['cluster.ownedZones']);
  const outside = issuesOf([...base, '--cluster.ownedZones=2,9'], env);
  assert.equal(outside.length, 1);
  assert.match(outside[0]!.allowed, /not zones: 9/);
  const dup = issuesOf([...base, '--cluster.ownedZones=2,2'], env);
  assert.deepEqual(dup.map((i) => i.key), ['cluster.ownedZones']);
  const hb = issuesOf([...base, '--cluster.ownedZones=1,2', '--cluster.heartbeatMs=2000', '--cluster.nodeTimeoutMs=3000'], env);
  assert.deepEqual(hb.map((i) => i.key), ['cluster.heartbeatMs']);
  const ok = issuesOf([...base, '--cluster.ownedZones=1,2'], env);
  assert.deepEqual(ok, []);
});

test('cluster.publicUrl: a ws(s):// URL of at most 110 characters (it goes in a close reason); empty derives one from net.*', async () => {
  const { publicUrlOf } = await import('../src/cluster/node.js');
  const base = ['--cluster.natsUrl=nats://127.0.0.1:4222', '--persist.postgresUrl=postgres://x@127.0.0.1/db', '--zones.count=2', '--cluster.ownedZones=1'];
  const env = { MMO_AUTH__TOKEN_SECRET: SECRET };
  assert.deepEqual(issuesOf([...base, '--cluster.publicUrl=wss://game.example.com/ws'], env), []);
  for (const bad of ['http://10.0.0.5:7777/ws', `ws://${'h'.repeat(110)}/ws`]) {
    assert.deepEqual(issuesOf([...base, `--cluster.publicUrl=${bad}`], env).map((i) => i.key), ['cluster.publicUrl'], bad);
  }
  const cfg = (args: string[]) => loadConfig({ argv: [...base, ...args], env }).config;
  assert.equal(publicUrlOf(cfg(['--cluster.publicUrl=ws://10.0.0.5:7777/ws']), 1234), 'ws://10.0.0.5:7777/ws');
  assert.equal(publicUrlOf(cfg(['--net.host=10.1.2.3', '--net.wsPath=/game']), 7001), 'ws://10.1.2.3:7001/game');
  assert.equal(publicUrlOf(cfg(['--net.host=::1']), 7001), 'ws://[::1]:7001/ws');
  const { hostname } = await import('node:os');
  assert.equal(publicUrlOf(cfg([]), 7777), `ws://${hostname()}:7777/ws`, '0.0.0.0: the host name');
});

test('start-up with cluster.natsUrl on SQLite exits 2 naming persist.postgresUrl and auth.tokenSecret', async () => {
  const r = await runCli(['--net.port=0', '--net.host=127.0.0.1', `--server.dataDir=${tempDir()}`, '--cluster.natsUrl=nats://127.0.0.1:1', '--cluster.ownedZones=1']);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stderr, /persist\.postgresUrl .*per-node SQLite files cannot share players/);
  assert.match(r.stderr, /auth\.tokenSecret .*the same secret/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});

test('a single process loads nothing of src/cluster: no static import reaches it from main.ts', async () => {
  const { readFileSync } = await import('node:fs');
  const { dirname, resolve } = await import('node:path');
  const { fileURLToPath } = await import('node:url');
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '../src');
  const seen = new Set<string>();
  const reached: string[] = [];
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    // Compiled JS: type-only imports are gone; `import(...)` (dynamic) is not matched.
    for (const m of text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+['"](\.[^'"]+)['"]/gm)) {
      const dep = resolve(dirname(file), m[1]!);
      if (dep.includes('/cluster/')) reached.push(`${file} -> ${dep}`);
      else if (dep.startsWith(root)) visit(dep);
    }
  };
  visit(resolve(root, 'main.js'));
  assert.ok(seen.size > 50, `walked the import graph (${seen.size} files)`);
  assert.ok([...seen].some((f) => f.endsWith('/server.js')), 'server.js is reached');
  assert.deepEqual(reached, []);
});
