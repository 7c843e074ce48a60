// The playable client (/play/) in real Chromium, its socket through the TCP
// fault proxy (/play/?ws=ws://127.0.0.1:PROXY/ws): it logs in as a guest,
// walks with the keyboard (the server agrees it moved), sees a Node SDK bot,
// chats both ways with it, and when the proxy resets its connection it shows
// "reconnecting", resumes the same session (same entity, no second guest
// login) and walks on. MMO_SCREENSHOTS=<dir> also saves play.png there.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { NetFaultProxy } from '../loadtest/netfault/index.js';
import { connect, ChatChannel, type ChatEvent, type MmoClient } from '../src/client/index.js';
import { launchBrowser, until, type TestBrowser } from './helpers/browser.js';
import { metricValue, startServer, type TestServer } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';

// Node 20 sometimes could not end this file's process: with every test passed
// and reported and all JS done, its environment cleanup (FreeEnvironment ->
// CleanupHandles) spun at full CPU on a TCP handle whose connect had failed,
// about one run in three here, and the runner waited for it forever. Once
// 'exit' is emitted the results are written and every helper's own exit
// listener (registered at import, so before this one) has killed its children
// and removed its folders: exit at once, skipping that cleanup.
process.once('exit', () => process.exit());

// The page-side callbacks below run in Chromium; the project compiles without
// the DOM library (adding it would leak browser globals into server code).
declare const document: any, window: any, MutationObserver: any;

const okLogins = (url: string) => metricValue(url, 'mmo_session_logins_total{result="ok"}');
const okResumes = (url: string) => metricValue(url, 'mmo_session_resumes_total{result="ok"}');

/** What the page knows about itself (window.__play). */
type PlayState = { connected: boolean; selfId: number; sessionId: number; x: number; y: number; sees: number[] };

test('the browser client joins, walks, sees and chats with a bot, and resumes after the proxy resets its socket', { timeout: 60_000 }, async () => {
  // One zone with every entity in view, so the bot is in sight wherever each of them spawns.
  const s: TestServer = await startServer({ args: ['--zones.count=1', '--zones.npcsPerZone=30', '--world.aoi.radius=1024', '--world.aoi.visibleCap=256'] });
  const proxy = await NetFaultProxy.start({ target: { host: '127.0.0.1', port: s.port }, lifetimeMs: 90_000 });
  let b: TestBrowser | null = null;
  let bot: MmoClient | null = null;
  try {
    bot = connect(s.wsUrl, { guestName: 'nodebot', clientName: 'browser-test' });
    const heard: ChatEvent[] = [];
    bot.on('chat', (m) => heard.push(m));
    const botSnap = await bot.once('snapshot');

    b = await launchBrowser();
    const { page, offsite, errors, failed } = await b.newPage({ width: 1000, height: 800 });
    const play = () =>
      page.evaluate(() => {
        const p = window.__play;
        const c = p.client;
        return {
          connected: !!c?.connected,
          selfId: p.selfId,
          sessionId: c?.sessionId ?? 0,
          x: p.me.x,
          y: p.me.y,
          sees: c ? [...c.entities.keys()] : [],
        };
      }) as Promise<PlayState>;
    await page.goto(`${s.url}/play/?ws=ws://127.0.0.1:${proxy.port}/ws`, { waitUntil: 'load' });
    await page.type('#name', 'chromeplay');
    await page.keyboard.press('Enter');
    await until(page, 'the page joins the game', () => window.__play.client?.connected && window.__play.me.known && window.__play.selfId > 0, {
      state: () => document.getElementById('status').textContent,
    });
    assert.match((await page.$eval('#status', (el) => el.textContent))!, /^connected: guest_chromeplay, zone 1$/);
    assert.equal(proxy.size, 1, 'its socket goes through the proxy');
    const joined = await play();
    assert.equal(await okLogins(s.url), 2, 'two guest logins: the bot and the page');

    // Walk right with the keyboard; the bot, another client, is told by the server that the page's player moved.
    const seenByBot = () => bot!.entities.get(joined.selfId);
    await waitFor(() => seenByBot() !== undefined, 5000, 'the bot sees the page player');
    const startX = seenByBot()!.x;
    await page.focus('#view');
    await page.keyboard.down('ArrowRight');
    await waitFor(() => seenByBot()!.x > startX + 3, 5000, () => `the server moves the page player 3 units right (server ${seenByBot()!.x})`);
    await page.keyboard.up('ArrowRight');
    const walked = await play();
    assert.ok(walked.x > joined.x + 3, 'the page moved its own player');
    assert.ok(Math.abs(walked.y - joined.y) < 0.5 && Math.abs(seenByBot()!.y - joined.y) < 0.5, 'a walk right keeps y');
    await waitFor(() => Math.abs(seenByBot()!.x - walked.x) < 0.5, 3000, () => `the server settles where the page stopped (${seenByBot()!.x} vs ${walked.x})`);

    // The page sees the bot (and NPCs), and draws it by name.
    await until(page, 'the page sees the bot', (id) => window.__play.client.entities.has(id), { state: () => window.__play.client.entities.size }, botSnap.selfId);
    const botSeen = await page.evaluate((id) => {
      const e = window.__play.client.entities.get(id);
      return { kind: e.kind, name: e.name, npcs: [...window.__play.client.entities.values()].filter((x: { kind: number }) => x.kind === 1).length };
    }, botSnap.selfId);
    assert.equal(botSeen.kind, 0, 'a player');
    assert.equal(botSeen.name, 'guest_nodebot');
    assert.ok(botSeen.npcs > 0, 'and NPCs');
    await until(page, 'the HUD counts what is in sight', () => / in sight$/.test(document.getElementById('hud').textContent) && !document.getElementById('hud').textContent.includes(' 0 in sight'));

    // Chat both ways on the zone channel.
    await page.select('#chat-channel', String(ChatChannel.Zone));
    await page.click('#chat-input');
    await page.type('#chat-input', 'hello from chromium');
    await page.keyboard.press('Enter');
    await waitFor(() => heard.some((m) => m.text === 'hello from chromium'), 5000, 'the bot hears the page');
    const line = heard.find((m) => m.text === 'hello from chromium')!;
    assert.equal(line.fromName, 'guest_chromeplay');
    assert.equal(line.channel, ChatChannel.Zone);
    bot.chat(ChatChannel.Zone, 'hello from node');
    await until(page, 'the page shows the bot\'s line', () => document.getElementById('chat-log').textContent.includes('guest_nodebot: hello from node'), {
      timeout: 5000,
      state: () => document.getElementById('chat-log').textContent,
    });
    if (process.env.MMO_SCREENSHOTS) await page.screenshot({ path: join(process.env.MMO_SCREENSHOTS, 'play.png') as `${string}.png` });

    // Cut the link (RST both ways). Every status the page shows is recorded, however briefly.
    await page.evaluate(() => {
      const el = document.getElementById('status');
      window.__statuses = [el.textContent];
      new MutationObserver(() => window.__statuses.push(el.textContent)).observe(el, { childList: true, characterData: true, subtree: true });
    });
    const resumesBefore = (await okResumes(s.url)) ?? 0;
    assert.equal(proxy.cut('all', 'rst'), 1);
    await until(page, 'the page says it is reconnecting, then it is back', () => window.__statuses.some((t: string) => t.startsWith('reconnecting')) && window.__play.client.connected, {
      timeout: 10_000,
      state: () => window.__statuses,
    });
    const statuses = (await page.evaluate(() => window.__statuses)) as string[];
    const lost = statuses.findIndex((t) => t.startsWith('reconnecting'));
    assert.ok(lost >= 1, `"reconnecting" shown after the cut: ${JSON.stringify(statuses)}`);
    assert.ok(statuses.slice(lost).some((t) => t === 'connected: guest_chromeplay, zone 1'), `then connected again: ${JSON.stringify(statuses)}`);
    await until(page, 'the page says the session was resumed', () => document.getElementById('chat-log').textContent.includes('link restored (session resumed'));
    const resumed = await play();
    assert.equal(resumed.selfId, joined.selfId, 'same entity');
    assert.equal(resumed.sessionId, joined.sessionId, 'same session');
    assert.equal(await okLogins(s.url), 2, 'no new guest login');
    assert.equal(await okResumes(s.url), resumesBefore + 1, 'one resume');
    assert.equal(proxy.stats.accepted, 2, 'the page came back through the proxy');

    // And it walks on: down, as far as the server is concerned.
    const downFrom = seenByBot()!.y;
    await page.focus('#view');
    await page.keyboard.down('ArrowDown');
    await waitFor(() => seenByBot()!.y > downFrom + 3, 5000, () => `the server moves the page player down after the resume (${seenByBot()!.y} from ${downFrom})`);
    await page.keyboard.up('ArrowDown');
    const after = await play();
    assert.ok(after.y > resumed.y + 3 && Math.abs(after.x - resumed.x) < 0.5, 'the page walked down, x kept');

    assert.deepEqual(offsite(), [], 'the page loads nothing from off this machine');
    assert.deepEqual(failed, [], 'no request failed');
    // The cut socket may be reported on the console; nothing else may be.
    assert.deepEqual(errors.filter((e) => !/WebSocket/i.test(e)), [], 'no page errors');
  } finally {
    bot?.close();
    await b?.close();
    await proxy.close();
    await s.stop();
  }
});
