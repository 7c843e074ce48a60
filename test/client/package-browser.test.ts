// The package's browser bundle in a real browser (Debian's chromium, headless,
// no network beyond loopback): a page from a plain static server imports
// mmo-client.min.js as an ES module, plays against a real game server over
// the browser's own WebSocket, saves its session, and a reload continues it
// from sessionStorage (the tab-reload case of docs/getting-started.md).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import puppeteer, { type Browser } from 'puppeteer-core';
import { startServer, tempDir, type TestServer } from '../helpers/server.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const CHROMIUM = '/usr/bin/chromium'; // Debian's (.ci/run installs it); never a downloaded browser
let browser: Browser | null = null;
let web: Server | null = null;
const servers: TestServer[] = [];
after(async () => {
  await browser?.close();
  web?.close();
  for (const s of servers) await s.stop();
});

// Two loads of one page: the first logs in as a guest and saves its session
// on pagehide; the second (after the reload) resumes from what was saved.
const PAGE = (wsUrl: string) => `<!doctype html><meta charset="utf-8"><title>sdk</title>
<script type="module">
import { connect, SAVED_SESSION_VERSION } from './mmo-client.min.js';
const saved = JSON.parse(sessionStorage.getItem('mmo') ?? 'null');
const client = saved ? connect(${JSON.stringify(wsUrl)}, { resume: saved }) : connect(${JSON.stringify(wsUrl)}, { guestName: 'webby' });
addEventListener('pagehide', () => sessionStorage.setItem('mmo', JSON.stringify(client.savedSession())));
const w = await client.once('welcome');
if (!saved) await client.once('snapshot');
const seq = client.move(client.self.x + 1, client.self.y);
while (client.ackedInput < seq) await new Promise((r) => setTimeout(r, 20));
window.__result = { v: SAVED_SESSION_VERSION, resumed: w.resumed, entityId: w.entityId, sessionId: w.sessionId, name: w.name, seq, self: client.self && { x: client.self.x, y: client.self.y } };
</script>`;

test('the browser bundle plays in chromium and a page reload resumes the same session from sessionStorage', { timeout: 90_000}, async () => {
  const s = await startServer({ args: ['--zones.count=1', '--zones.npcsPerZone=0'] });
  servers.push(s);
  const dist = join(tempDir('mmo-client-web-'), 'dist');
  mkdirSync(dist, { recursive: true });
  const r = spawnSync(process.execPath, [join(root, 'scripts/build-client.mjs'), '--out', dist, '--quiet'], { cwd: root, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const bundle = readFileSync(join(dist, 'mmo-client.min.js'));
  const page = PAGE(s.wsUrl);
  web = createServer((req, res) => {
    if (req.url === '/mmo-client.min.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    else if (req.url === '/' || req.url === '/index.html') res.writeHead(200, { 'content-type': 'text/html' }).end(page);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => web!.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(web.address() as AddressInfo).port}/`;

  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: tempDir('mmo-chromium-'),
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const tab = await browser.newPage();
  const errors: string[] = [];
  tab.on('pageerror', (e) => errors.push(String(e)));
  await tab.goto(url);
  await tab.waitForFunction('window.__result', { timeout: 20_000 });
  const first = (await tab.evaluate('window.__result')) as { resumed: boolean; entityId: number; sessionId: number; name: string; seq: number };
  assert.equal(first.resumed, false);
  assert.equal(first.name, 'guest_webby');

  await tab.reload();
  await tab.waitForFunction('window.__result', { timeout: 20_000 });
  const second = (await tab.evaluate('window.__result')) as typeof first;
  assert.deepEqual(errors, []);
  assert.equal(second.resumed, true, 'the reloaded page resumed');
  assert.equal(second.sessionId, first.sessionId);
  assert.equal(second.entityId, first.entityId, 'the same entity');
  assert.equal(second.seq, first.seq + 1, 'input seqs continued across the reload');
});
