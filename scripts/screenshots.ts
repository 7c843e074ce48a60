// Takes the README's screenshots from a real run: a server with two zones,
// a few dozen SDK bots walking and chatting around the spawn points, and
// Debian's Chromium (test/helpers/browser.ts) on the dashboard, the world
// viewer and the playable client. Writes docs/dashboard.png, docs/viewer.png
// and docs/play.png (or into --out DIR). Bounded: BOTS bots on 127.0.0.1,
// about 40 s, then everything is stopped.
//
//   npm run build && node dist/scripts/screenshots.js [--out DIR]

import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, ChatChannel, type MmoClient } from '../src/client/index.js';
import { launchBrowser } from '../test/helpers/browser.js';
import { startServer } from '../test/helpers/server.js';

// Page-side callbacks run in Chromium; the project compiles without the DOM library.
declare const document: any, window: any;

const BOTS = 80;
/** Seconds of live history on the charts before the dashboard is taken. */
const WARMUP_S = 25;
const TOKEN = 'screenshots-token-0123456789abcdef';

const root = fileURLToPath(new URL('../..', import.meta.url));
const outArg = process.argv.indexOf('--out');
const out = resolve(outArg > 0 ? process.argv[outArg + 1]! : join(root, 'docs'));
mkdirSync(out, { recursive: true });
const png = (name: string) => join(out, name) as `${string}.png`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// A seeded generator: the same run gives the same walks.
let seed = 0x2545f491;
const rand = () => ((seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32);

interface Walker {
  c: MmoClient;
  home: { x: number; y: number };
  x: number;
  y: number;
  tx: number;
  ty: number;
}

const s = await startServer({ args: ['--zones.count=2', '--zones.npcsPerZone=150'], env: { MMO_ADMIN__TOKEN: TOKEN } });
const walkers: Walker[] = [];
let walking: NodeJS.Timeout | null = null;
const browser = await launchBrowser({ waitTimeoutMs: 20_000 });
try {
  for (let i = 0; i < BOTS; i++) {
    const c = connect(s.wsUrl, { guestName: `bot${String(i).padStart(2, '0')}`, clientName: 'screenshots' });
    c.on('moveRejected', (m) => Object.assign(w, { x: m.x, y: m.y }));
    const w: Walker = { c, home: { x: 0, y: 0 }, x: 0, y: 0, tx: 0, ty: 0 };
    await c.once('snapshot');
    Object.assign(w, { home: { x: c.self!.x, y: c.self!.y }, x: c.self!.x, y: c.self!.y, tx: c.self!.x, ty: c.self!.y });
    walkers.push(w);
  }
  // Each bot wanders within 24 units of its home (where it spawned), at 5 units/s.
  walking = setInterval(() => {
    for (const w of walkers) {
      const dx = w.tx - w.x;
      const dy = w.ty - w.y;
      const d = Math.hypot(dx, dy);
      if (d < 0.6) {
        w.tx = w.home.x + (rand() - 0.5) * 48;
        w.ty = w.home.y + (rand() - 0.5) * 48;
        continue;
      }
      w.x += (dx / d) * 0.5;
      w.y += (dy / d) * 0.5;
      w.c.move(w.x, w.y);
    }
  }, 100);

  // The dashboard, once the charts hold some history.
  const admin = (await browser.newPage({ width: 1400, height: 900 })).page;
  await admin.goto(`${s.url}/admin/`);
  await admin.type('#token', TOKEN);
  await admin.keyboard.press('Enter');
  await admin.waitForFunction(() => document.getElementById('live-state').textContent === 'live');
  await sleep(WARMUP_S * 1000);
  await admin.screenshot({ path: png('dashboard.png') });
  console.log(JSON.stringify({ wrote: png('dashboard.png') }));

  // The world viewer, zoomed on the busiest spawn point, one bot selected.
  await admin.click('nav button[data-tab=world]');
  await admin.waitForFunction(() => window.__viewer.drawn.size > 100);
  const spot = await admin.evaluate(() => {
    const v = window.__viewer;
    const players = [...v.drawn.values()].filter((d: { kind: number }) => d.kind === 0) as Array<{ sx: number; sy: number }>;
    let best = players[0]!;
    let most = -1;
    for (const p of players) {
      const n = players.filter((q) => Math.hypot(q.sx - p.sx, q.sy - p.sy) < 30).length;
      if (n > most) [best, most] = [p, n];
    }
    const r = v.canvas.getBoundingClientRect();
    return { x: r.left + v.canvas.clientLeft + best.sx, y: r.top + v.canvas.clientTop + best.sy };
  });
  // Drag that spot to the middle of the canvas, then zoom in around it.
  const mid = await admin.evaluate(() => {
    const r = window.__viewer.canvas.getBoundingClientRect();
    return { x: r.left + r.width / 2, y: r.top + r.height / 2 };
  });
  await admin.mouse.move(spot.x, spot.y);
  await admin.mouse.down();
  await admin.mouse.move(mid.x, mid.y, { steps: 8 });
  await admin.mouse.up();
  for (let i = 0; i < 7; i++) {
    await admin.mouse.wheel({ deltaY: -100 });
    await sleep(50);
  }
  await sleep(400);
  const pick = await admin.evaluate(() => {
    const v = window.__viewer;
    const r = v.canvas.getBoundingClientRect();
    const cx = v.canvas.width / 2;
    const cy = v.canvas.height / 2;
    const players = [...v.drawn.values()].filter((d: { kind: number }) => d.kind === 0) as Array<{ sx: number; sy: number }>;
    players.sort((a, b) => Math.hypot(a.sx - cx, a.sy - cy) - Math.hypot(b.sx - cx, b.sy - cy));
    const p = players[0]!;
    return { x: r.left + v.canvas.clientLeft + p.sx, y: r.top + v.canvas.clientTop + p.sy };
  });
  await admin.mouse.click(pick.x, pick.y);
  await admin.waitForFunction(() => window.__viewer.selected > 0 && document.getElementById('entity-panel').textContent.startsWith('{'));
  await sleep(300);
  await admin.screenshot({ path: png('viewer.png') });
  console.log(JSON.stringify({ wrote: png('viewer.png') }));

  // The playable client among the bots, with a little chat.
  const play = (await browser.newPage({ width: 1150, height: 620 })).page;
  await play.goto(`${s.url}/play/`);
  await play.type('#name', 'visitor');
  await play.keyboard.press('Enter');
  await play.waitForFunction(() => window.__play.client?.connected && window.__play.me.known);
  // The bots of its zone near its spawn point gather around the visitor (the view is 80 by 56 units).
  const at = (await play.evaluate(() => ({ x: window.__play.me.x, y: window.__play.me.y, zone: window.__play.client.zone }))) as { x: number; y: number; zone: number };
  for (const w of walkers) {
    if (w.c.zone === at.zone && Math.hypot(w.home.x - at.x, w.home.y - at.y) < 60) w.home = { x: at.x + 4, y: at.y };
  }
  await play
    .waitForFunction(() => [...window.__play.client.entities.values()].filter((e: { kind: number }) => e.kind === 0).length >= 4, { timeout: 6000 })
    .catch(() => console.log(JSON.stringify({ note: 'fewer than 4 bots near the visitor' })));
  await play.focus('#view');
  await play.keyboard.down('ArrowRight');
  await sleep(600);
  await play.keyboard.up('ArrowRight');
  walkers[0]!.c.chat(ChatChannel.Zone, 'welcome, visitor!');
  walkers[1]!.c.chat(ChatChannel.Zone, 'the wolves are east of the spawn');
  await play.select('#chat-channel', String(ChatChannel.Zone));
  await play.type('#chat-input', 'hello everyone');
  await play.keyboard.press('Enter');
  await play.waitForFunction(() => document.getElementById('chat-log').textContent.includes('visitor: hello everyone'));
  await sleep(500);
  await play.screenshot({ path: png('play.png') });
  console.log(JSON.stringify({ wrote: png('play.png') }));
} finally {
  if (walking) clearInterval(walking);
  for (const w of walkers) w.c.close();
  await browser.close();
  await s.stop();
}
