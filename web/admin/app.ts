// The operations dashboard (GET /admin/). One page, no framework: live tiles
// and uPlot charts fed by /admin/api/live (server-sent events read through
// fetch, so the token travels in the Authorization header, never in a URL),
// zones and sessions tables with their actions, the world viewer, the log
// tail. The token is asked once and kept in this tab's sessionStorage.

import uPlot from 'uplot';
// The server's record of one live sample (type only: erased from the bundle).
import type { LiveSample as Sample } from '../../src/admin/live.js';


const HISTORY = 600;
const TOKEN_KEY = 'mmo-admin-token';
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

let token = sessionStorage.getItem(TOKEN_KEY) ?? '';
const samples: Sample[] = [];

async function api(path: string, init: RequestInit = {}): Promise<Response> {
  const r = await fetch(path, { ...init, headers: { ...(init.headers ?? {}), authorization: `Bearer ${token}` } });
  if (r.status === 401) signOut('token refused');
  return r;
}

function signOut(why = ''): void {
  sessionStorage.removeItem(TOKEN_KEY);
  token = '';
  location.hash = '';
  $('app').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = why;
}

$('login').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  token = ($('token') as HTMLInputElement).value.trim();
  const r = await fetch('/admin/api/zones', { headers: { authorization: `Bearer ${token}` } });
  if (!r.ok) {
    $('login-error').textContent = r.status === 429 ? 'too many attempts; wait a minute' : 'wrong token';
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  start();
});
$('logout').addEventListener('click', () => signOut());

// ------------------------------------------------------------------ tabs

let activeTab = 'overview';
for (const b of document.querySelectorAll<HTMLButtonElement>('nav button')) {
  b.addEventListener('click', () => showTab(b.dataset.tab!));
}
function showTab(name: string): void {
  activeTab = name;
  for (const b of document.querySelectorAll<HTMLButtonElement>('nav button')) b.classList.toggle('active', b.dataset.tab === name);
  for (const s of document.querySelectorAll<HTMLElement>('.tab')) s.hidden = s.id !== `tab-${name}`;
  if (name === 'zones') void refreshZones();
  if (name === 'sessions') void refreshSessions();
  if (name === 'logs') void refreshLogs();
  if (name === 'world') void viewer.show();
}

// ------------------------------------------------------------------ live

const fmtBytes = (b: number) => (b >= 1 << 30 ? `${(b / (1 << 30)).toFixed(2)} GiB` : `${(b / (1 << 20)).toFixed(1)} MiB`);

function tiles(s: Sample): void {
  const worstP99 = Math.max(0, ...s.zones.map((z) => z.tickP99Ms));
  const cpuGw = Object.entries(s.cpu).filter(([n]) => n.startsWith('gateway')).reduce((a, [, v]) => a + v, 0);
  const items: Array<[string, string, string]> = [
    ['players-online', String(s.players), `players online (${s.connected} connected, ${s.zombies} zombie)`],
    ['handshakes', s.handshakesPerSec.toFixed(1), 'handshakes / s'],
    ['resumes', s.resumesPerSec.toFixed(1), 'resumes / s'],
    ['msgs-in', s.msgsInPerSec.toFixed(0), 'messages in / s'],
    ['msgs-out', s.msgsOutPerSec.toFixed(0), 'messages out / s'],
    ['cpu-gateway', `${(cpuGw * 100).toFixed(0)} %`, 'gateway CPU'],
    ['tick-p99', `${worstP99.toFixed(1)} ms`, 'worst zone tick p99'],
    ['loop-lag', `${s.loopLagMs.toFixed(1)} ms`, 'event-loop lag'],
    ['persist', String(s.persistQueue), `persistence queue (${s.persistFailures} failures${s.persistDbUp ? '' : ', DB DOWN'})`],
    ['rss', fmtBytes(s.rssBytes), `RSS (heap ${fmtBytes(s.heapUsedBytes)})`],
  ];
  $('tiles').innerHTML = items.map(([id, v, label]) => `<div class="tile"><b id="tile-${id}">${v}</b><span>${label}</span></div>`).join('');
}

interface ChartDef {
  title: string;
  series: (s: Sample) => Record<string, number>;
  plot?: uPlot;
  names: string[];
}

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#ca8a04', '#9333ea', '#0891b2', '#db2777', '#4b5563'];
const charts: ChartDef[] = [
  { title: 'Players', names: [], series: (s) => ({ connected: s.connected, zombie: s.zombies }) },
  { title: 'Messages / s', names: [], series: (s) => ({ in: s.msgsInPerSec, out: s.msgsOutPerSec }) },
  { title: 'Handshakes and resumes / s', names: [], series: (s) => ({ handshakes: s.handshakesPerSec, resumes: s.resumesPerSec }) },
  { title: 'CPU per thread (% of a core)', names: [], series: (s) => Object.fromEntries(Object.entries(s.cpu).map(([k, v]) => [k, v * 100])) },
  { title: 'Tick time per zone (ms)', names: [], series: (s) => Object.fromEntries(s.zones.flatMap((z) => [[`z${z.id} p50`, z.tickP50Ms], [`z${z.id} p99`, z.tickP99Ms]])) },
  { title: 'Ring fill (%)', names: [], series: (s) => Object.fromEntries(s.zones.flatMap((z) => [[`z${z.id} in`, z.inboundFill * 100], [`z${z.id} out`, z.outboundFill * 100]])) },
  { title: 'Event-loop lag (ms)', names: [], series: (s) => ({ lag: s.loopLagMs }) },
  { title: 'Persistence', names: [], series: (s) => ({ queue: s.persistQueue, failures: s.persistFailures }) },
  { title: 'Memory (MiB)', names: [], series: (s) => ({ rss: s.rssBytes / 1048576, heap: s.heapUsedBytes / 1048576 }) },
];

function drawCharts(): void {
  if (samples.length === 0) return;
  const xs = samples.map((s) => s.t / 1000);
  const host = $('charts');
  for (const c of charts) {
    const names = [...new Set(samples.flatMap((s) => Object.keys(c.series(s))))];
    const data: uPlot.AlignedData = [xs, ...names.map((n) => samples.map((s) => c.series(s)[n] ?? null))];
    if (!c.plot || names.join() !== c.names.join()) {
      c.plot?.destroy();
      c.names = names;
      const div = document.createElement('div');
      div.className = 'chart';
      host.appendChild(div);
      c.plot = new uPlot(
        {
          title: c.title,
          width: 420,
          height: 180,
          series: [{}, ...names.map((n, i) => ({ label: n, stroke: COLORS[i % COLORS.length], width: 1.5 }))],
          axes: [{}, { size: 50 }],
          scales: { x: { time: true } },
        },
        data,
        div,
      );
    } else c.plot.setData(data);
  }
  // Drop the wrappers of destroyed charts.
  for (const el of [...host.children]) if (el.childElementCount === 0) el.remove();
}

function onSample(s: Sample): void {
  samples.push(s);
  if (samples.length > HISTORY) samples.splice(0, samples.length - HISTORY);
  tiles(s);
  if (activeTab === 'overview') drawCharts();
}

/** Reads the SSE stream; reconnects after 2 s when it ends. */
async function live(): Promise<void> {
  const state = $('live-state');
  for (;;) {
    if (!token) return;
    try {
      const r = await api('/admin/api/live');
      if (!r.ok || !r.body) throw new Error(`status ${r.status}`);
      state.textContent = 'live';
      state.classList.add('ok');
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i: number;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const ev = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let type = 'message';
          let data = '';
          for (const line of ev.split('\n')) {
            if (line.startsWith('event: ')) type = line.slice(7);
            else if (line.startsWith('data: ')) data += line.slice(6);
          }
          if (!data) continue;
          if (type === 'history') {
            samples.length = 0;
            for (const s of JSON.parse(data) as Sample[]) samples.push(s);
            if (samples.length) tiles(samples[samples.length - 1]!);
            drawCharts();
          } else onSample(JSON.parse(data) as Sample);
        }
      }
    } catch {
      // fall through to the retry
    }
    state.textContent = 'reconnecting';
    state.classList.remove('ok');
    await new Promise((r) => setTimeout(r, 2000));
  }
}

// ------------------------------------------------------------------ zones

type ZoneRow = { id: number; name: string; state: string; players: number; npcs: number; restarts: number; lastRestartReason: string | null; tickP50Ms: number | null; tickP99Ms: number | null };
let zoneList: ZoneRow[] = [];
const esc = (s: unknown) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

async function refreshZones(): Promise<void> {
  const r = await api('/admin/api/zones');
  if (!r.ok) return;
  zoneList = ((await r.json()) as { zones: ZoneRow[] }).zones;
  $('zones-table').querySelector('tbody')!.innerHTML = zoneList
    .map(
      (z) =>
        `<tr data-zone="${z.id}"><td>${z.id}</td><td>${esc(z.name)}</td><td>${z.state}</td><td>${z.players}</td><td>${z.npcs}</td><td>${z.tickP50Ms ?? ''}</td><td>${z.tickP99Ms ?? ''}</td><td>${z.restarts}</td><td>${esc(z.lastRestartReason ?? '')}</td><td><button data-restart="${z.id}" ${z.state === 'up' ? '' : 'disabled'}>restart</button></td></tr>`,
    )
    .join('');
  const sel = $('world-zone') as HTMLSelectElement;
  if (sel.options.length !== zoneList.length) {
    sel.innerHTML = zoneList.map((z) => `<option value="${z.id}">${z.id} ${esc(z.name)}</option>`).join('');
  }
}
$('zones-table').addEventListener('click', async (ev) => {
  const id = (ev.target as HTMLElement).dataset.restart;
  if (!id) return;
  (ev.target as HTMLButtonElement).disabled = true;
  await api(`/admin/api/zones/${id}/restart`, { method: 'POST' });
  setTimeout(() => void refreshZones(), 500);
});

// ------------------------------------------------------------------ sessions

type SessionRow = { id: number; name: string; zone: number | null; entity: number; state: string; address: string | null; rttMs: number | null; bufferedBytes: number; lagging: boolean; muted: boolean };

async function refreshSessions(): Promise<void> {
  const q = ($('session-search') as HTMLInputElement).value;
  const r = await api(`/admin/api/sessions?q=${encodeURIComponent(q)}`);
  if (!r.ok) return;
  const body = (await r.json()) as { total: number; sessions: SessionRow[] };
  $('session-count').textContent = `${body.total} session(s)${body.total > body.sessions.length ? `, first ${body.sessions.length} shown` : ''}`;
  $('sessions-table').querySelector('tbody')!.innerHTML = body.sessions
    .map(
      (s) =>
        `<tr data-session="${s.id}" data-name="${esc(s.name)}"><td>${esc(s.name)}</td><td>${s.id}</td><td>${s.zone ?? ''}</td><td>${s.state}</td><td>${esc(s.address ?? '')}</td><td>${s.rttMs ?? 'n/a'}</td><td>${s.bufferedBytes} B${s.lagging ? ' (lagging)' : ''}</td><td><button data-kick="${s.id}">kick</button><button data-mute="${s.id}" data-on="${s.muted ? 0 : 1}">${s.muted ? 'unmute' : 'mute'}</button></td></tr>`,
    )
    .join('');
}
let searchTimer = 0;
$('session-search').addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = window.setTimeout(() => void refreshSessions(), 200);
});
$('sessions-table').addEventListener('click', async (ev) => {
  const b = ev.target as HTMLElement;
  if (b.dataset.kick) await api(`/admin/api/sessions/${b.dataset.kick}/kick`, { method: 'POST' });
  else if (b.dataset.mute) await api(`/admin/api/sessions/${b.dataset.mute}/mute?on=${b.dataset.on}`, { method: 'POST' });
  else return;
  void refreshSessions();
});

// ------------------------------------------------------------------ logs

async function refreshLogs(): Promise<void> {
  const r = await api('/admin/api/logs');
  if (!r.ok) return;
  const body = (await r.json()) as { total: number; lines: Array<Record<string, unknown>> };
  $('logs-summary').textContent = `${body.lines.length} most recent of ${body.total} warnings and errors since start`;
  $('logs').textContent = body.lines
    .slice()
    .reverse()
    .map((l) => {
      const { time, level, msg, pid: _p, hostname: _h, ...rest } = l;
      return `${time ?? ''} ${level === 40 ? 'WARN ' : level === 50 ? 'ERROR' : 'FATAL'} ${msg ?? ''} ${Object.keys(rest).length ? JSON.stringify(rest) : ''}`;
    })
    .join('\n');
}

// ------------------------------------------------------------------ world viewer

type MapDef = { id: number; width: number; height: number; obstacles: Array<{ x: number; y: number; w: number; h: number }>; portals: Array<{ rect: { x: number; y: number; w: number; h: number }; targetZone: number }>; spawnPoints: Array<{ x: number; y: number }> };
type Ent = { id: number; kind: number; flags: number; hp: number; maxHp: number; level: number; x: number; y: number; session: number };

const KIND_COLOR = ['#2563eb', '#dc2626', '#ca8a04'];

class Viewer {
  readonly canvas = $('world-canvas') as HTMLCanvasElement;
  private readonly g = this.canvas.getContext('2d')!;
  private map: MapDef | null = null;
  private zone = 0;
  entities: Ent[] = [];
  /** Where each entity was drawn last (screen px): for clicks, and for tests. */
  readonly drawn = new Map<number, { sx: number; sy: number; x: number; y: number; kind: number }>();
  frames = 0;
  selected = 0;
  private scale = 0;
  private ox = 0;
  private oy = 0;
  private timer = 0;

  constructor() {
    let drag: { x: number; y: number; ox: number; oy: number; moved: boolean } | null = null;
    this.canvas.addEventListener('mousedown', (e) => (drag = { x: e.clientX, y: e.clientY, ox: this.ox, oy: this.oy, moved: false }));
    window.addEventListener('mousemove', (e) => {
      if (!drag) return;
      const dx = e.clientX - drag.x;
      const dy = e.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
      this.ox = drag.ox + dx;
      this.oy = drag.oy + dy;
      this.draw();
    });
    window.addEventListener('mouseup', (e) => {
      if (drag && !drag.moved) void this.pick(e);
      drag = null;
    });
    this.canvas.addEventListener(
      'wheel',
      (e) => {
        e.preventDefault();
        const r = this.canvas.getBoundingClientRect();
        const mx = e.clientX - r.left;
        const my = e.clientY - r.top;
        const f = e.deltaY < 0 ? 1.2 : 1 / 1.2;
        this.ox = mx - (mx - this.ox) * f;
        this.oy = my - (my - this.oy) * f;
        this.scale *= f;
        this.draw();
      },
      { passive: false },
    );
    ($('world-zone') as HTMLSelectElement).addEventListener('change', () => void this.load(Number(($('world-zone') as HTMLSelectElement).value)));
  }

  async show(): Promise<void> {
    if (zoneList.length === 0) await refreshZones();
    const z = Number(($('world-zone') as HTMLSelectElement).value) || zoneList[0]?.id || 0;
    if (z !== this.zone || !this.map) await this.load(z);
    if (!this.timer) this.timer = window.setInterval(() => void this.poll(), 200);
  }

  async load(zone: number): Promise<void> {
    this.zone = zone;
    const r = await api(`/admin/api/zones/${zone}/map`);
    if (!r.ok) return;
    this.map = (await r.json()) as MapDef;
    this.scale = Math.min(this.canvas.width / this.map.width, this.canvas.height / this.map.height);
    this.ox = (this.canvas.width - this.map.width * this.scale) / 2;
    this.oy = (this.canvas.height - this.map.height * this.scale) / 2;
    await this.poll();
  }

  async poll(): Promise<void> {
    if (activeTab !== 'world' || !this.map) return;
    const r = await api(`/admin/api/zones/${this.zone}/entities`);
    if (!r.ok) return;
    this.entities = decodeSnapshot(await r.arrayBuffer());
    $('world-count').textContent = `${this.entities.filter((e) => e.kind === 0).length} players, ${this.entities.filter((e) => e.kind === 1).length} NPCs`;
    this.draw();
  }

  draw(): void {
    const g = this.g;
    const m = this.map;
    g.setTransform(1, 0, 0, 1, 0, 0);
    g.fillStyle = '#f6f7f9';
    g.fillRect(0, 0, this.canvas.width, this.canvas.height);
    if (!m) return;
    const s = this.scale;
    const X = (x: number) => this.ox + x * s;
    const Y = (y: number) => this.oy + y * s;
    g.fillStyle = '#e8efe2';
    g.fillRect(X(0), Y(0), m.width * s, m.height * s);
    g.fillStyle = '#6b7280';
    for (const o of m.obstacles) g.fillRect(X(o.x), Y(o.y), Math.max(1, o.w * s), Math.max(1, o.h * s));
    g.fillStyle = 'rgba(168, 85, 247, 0.6)';
    for (const p of m.portals) g.fillRect(X(p.rect.x), Y(p.rect.y), Math.max(2, p.rect.w * s), Math.max(2, p.rect.h * s));
    g.strokeStyle = '#16a34a';
    for (const p of m.spawnPoints) g.strokeRect(X(p.x) - 4, Y(p.y) - 4, 8, 8);
    this.drawn.clear();
    const r = Math.max(2.5, Math.min(7, s * 1.5));
    for (const e of this.entities) {
      const sx = X(e.x);
      const sy = Y(e.y);
      this.drawn.set(e.id, { sx, sy, x: e.x, y: e.y, kind: e.kind });
      g.fillStyle = e.flags & 1 ? '#9ca3af' : KIND_COLOR[e.kind] ?? '#000';
      g.beginPath();
      g.arc(sx, sy, e.id === this.selected ? r + 2 : r, 0, Math.PI * 2);
      g.fill();
    }
    this.frames++;
  }

  private async pick(e: MouseEvent): Promise<void> {
    const rc = this.canvas.getBoundingClientRect();
    const mx = e.clientX - rc.left;
    const my = e.clientY - rc.top;
    let best = 0;
    let bestD = 100;
    for (const [id, d] of this.drawn) {
      const dd = (d.sx - mx) ** 2 + (d.sy - my) ** 2;
      if (dd < bestD) {
        bestD = dd;
        best = id;
      }
    }
    if (!best) return;
    this.selected = best;
    const r = await api(`/admin/api/zones/${this.zone}/entities/${best}`);
    $('entity-panel').textContent = r.ok ? JSON.stringify(await r.json(), null, 2) : 'entity gone';
    this.draw();
  }
}

/** Layout: src/zone/admin-view.ts (16-byte header, 24 bytes per entity, little-endian). */
function decodeSnapshot(buf: ArrayBuffer): Ent[] {
  const v = new DataView(buf);
  const n = v.getUint32(4, true);
  const out: Ent[] = [];
  for (let i = 0, o = 16; i < n; i++, o += 24) {
    out.push({ id: v.getUint32(o, true), kind: v.getUint8(o + 4), flags: v.getUint8(o + 5), hp: v.getUint16(o + 6, true), maxHp: v.getUint16(o + 8, true), level: v.getUint8(o + 10), x: v.getFloat32(o + 12, true), y: v.getFloat32(o + 16, true), session: v.getUint32(o + 20, true) });
  }
  return out;
}

const viewer = new Viewer();
(window as unknown as { __viewer: Viewer }).__viewer = viewer;

// ------------------------------------------------------------------ start

let started = false;
function start(): void {
  $('login').hidden = true;
  $('app').hidden = false;
  if (started) return;
  started = true;
  void live();
  void refreshZones();
  setInterval(() => {
    if (!token) return;
    if (activeTab === 'zones') void refreshZones();
    if (activeTab === 'sessions') void refreshSessions();
    if (activeTab === 'logs') void refreshLogs();
  }, 2000);
}

if (token) start();
else $('login').hidden = false;
