// The operations dashboard in real Chromium (Debian's, through puppeteer-core)
// against a real server: a wrong token is refused on the login form; the
// right one opens the dashboard, whose live player count follows an SDK bot
// joining and matches the server's own gauge; the charts are drawn; the zones
// table lists every zone; the world viewer draws the bot, follows it as it
// walks, and shows its state when clicked; the sessions table finds the bot by
// name and its kick button closes the bot's socket with the kick code. Every
// wait is for a condition, with a bound. Screenshots of the dashboard and the
// viewer are saved under a temp dir, or in MMO_SCREENSHOTS=<dir> when set
// (scripts/screenshots.mjs uses that to refresh docs/).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type MmoClient } from '../src/client/index.js';
import { CloseCode } from '../src/protocol/close-codes.js';
import { launchBrowser, until, type TestBrowser } from './helpers/browser.js';
import { metricValue, startServer, tempDir, type TestServer } from './helpers/server.js';
import { waitFor } from './helpers/wait.js';

// The page-side callbacks below run in Chromium; the project compiles without
// the DOM library (adding it would leak browser globals into server code).
declare const document: any, window: any, sessionStorage: any, getComputedStyle: any;

const TOKEN = 'browser-admin-token-0123456789abcdef';

interface Bot {
  c: MmoClient;
  /** The name the server gave it (guests get a prefix). */
  name: string;
  selfId: number;
  zone: number;
  x: number;
  y: number;
  closed: Promise<{ code: number; reason: string }>;
  kicked: { code: number; reason: string | null } | null;
}

async function joinBot(s: TestServer, name: string): Promise<Bot> {
  const c = connect(s.wsUrl, { guestName: name, clientName: 'browser-test' });
  const closed = c.once('close');
  const welcome = c.once('welcome');
  const snap = await c.once('snapshot');
  const bot: Bot = { c, name: (await welcome).name, selfId: snap.selfId, zone: snap.zone, x: c.self!.x, y: c.self!.y, closed, kicked: null };
  c.on('kicked', (k) => (bot.kicked = k));
  return bot;
}

/** Walks the bot dx units along x in steps the server's speed limit allows (8 u/s). */
async function walk(bot: Bot, dx: number): Promise<void> {
  const steps = Math.ceil(Math.abs(dx) / 0.5);
  for (let i = 0; i < steps; i++) {
    bot.x += Math.sign(dx) * 0.5;
    bot.c.move(bot.x, bot.y);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function sessionsOnline(url: string): Promise<number> {
  return ((await metricValue(url, 'mmo_sessions{state="connected"}')) ?? 0) + ((await metricValue(url, 'mmo_sessions{state="zombie"}')) ?? 0);
}

test('the dashboard in Chromium: login, live figures, charts, zones, world viewer, sessions search and kick', { timeout: 60_000 }, async () => {
  const s = await startServer({ args: ['--zones.count=2', '--auth.rateLimitBurst=20'], env: { MMO_ADMIN__TOKEN: TOKEN } });
  let b: TestBrowser | null = null;
  const bots: Bot[] = [];
  const shots = process.env.MMO_SCREENSHOTS ?? tempDir('mmo-shots-');
  const shot = (name: string) => join(shots, name) as `${string}.png`;
  try {
    b = await launchBrowser();
    const { page, offsite, errors, failed } = await b.newPage({ width: 1400, height: 1000 });
    const text = (sel: string) => page.$eval(sel, (el) => el.textContent);
    const tileIs = (v: string) =>
      until(page, `the players tile shows ${v}`, (want) => document.getElementById('tile-players-online')?.textContent === want, { timeout: 5000, state: () => document.getElementById('tile-players-online')?.textContent }, v);
    await page.goto(`${s.url}/admin/`, { waitUntil: 'load' });
    await page.waitForSelector('#login:not([hidden])');

    // A wrong token: an error on the form, the dashboard stays shut, nothing is kept.
    await page.type('#token', `${TOKEN}-wrong`);
    await page.keyboard.press('Enter');
    await until(page, 'the form says the token is wrong', () => document.getElementById('login-error').textContent === 'wrong token', { state: () => document.getElementById('login-error').textContent });
    assert.equal(await page.$eval('#app', (el) => (el as any).hidden), true, 'the dashboard stays hidden');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('mmo-admin-token')), null, 'a refused token is not kept');
    await page.reload();
    await page.waitForSelector('#login:not([hidden])');
    assert.equal(await text('#live-state'), 'connecting', 'after a reload: still the form, no live stream');

    // The right token opens it and is kept for this tab.
    await page.type('#token', TOKEN);
    await page.click('#login button[type=submit]');
    await until(page, 'the dashboard opens and its live stream runs', () => !document.getElementById('app').hidden && document.getElementById('live-state').textContent === 'live', {
      state: () => [document.getElementById('app').hidden, document.getElementById('live-state').textContent, document.getElementById('login-error').textContent],
    });
    assert.equal(await page.evaluate(() => sessionStorage.getItem('mmo-admin-token')), TOKEN);
    assert.equal(await page.$eval('#login', (el) => getComputedStyle(el).display), 'none', 'the login form is gone from the screen');

    // Live figures: nobody yet, then bots join and the tile follows the server's gauge.
    await tileIs('0');
    const bot = await joinBot(s, 'viewbot');
    bots.push(bot);
    await tileIs('1');
    assert.equal(Number(await text('#tile-players-online')), await sessionsOnline(s.url), 'the tile matches the server gauge');
    const other = await joinBot(s, 'bystander');
    bots.push(other);
    await tileIs('2');
    assert.equal(Number(await text('#tile-players-online')), await sessionsOnline(s.url));

    // Charts: uPlot canvases, the players series (#2563eb) stroked on one of them.
    await until(
      page,
      'a chart canvas has the players line drawn on it',
      () => {
        for (const c of document.querySelectorAll('#charts canvas')) {
          const g = c.getContext('2d');
          if (!g || c.width === 0 || c.height === 0) continue;
          const d = g.getImageData(0, 0, c.width, c.height).data;
          for (let i = 0; i < d.length; i += 4) {
            if (d[i + 3] > 200 && Math.abs(d[i] - 0x25) < 24 && Math.abs(d[i + 1] - 0x63) < 24 && Math.abs(d[i + 2] - 0xeb) < 24) return true;
          }
        }
        return false;
      },
      { timeout: 8000, state: () => document.querySelectorAll('#charts canvas').length },
    );
    assert.ok((await page.$$('#charts .chart')).length >= 6, 'one chart per figure');
    await page.screenshot({ path: shot('dashboard.png') });

    // Zones table: both zones, up, holding both bots.
    await page.click('nav button[data-tab=zones]');
    await until(page, 'the zones table lists two zones', () => document.querySelectorAll('#zones-table tbody tr').length === 2);
    const zones = await page.$$eval('#zones-table tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].slice(0, 4).map((td) => td.textContent)));
    assert.deepEqual(zones.map((z) => [z[0], z[2]]), [['1', 'up'], ['2', 'up']]);
    assert.equal(zones.reduce((a, z) => a + Number(z[3]), 0), 2, 'the zones hold both bots');

    // World viewer: the bot is drawn in its zone, followed as it walks, and a click shows its state.
    await page.click('nav button[data-tab=world]');
    await until(page, 'the zone picker lists both zones', () => document.querySelectorAll('#world-zone option').length === 2);
    await page.select('#world-zone', String(bot.zone));
    const drawnOf = (id: number) => page.evaluate((eid) => window.__viewer.drawn.get(eid) ?? null, id) as Promise<{ sx: number; sy: number; x: number; y: number; kind: number } | null>;
    await until(page, 'the viewer draws the bot', (eid) => window.__viewer.drawn.has(eid), { state: () => [...window.__viewer.drawn.keys()] }, bot.selfId);
    const before = (await drawnOf(bot.selfId))!;
    assert.equal(before.kind, 0, 'drawn as a player');
    assert.ok(Math.hypot(before.x - bot.x, before.y - bot.y) < 1, `drawn where the bot is (${before.x},${before.y} vs ${bot.x},${bot.y})`);
    await walk(bot, 3);
    await until(page, 'the viewer follows the bot 3 units right', (eid, x0) => window.__viewer.drawn.get(eid)?.x - x0 > 2, { timeout: 5000, state: () => window.__viewer.frames }, bot.selfId, before.x);
    assert.ok((await drawnOf(bot.selfId))!.sx > before.sx, 'it moved right on the canvas too');
    // Click it where it is drawn (canvas pixels to page pixels).
    await page.$eval('#world-canvas', (c) => c.scrollIntoView({ block: 'nearest' }));
    const at = await page.evaluate((eid) => {
      const v = window.__viewer;
      const d = v.drawn.get(eid);
      const r = v.canvas.getBoundingClientRect();
      const k = v.canvas.clientWidth / v.canvas.width;
      return { x: r.left + v.canvas.clientLeft + d.sx * k, y: r.top + v.canvas.clientTop + d.sy * k };
    }, bot.selfId);
    await page.mouse.click(at.x, at.y);
    await until(
      page,
      "a click on the bot shows its state",
      (eid, name) => window.__viewer.selected === eid && document.getElementById('entity-panel').textContent.includes(`"name": "${name}"`),
      { state: () => [window.__viewer.selected, document.getElementById('entity-panel').textContent] },
      bot.selfId,
      bot.name,
    );
    const state = JSON.parse((await text('#entity-panel'))!) as { id: number; kind: number; name: string; x: number; hp: number };
    assert.equal(state.id, bot.selfId);
    assert.equal(state.name, bot.name);
    assert.equal(state.kind, 0);
    assert.ok(Math.abs(state.x - bot.x) < 1, 'its state has its current position');
    assert.ok(state.hp > 0);
    await page.screenshot({ path: shot('viewer.png') });

    // Sessions: search by name finds only the bot; kick closes its socket with the kick code.
    await page.click('nav button[data-tab=sessions]');
    await until(page, 'the sessions table lists both bots', () => document.querySelectorAll('#sessions-table tbody tr').length === 2);
    await page.type('#session-search', 'viewb');
    await until(
      page,
      'the search keeps only the bot',
      (name) => {
        const rows = document.querySelectorAll('#sessions-table tbody tr');
        return rows.length === 1 && rows[0].dataset.name === name;
      },
      { state: () => [...document.querySelectorAll('#sessions-table tbody tr')].map((r) => r.dataset.name) },
      bot.name,
    );
    const row = await page.$eval('#sessions-table tbody tr', (r) => [...r.querySelectorAll('td')].map((td) => td.textContent));
    assert.equal(row[0], bot.name);
    assert.equal(row[2], String(bot.zone));
    assert.equal(row[3], 'connected');
    assert.match(row[4] ?? '', /127\.0\.0\.1/);
    await page.click('#sessions-table tbody tr button[data-kick]');
    const closed = await Promise.race([bot.closed, new Promise<null>((r) => setTimeout(() => r(null), 5000))]);
    assert.ok(closed, 'the kicked bot is disconnected');
    assert.equal(closed.code, CloseCode.kicked);
    assert.equal(bot.kicked?.code, CloseCode.kicked, 'told why before the close');
    await until(page, 'the kicked session leaves the table', () => document.querySelectorAll('#sessions-table tbody tr').length === 0, { timeout: 5000 });
    await waitFor(async () => (await sessionsOnline(s.url)) === 1, 5000, 'the kicked session ended on the server');
    assert.equal(other.c.connected, true, 'the other bot is untouched');
    await page.click('nav button[data-tab=overview]');
    await tileIs('1');

    for (const f of ['dashboard.png', 'viewer.png']) {
      const png = readFileSync(join(shots, f));
      assert.ok(png.length > 10_000 && png.subarray(1, 4).toString() === 'PNG', `${f} is a real screenshot`);
    }
    assert.deepEqual(offsite(), [], 'the page loads nothing from off this machine');
    // The refused login is the one failed request, and the console's one error.
    assert.deepEqual(failed, [`401 ${s.url}/admin/api/zones`], 'no request failed but the wrong login');
    assert.deepEqual(errors.filter((e) => !e.includes('401')), [], 'no page errors');
  } finally {
    for (const bot of bots) bot.c.close();
    await b?.close();
    await s.stop();
  }
});
