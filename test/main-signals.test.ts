// Signals during shutdown (src/main.ts). A supervisor may repeat SIGTERM while
// the server is saving (Kubernetes deletes an Agones pod once it hears
// Shutdown; systemd resends on stop): that must not cut the save short. An
// operator pressing Ctrl-C twice means "now".
//
// The shutdown is held open on purpose, not raced: a zone is hung (debug
// fault injection) with a player in it, so the shutdown waits for that
// zone's answer for half of server.shutdownTimeoutMs before it goes on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, gatewayThreadArgs, type TestServer } from './helpers/server.js';
import { RawClient } from './helpers/raw-client.js';

async function serverWithHungZone(): Promise<{ s: TestServer; c: RawClient }> {
  const s = await startServer({ args: ['--server.shutdownTimeoutMs=8000', '--debug.faultInjection=true', ...gatewayThreadArgs()] });
  const c = await RawClient.open(s.wsUrl);
  c.hello('sig');
  await c.welcome();
  const r = await fetch(`${s.url}/debug/zones/1/fault?mode=hang`, { method: 'POST' });
  assert.equal(r.status, 202);
  return { s, c };
}

test('a repeated SIGTERM during shutdown is ignored: the shutdown goes on and exits 0', { timeout: 30_000 }, async () => {
  const { s } = await serverWithHungZone();
  s.child.kill('SIGTERM');
  await s.waitForLog((l) => l.msg === 'shutting down', 5000);
  s.child.kill('SIGTERM');
  await s.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('signal during shutdown ignored'), 5000);
  assert.equal(await s.exited, 0, s.stderr());
  assert.ok(s.logs.some((l) => l.msg === 'shutdown complete'));
  assert.ok(!s.logs.some((l) => l.msg === 'second signal: exiting now'));
});

test('a second SIGINT during shutdown exits at once with 1', { timeout: 30_000 }, async () => {
  const { s } = await serverWithHungZone();
  s.child.kill('SIGINT');
  await s.waitForLog((l) => l.msg === 'shutting down', 5000);
  s.child.kill('SIGINT');
  assert.equal(await s.exited, 1);
  assert.ok(s.logs.some((l) => l.msg === 'second signal: exiting now'));
  assert.ok(!s.logs.some((l) => l.msg === 'shutdown complete'), 'it did not wait for the hung zone');
});
