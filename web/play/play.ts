// The playable browser client (GET /play/): the SDK (src/client) in a real
// browser. Guest login, walk with the keyboard, see players and NPCs, attack,
// chat; when the link drops the SDK resumes the session and the page shows
// "reconnecting" until it is back. ?ws=<url> points it at another WebSocket
// address (tests go through a fault proxy).

import { connect, ChatChannel, EntityKind, type MmoClient } from '../../src/client/index.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
const wsUrl = params.get('ws') ?? `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
/** Walking speed, units/s: under the server's default movement.maxSpeed (8). */
const SPEED = 6;
const PX = 10;

let client: MmoClient | null = null;
let selfId = 0;
const me = { x: 0, y: 0, known: false };
const keys = new Set<string>();
let lastSent = '';

function status(text: string, cls: string): void {
  const s = $('status');
  s.textContent = text;
  s.className = `status ${cls}`;
}

function log(text: string, cls = ''): void {
  const el = document.createElement('div');
  el.textContent = text;
  if (cls) el.className = cls;
  const box = $('chat-log');
  box.appendChild(el);
  while (box.childElementCount > 200) box.firstChild!.remove();
  box.scrollTop = box.scrollHeight;
}

$('join').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const name = ($('name') as HTMLInputElement).value.trim();
  $('join').hidden = true;
  $('game').hidden = false;
  start(name);
});

function start(name: string): void {
  // The server's rule for guest names (persist/accounts.ts): 1-10 letters, digits or _; none: a random one.
  const c = connect(wsUrl, { ...(name ? { guestName: name } : {}), clientName: 'mmo-play' });
  client = c;
  status('connecting', '');
  c.on('welcome', (w) => {
    status(`connected: ${w.name}, zone ${w.zone}`, 'connected');
    if (w.resumed) log(`link restored (session resumed, ${w.replayed} frames replayed)`, 'sys');
  });
  c.on('snapshot', (s) => {
    selfId = s.selfId;
    const e = s.entities.get(selfId);
    if (e) Object.assign(me, { x: e.x, y: e.y, known: true });
    else if (c.self) Object.assign(me, { x: c.self.x, y: c.self.y, known: true });
  });
  c.on('self', (s) => {
    if (!me.known) Object.assign(me, { x: s.x, y: s.y, known: true });
  });
  c.on('moveRejected', (m) => Object.assign(me, { x: m.x, y: m.y }));
  c.on('respawn', (r) => {
    Object.assign(me, { x: r.x, y: r.y });
    log('you died and respawned', 'sys');
  });
  c.on('zone', (z) => {
    Object.assign(me, { x: z.x, y: z.y });
    log(`entered zone ${z.zone}${z.name ? ` (${z.name})` : ''}`, 'sys');
  });
  c.on('chat', (m) => log(`${m.fromName ?? '?'}: ${m.text ?? ''}`));
  const nameOf = (id: number) => c.entities.get(id)?.name || `#${id}`;
  c.on('damage', (d) => {
    if (d.attacker === selfId) log(`you hit ${nameOf(d.target)} for ${d.amount}`, 'sys');
    else if (d.target === selfId) log(`${nameOf(d.attacker)} hits you for ${d.amount}`, 'sys');
  });
  c.on('levelUp', (l) => log(`level ${l.level}!`, 'sys'));
  c.on('error', (e) => log(`server: ${e.reason ?? e.code}`, 'sys'));
  c.on('reconnecting', (r) => status(`reconnecting (attempt ${r.attempt})...`, 'reconnecting'));
  c.on('kicked', (k) => log(`kicked: ${k.reason ?? k.code}`, 'sys'));
  c.on('close', (e) => status(`disconnected (${e.code} ${e.reason})`, 'closed'));
  ($('view') as HTMLCanvasElement).focus();
  setInterval(step, 50);
  requestAnimationFrame(draw);
}

// ------------------------------------------------------------------ input

const DIRS: Record<string, [number, number]> = { ArrowUp: [0, -1], KeyW: [0, -1], ArrowDown: [0, 1], KeyS: [0, 1], ArrowLeft: [-1, 0], KeyA: [-1, 0], ArrowRight: [1, 0], KeyD: [1, 0] };

/** Keys typed into a form field (the name on the join form, a chat line) are text, not moves. */
function typing(e: KeyboardEvent): boolean {
  const t = e.target as HTMLElement | null;
  return !!t && (t.tagName === 'INPUT' || t.tagName === 'SELECT' || t.tagName === 'TEXTAREA' || t.isContentEditable);
}

window.addEventListener('keydown', (e) => {
  // Before joining nothing is a game key: WASD and Enter belong to the join form.
  if (!client || typing(e)) return;
  if (DIRS[e.code]) {
    keys.add(e.code);
    e.preventDefault();
  } else if (e.code === 'Space' || e.code === 'KeyF') {
    attackNearest();
    e.preventDefault();
  } else if (e.code === 'Enter') {
    $('chat-input').focus();
    e.preventDefault();
  }
});
window.addEventListener('keyup', (e) => keys.delete(e.code));
window.addEventListener('blur', () => keys.clear());

function step(): void {
  if (!client || !client.connected || !me.known) return;
  let dx = 0;
  let dy = 0;
  for (const k of keys) {
    dx += DIRS[k]![0];
    dy += DIRS[k]![1];
  }
  if (dx === 0 && dy === 0) return;
  const len = Math.hypot(dx, dy);
  me.x = Math.max(0, me.x + (dx / len) * SPEED * 0.05);
  me.y = Math.max(0, me.y + (dy / len) * SPEED * 0.05);
  const key = `${me.x.toFixed(2)},${me.y.toFixed(2)}`;
  if (key === lastSent) return;
  lastSent = key;
  client.move(me.x, me.y);
}

function attackNearest(): void {
  if (!client) return;
  let best = 0;
  let bestD = Infinity;
  for (const e of client.entities.values()) {
    if (e.kind !== EntityKind.Npc || e.flags & 1) continue;
    const d = Math.hypot(e.x - me.x, e.y - me.y);
    if (d < bestD) {
      bestD = d;
      best = e.id;
    }
  }
  if (best) client.attack(best);
  else log('no NPC in sight', 'sys');
}

$('view').addEventListener('click', (e) => {
  if (!client) return;
  const c = $('view') as HTMLCanvasElement;
  const r = c.getBoundingClientRect();
  const wx = me.x + (e.clientX - r.left - c.width / 2) / PX;
  const wy = me.y + (e.clientY - r.top - c.height / 2) / PX;
  let best = 0;
  let bestD = 1.5;
  for (const en of client.entities.values()) {
    const d = Math.hypot(en.x - wx, en.y - wy);
    if (en.id !== selfId && d < bestD) {
      bestD = d;
      best = en.id;
    }
  }
  if (best) client.attack(best);
  c.focus();
});

$('chat-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = $('chat-input') as HTMLInputElement;
  const text = input.value.trim();
  if (text && client) client.chat(Number(($('chat-channel') as HTMLSelectElement).value) as ChatChannel, text);
  input.value = '';
  ($('view') as HTMLCanvasElement).focus();
});

// ------------------------------------------------------------------ drawing

const COLORS: Record<number, string> = { [EntityKind.Player]: '#60a5fa', [EntityKind.Npc]: '#f87171', [EntityKind.Loot]: '#facc15' };

function draw(): void {
  requestAnimationFrame(draw);
  const c = $('view') as HTMLCanvasElement;
  const g = c.getContext('2d')!;
  g.fillStyle = '#1c2a1c';
  g.fillRect(0, 0, c.width, c.height);
  if (!client) return;
  const cx = c.width / 2 - me.x * PX;
  const cy = c.height / 2 - me.y * PX;
  g.strokeStyle = 'rgba(255,255,255,0.05)';
  for (let x = Math.floor(-cx / (10 * PX)) * 10; x * PX + cx < c.width; x += 10) {
    g.beginPath();
    g.moveTo(x * PX + cx, 0);
    g.lineTo(x * PX + cx, c.height);
    g.stroke();
  }
  for (let y = Math.floor(-cy / (10 * PX)) * 10; y * PX + cy < c.height; y += 10) {
    g.beginPath();
    g.moveTo(0, y * PX + cy);
    g.lineTo(c.width, y * PX + cy);
    g.stroke();
  }
  g.font = '11px system-ui';
  g.textAlign = 'center';
  for (const e of client.entities.values()) {
    if (e.id === selfId) continue;
    const sx = e.x * PX + cx;
    const sy = e.y * PX + cy;
    if (sx < -20 || sy < -20 || sx > c.width + 20 || sy > c.height + 20) continue;
    g.fillStyle = e.flags & 1 ? '#475569' : COLORS[e.kind] ?? '#fff';
    g.beginPath();
    g.arc(sx, sy, e.kind === EntityKind.Loot ? 3 : 6, 0, Math.PI * 2);
    g.fill();
    if (e.maxHp > 0 && e.kind !== EntityKind.Loot) {
      g.fillStyle = '#111';
      g.fillRect(sx - 10, sy - 12, 20, 3);
      g.fillStyle = '#22c55e';
      g.fillRect(sx - 10, sy - 12, (20 * e.hp) / e.maxHp, 3);
    }
    if (e.name) {
      g.fillStyle = '#cbd5e1';
      g.fillText(e.name, sx, sy + 18);
    }
  }
  g.fillStyle = '#4ade80';
  g.beginPath();
  g.arc(c.width / 2, c.height / 2, 7, 0, Math.PI * 2);
  g.fill();
  const s = client.self;
  $('hud').textContent = `${s ? `hp ${s.hp}/${s.maxHp}  level ${s.level}  xp ${s.xp}  ` : ''}pos ${me.x.toFixed(1)}, ${me.y.toFixed(1)}  zone ${client.zone}  ${client.entities.size} in sight`;
}

(window as unknown as { __play: unknown }).__play = { get client() { return client; }, me, get selfId() { return selfId; } };
