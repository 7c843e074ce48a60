// The content API through the real server: world.content names the test
// game (test/fixtures/content-game.ts, compiled); a player connected with the
// SDK is greeted by its onJoin, has a custom input echoed, sees a throwing
// hook counted in /metrics, and a hook that keeps throwing crashes the zone,
// which the supervisor restarts with the player still playing. A content
// module that is missing or invalid stops start-up with exit 2 naming it.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, runCli, metricValue, tempDir, type TestServer } from './helpers/server.js';
import { connect, ErrorCode, type MmoClient, type CustomEvent } from '../src/client/index.js';
import { waitFor } from './helpers/wait.js';
import { BOOM, ECHO, ECHOED, HELLO } from './fixtures/content-game.js';

const GAME = fileURLToPath(new URL('./fixtures/content-game.js', import.meta.url));

describe('a server running a content module', () => {
  let s: TestServer;
  let c: MmoClient;
  const custom: CustomEvent[] = [];
  const errors: Array<{ code: number; refSeq: number }> = [];

  before(async () => {
    s = await startServer({ args: [`--world.content=${GAME}`, '--zones.count=1', '--zones.size=256', '--world.contentMaxConsecutiveErrors=3', '--zones.checkpointIntervalMs=200'] });
    c = connect(s.wsUrl, { guestName: 'slimer' });
    c.on('custom', (m) => custom.push(m));
    c.on('error', (e) => errors.push({ code: e.code, refSeq: e.refSeq }));
    await c.once('snapshot');
  });
  after(async () => {
    c?.close();
    assert.equal(await s.stop(), 0);
  });

  test('onJoin greets, a Custom input comes back as a Custom message, the slimes are in the zone', async () => {
    await waitFor(() => custom.some((m) => m.kind === HELLO), 5000, 'the HELLO from onJoin');
    assert.deepEqual([...custom.find((m) => m.kind === HELLO)!.data], [1], 'payload: the zone id');
    c.custom(ECHO, new Uint8Array([4, 5, 6]));
    await waitFor(() => custom.some((m) => m.kind === ECHOED), 5000, 'the echo');
    assert.deepEqual([...custom.find((m) => m.kind === ECHOED)!.data], [4, 5, 6]);
    const seq = c.custom(4242);
    await waitFor(() => errors.some((e) => e.refSeq === seq), 5000, 'a refusal of an unknown kind');
    assert.equal(errors.find((e) => e.refSeq === seq)!.code, ErrorCode.invalidInput);
    assert.equal(await metricValue(s.url, 'mmo_zone_npcs{zone="1"}'), 3, 'the content spawns three slimes and nothing else');
  });

  test('a hook that throws is counted and logged; three in a row crash the zone, it is restarted, the game goes on', async () => {
    const faults = () => metricValue(s.url, 'mmo_zone_content_hook_faults_total{zone="1",reason="threw"}');
    assert.equal(await faults(), 0);
    c.custom(BOOM);
    await waitFor(async () => (await faults()) === 1, 5000, 'the throw counted');
    await s.waitForLog((l) => l.msg === 'content hook onInput threw' && l.hook === 'onInput');
    // An echo in between resets the run of throws; then three in a row.
    custom.length = 0;
    c.custom(ECHO, new Uint8Array([1]));
    await waitFor(() => custom.some((m) => m.kind === ECHOED), 5000, 'the echo between');
    assert.equal(await metricValue(s.url, 'mmo_zone_restarts_total{zone="1"}'), 0);
    c.custom(BOOM);
    c.custom(BOOM);
    c.custom(BOOM);
    await s.waitForLog((l) => l.msg === 'zone recovered', 15_000);
    assert.equal(await metricValue(s.url, 'mmo_zone_restarts_total{zone="1"}'), 1);
    custom.length = 0;
    c.custom(ECHO, new Uint8Array([2]));
    await waitFor(() => custom.some((m) => m.kind === ECHOED), 10_000, 'an echo from the restarted zone');
    assert.deepEqual([...custom.find((m) => m.kind === ECHOED)!.data], [2]);
  });
});

describe('a content module that cannot be used stops start-up', () => {
  const dir = tempDir('mmo-content-bad-');
  const bad = join(dir, 'bad.mjs');
  writeFileSync(bad, "export default { name: 'bad', npcs: {}, spawns: [{ npc: 'dragon', count: 1 }] };\n");

  test('invalid definitions: exit 2 naming the file and the problem, at start-up and in --check-config', async () => {
    const s = await startServer({ args: [`--world.content=${bad}`], expectExit: true });
    assert.equal(await s.exited, 2);
    const all = JSON.stringify(s.logs) + s.stderr();
    assert.match(all, /bad\.mjs/);
    assert.match(all, /spawns\[0\]\.npc \\?"dragon\\?" is not in npcs/);
    const r = await runCli(['--check-config', `--world.content=${bad}`]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /bad\.mjs[\s\S]*spawns\[0\]\.npc "dragon" is not in npcs/);
  });

  test('a missing file: exit 2 naming it; the test game passes --check-config', async () => {
    const r = await runCli(['--check-config', `--world.content=${join(dir, 'nope.js')}`]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /world\.content: no such file .*nope\.js/);
    const ok = await runCli(['--check-config', `--world.content=${GAME}`]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /content .*content-game\.js/);
  });
});
