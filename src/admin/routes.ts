// The operations dashboard's HTTP side, and the browser game's page:
//
//   GET  /play/                         the browser client (public, always served when built)
//   GET  /admin/                        the dashboard page (static; the API below needs the token)
//   GET  /admin/api/history             the last 10 minutes of live samples
//   GET  /admin/api/live                server-sent events: one sample a second
//   GET  /admin/api/zones               zones table
//   POST /admin/api/zones/:id/restart   restart a zone from its last checkpoint
//   GET  /admin/api/zones/:id/map       terrain, portals, spawn points
//   GET  /admin/api/zones/:id/entities  binary snapshot of the zone's entities (zone/admin-view.ts)
//   GET  /admin/api/zones/:id/entities/:eid   one entity's state
//   GET  /admin/api/sessions?q=name     sessions table (at most 500, by name)
//   POST /admin/api/sessions/:id/kick   end the session, close its socket (4103)
//   POST /admin/api/sessions/:id/mute?on=1|0
//   GET  /admin/api/logs                the last warning and error lines
//
// With admin.token unset none of the /admin/ routes exist (404, like any
// unknown path) and start-up logs that once. Every /admin/api/ request needs
// `Authorization: Bearer <token>` (auth.ts); the page itself is static and
// holds no data. Only this HTTP API serves admin data: the game's WebSocket
// (/ws) speaks the game protocol alone.

import type { Registry } from 'prom-client';
import type { ThreadRegistry } from '../../native-bindings/threads.js';
import type { AdminConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { warningTail } from '../log/tail.js';
import type { MetricsRuntime } from '../metrics/registry.js';
import { sendJson, statusLine, type Route } from '../net/http.js';
import { RateLimiter } from '../net/rate-limit.js';
import { addressText, type HttpRequest, type HttpResponse } from '../net/uws.js';
import { SessionState } from '../session/session.js';
import type { SessionService } from '../session/service.js';
import { ZONE_STATE_NAMES, type ZoneSet } from '../zone/host.js';
import { ZoneStat } from '../zone/shared.js';
import { AdminAuth } from './auth.js';
import { LiveStats } from './live.js';
import { loadPage, PAGE_HEADERS, sendFile, WEB_DIR } from './static.js';
import { WorldFeed } from './world-feed.js';

export interface AdminDeps {
  admin: AdminConfig;
  /** Failed-token bucket, as auth.rateLimitBurst / auth.rateLimitPerMinute. */
  rateLimit: { burst: number; perMinute: number };
  registry: Registry;
  metrics: MetricsRuntime;
  threads: ThreadRegistry;
  zones: ZoneSet;
  sessions: SessionService;
  log: Logger;
  /** Where the built pages are (tests). Default dist/web. */
  webDir?: string;
}

const MAX_SESSIONS_LISTED = 500;
/** A live stream whose writes have backed up this many samples in a row is closed (the page reconnects). */
const MAX_BACKED_UP_WRITES = 30;
const API_HEADERS = { 'cache-control': 'no-store' };

export interface AdminRuntime {
  routes: Route[];
  live: LiveStats | null;
  feed: WorldFeed | null;
}

/** The routes to mount; see the header. Cold path. */
export function adminRoutes(d: AdminDeps): Route[] {
  return createAdmin(d).routes;
}

export function createAdmin(d: AdminDeps): AdminRuntime {
  const webDir = d.webDir ?? WEB_DIR;
  const routes: Route[] = [...pageRoutes('play', loadPage('play', webDir), d.log)];
  if (!d.admin.token) {
    d.log.info('admin.token is not set: the operations dashboard (/admin/) is off');
    return { routes, live: null, feed: null };
  }
  warningTail.resize(d.admin.logLines);
  const auth = new AdminAuth(d.admin.token, new RateLimiter({ burst: d.rateLimit.burst, perMinute: d.rateLimit.perMinute }));
  const live = new LiveStats({ registry: d.registry, metrics: d.metrics, zones: d.zones, threads: d.threads });
  live.start();
  const feed = new WorldFeed(d.zones);
  const { zones, sessions, log } = d;

  /** Reads what it needs from req synchronously, then runs `fn` if the token is right; else 401/429. */
  const api = (method: 'get' | 'post', path: string, fn: (res: HttpResponse, req: HttpRequest) => void): Route => ({
    method,
    path,
    handler: (res, req) => {
      const ip = addressText(res.getRemoteAddressAsText());
      const a = auth.check(req.getHeader('authorization'), ip);
      if (!a.ok) {
        const headers: Record<string, string> = { ...API_HEADERS, 'www-authenticate': 'Bearer realm="mmo-admin"' };
        if (a.status === 429) headers['retry-after'] = String(Math.ceil(a.retryAfterMs / 1000));
        return sendJson(res, a.status, { error: a.status === 429 ? 'rate_limited' : 'unauthorized' }, headers);
      }
      fn(res, req);
    },
  });
  const zoneIndex = (req: HttpRequest): number => zones.indexOf(Number(req.getParameter(0)));

  routes.push(...pageRoutes('admin', loadPage('admin', webDir), log));
  routes.push(
    api('get', '/admin/api/history', (res) => sendJson(res, 200, { samples: live.history }, API_HEADERS)),
    api('get', '/admin/api/live', (res) => stream(res, live)),
    api('get', '/admin/api/zones', (res) =>
      sendJson(
        res,
        200,
        {
          zones: zones.hosts.map((h) => {
            const z = live.latest?.zones.find((s) => s.id === h.def.id);
            return {
              id: h.def.id,
              name: h.def.name,
              state: ZONE_STATE_NAMES[h.state],
              players: h.stats[ZoneStat.players],
              npcs: h.stats[ZoneStat.npcs],
              restarts: h.restarts,
              lastRestartReason: h.lastRestartReason,
              tickP50Ms: z?.tickP50Ms ?? null,
              tickP99Ms: z?.tickP99Ms ?? null,
            };
          }),
        },
        API_HEADERS,
      ),
    ),
    api('post', '/admin/api/zones/:id/restart', (res, req) => {
      const i = zoneIndex(req);
      const ip = addressText(res.getRemoteAddressAsText());
      if (i < 0) return sendJson(res, 404, { error: 'no such zone' }, API_HEADERS);
      const ok = zones.restart(i, 'restarted by an operator');
      log.info({ zone: zones.hosts[i]!.def.id, ip, ok }, 'admin: zone restart');
      sendJson(res, ok ? 202 : 409, ok ? { zone: zones.hosts[i]!.def.id, restarting: true } : { error: 'zone is not up' }, API_HEADERS);
    }),
    api('get', '/admin/api/zones/:id/map', (res, req) => {
      const i = zoneIndex(req);
      if (i < 0) return sendJson(res, 404, { error: 'no such zone' }, API_HEADERS);
      const def = zones.hosts[i]!.def;
      sendJson(res, 200, { id: def.id, name: def.name, width: def.width, height: def.height, obstacles: def.obstacles, portals: def.portals, spawnPoints: def.spawnPoints }, API_HEADERS);
    }),
    api('get', '/admin/api/zones/:id/entities', (res, req) => {
      const i = zoneIndex(req);
      if (i < 0) return sendJson(res, 404, { error: 'no such zone' }, API_HEADERS);
      let aborted = false;
      res.onAborted(() => void (aborted = true));
      void feed.snapshot(i).then((buf) => {
        if (aborted) return;
        if (!buf) return sendJson(res, 503, { error: 'zone did not answer' }, API_HEADERS);
        res.cork(() => res.writeStatus('200 OK').writeHeader('content-type', 'application/octet-stream').writeHeader('cache-control', 'no-store').end(buf));
      });
    }),
    api('get', '/admin/api/zones/:id/entities/:eid', (res, req) => {
      const i = zoneIndex(req);
      const id = Number(req.getParameter(1));
      if (i < 0 || !Number.isInteger(id) || id <= 0) return sendJson(res, 404, { error: 'no such zone or entity' }, API_HEADERS);
      let aborted = false;
      res.onAborted(() => void (aborted = true));
      void feed.entity(i, id).then((e) => {
        if (aborted) return;
        if (!e) return sendJson(res, 404, { error: 'no such entity' }, API_HEADERS);
        const s = e.session ? sessions.registry.get(e.session) : undefined;
        sendJson(res, 200, { ...e, zone: zones.hosts[i]!.def.id, sessionState: s ? (s.state === SessionState.connected ? 'connected' : 'zombie') : null }, API_HEADERS);
      });
    }),
    api('get', '/admin/api/sessions', (res, req) => {
      const q = decodeURIComponent(req.getQuery('q') ?? '').toLowerCase();
      const rows = [];
      for (const s of sessions.registry.all()) {
        if (s.state === SessionState.closed) continue;
        if (q && !s.identity.name.toLowerCase().includes(q)) continue;
        rows.push(s);
      }
      rows.sort((a, b) => (a.identity.name < b.identity.name ? -1 : a.identity.name > b.identity.name ? 1 : 0));
      sendJson(
        res,
        200,
        {
          total: rows.length,
          sessions: rows.slice(0, MAX_SESSIONS_LISTED).map((s) => {
            const ws = s.state === SessionState.connected ? s.socket : null;
            const open = ws !== null && ws.getUserData().open;
            const owned = sessions.core.sessions.get(s.id);
            return {
              id: s.id,
              name: s.identity.name,
              guest: s.identity.guest,
              zone: zones.hosts[s.zone]?.def.id ?? null,
              entity: s.entity,
              state: s.state === SessionState.connected ? 'connected' : 'zombie',
              address: open ? ws.getUserData().ip : null,
              // The server does not time round trips (clients ping it); shown as unknown.
              rttMs: null,
              // Known where the main thread serves the socket; a gateway thread's sessions report none.
              bufferedBytes: open ? ws.getBufferedAmount() : 0,
              lagging: owned ? owned.lagging : null,
              muted: s.muted,
            };
          }),
        },
        API_HEADERS,
      );
    }),
    api('post', '/admin/api/sessions/:id/kick', (res, req) => {
      const id = Number(req.getParameter(0));
      const ip = addressText(res.getRemoteAddressAsText());
      const ok = Number.isInteger(id) && sessions.kickSession(id, 'kicked by an operator');
      log.info({ session: id, ip, ok }, 'admin: kick');
      sendJson(res, ok ? 200 : 404, ok ? { session: id, kicked: true } : { error: 'no such session' }, API_HEADERS);
    }),
    api('post', '/admin/api/sessions/:id/mute', (res, req) => {
      const id = Number(req.getParameter(0));
      const on = req.getQuery('on') !== '0';
      const ip = addressText(res.getRemoteAddressAsText());
      if (!Number.isInteger(id) || !sessions.muteSession(id, on)) return sendJson(res, 404, { error: 'no such session' }, API_HEADERS);
      log.info({ session: id, ip, muted: on }, 'admin: mute');
      sendJson(res, 200, { session: id, muted: on }, API_HEADERS);
    }),
    api('get', '/admin/api/logs', (res) => {
      const lines = warningTail.snapshot().map((l) => {
        try {
          return JSON.parse(l) as unknown;
        } catch {
          return { msg: l };
        }
      });
      sendJson(res, 200, { total: warningTail.total, lines }, API_HEADERS);
    }),
  );
  return { routes, live, feed };
}

/** GET /<page>/ and its files; /<page> redirects. A page that was not built answers 503 saying so. */
function pageRoutes(page: string, files: Map<string, { body: Buffer; type: string }>, log: Logger): Route[] {
  const index = files.get('index.html');
  if (!index) {
    log.warn({ page, dir: WEB_DIR }, `the /${page}/ page was not built (npm run build); it answers 503`);
    const notBuilt = (res: HttpResponse) => sendJson(res, 503, { error: `/${page}/ was not built: run npm run build` });
    return [
      { method: 'get', path: `/${page}/`, handler: notBuilt },
      { method: 'get', path: `/${page}`, handler: notBuilt },
    ];
  }
  const routes: Route[] = [
    { method: 'get', path: `/${page}/`, handler: (res) => sendFile(res, index) },
    {
      method: 'get',
      path: `/${page}`,
      handler: (res) => res.cork(() => res.writeStatus(statusLine(301)).writeHeader('location', `/${page}/`).end()),
    },
  ];
  for (const [name, f] of files) if (name !== 'index.html') routes.push({ method: 'get', path: `/${page}/${name}`, handler: (res) => sendFile(res, f) });
  return routes;
}

/** Server-sent events: the history first (event: history), then every sample as it is taken. */
function stream(res: HttpResponse, live: LiveStats): void {
  let open = true;
  let backedUp = 0;
  const unsubscribe = live.subscribe((s) => {
    if (!open) return;
    res.cork(() => {
      const ok = res.write(`data: ${JSON.stringify(s)}\n\n`);
      backedUp = ok ? 0 : backedUp + 1;
    });
    if (backedUp >= MAX_BACKED_UP_WRITES) {
      open = false;
      unsubscribe();
      res.close();
    }
  });
  res.onAborted(() => {
    open = false;
    unsubscribe();
  });
  res.cork(() => {
    res.writeStatus('200 OK').writeHeader('content-type', 'text/event-stream').writeHeader('cache-control', 'no-store').writeHeader('x-accel-buffering', 'no');
    for (const [k, v] of Object.entries(PAGE_HEADERS)) res.writeHeader(k, v);
    res.write(`retry: 2000\n\nevent: history\ndata: ${JSON.stringify(live.history)}\n\n`);
  });
}
