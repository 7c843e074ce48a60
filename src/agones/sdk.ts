// A client of the Agones SDK sidecar's local HTTP API (the REST gateway of
// the SDK server, https://agones.dev/site/docs/guides/client-sdks/rest/):
//
//   POST /ready            {}                       the GameServer takes players
//   POST /health           {}                       one health ping
//   POST /shutdown         {}                       the GameServer is done
//   PUT  /metadata/label   {"key":k,"value":v}      label agones.dev/sdk-<k>
//   GET  /gameserver                                the GameServer (name, state, ...)
//
// Status, not exceptions: every call resolves with ok or the reason it
// failed (HTTP status, refused, timed out). Cold path: a few calls a second.
//
// node:http rather than fetch: fetch refuses some ports outright ("bad port",
// the WHATWG block list) and hides the socket error code under "fetch failed".

import http from 'node:http';
import https from 'node:https';

export const AGONES_DEFAULT_HTTP_PORT = 9358;

/** The sidecar's base URL: agones.sdkUrl, else 127.0.0.1 on $AGONES_SDK_HTTP_PORT (Agones sets it), else 9358. */
export function agonesBaseUrl(sdkUrl: string, env: NodeJS.ProcessEnv = process.env): string {
  if (sdkUrl) return sdkUrl.replace(/\/+$/, '');
  const raw = env.AGONES_SDK_HTTP_PORT;
  const port = raw && /^\d{1,5}$/.test(raw) && Number(raw) > 0 && Number(raw) < 65536 ? Number(raw) : AGONES_DEFAULT_HTTP_PORT;
  return `http://127.0.0.1:${port}`;
}

export const AGONES_CALLS = ['ready', 'health', 'shutdown', 'label', 'gameserver'] as const;
export type AgonesCall = (typeof AGONES_CALLS)[number];

export type CallResult = { ok: true; body?: unknown } | { ok: false; reason: string };

/** What GET /gameserver tells us that we log (the REST gateway's JSON uses snake_case). */
export interface GameServerInfo {
  name?: string;
  state?: string;
}

/** The largest sidecar answer we read (GET /gameserver is a few KiB). */
const MAX_BODY_BYTES = 256 * 1024;

export class AgonesSdk {
  private readonly url: URL;
  private readonly agent: http.Agent;

  constructor(
    readonly baseUrl: string,
    private readonly timeoutMs: number,
  ) {
    this.url = new URL(baseUrl);
    // Keep-alive: Health every couple of seconds should not open a socket each time.
    this.agent = new (this.url.protocol === 'https:' ? https.Agent : http.Agent)({ keepAlive: true, maxSockets: 4 });
  }

  ready(): Promise<CallResult> {
    return this.send('POST', '/ready', {});
  }

  health(): Promise<CallResult> {
    return this.send('POST', '/health', {});
  }

  shutdown(): Promise<CallResult> {
    return this.send('POST', '/shutdown', {});
  }

  /** Agones prefixes the key with agones.dev/sdk-; key and value must be valid Kubernetes label text. */
  setLabel(key: string, value: string): Promise<CallResult> {
    return this.send('PUT', '/metadata/label', { key, value });
  }

  async gameServer(): Promise<CallResult & { info?: GameServerInfo }> {
    const r = await this.send('GET', '/gameserver', undefined);
    if (!r.ok) return r;
    const b = r.body as { object_meta?: { name?: unknown }; status?: { state?: unknown } } | undefined;
    const info: GameServerInfo = {};
    if (typeof b?.object_meta?.name === 'string') info.name = b.object_meta.name;
    if (typeof b?.status?.state === 'string') info.state = b.status.state;
    return { ok: true, info };
  }

  /** Frees the kept-alive sockets (at shutdown, so they do not hold the process). */
  close(): void {
    this.agent.destroy();
  }

  private async send(method: 'GET' | 'POST' | 'PUT', path: string, body: object | undefined): Promise<CallResult> {
    let r = await this.once(method, path, body);
    // A kept-alive socket the sidecar closed meanwhile (it restarted): Node's documented advice is to retry once.
    if (!r.ok && r.reusedSocket && (r.reason === 'ECONNRESET' || r.reason === 'EPIPE')) r = await this.once(method, path, body);
    return r.ok ? { ok: true, body: r.body } : { ok: false, reason: r.reason };
  }

  private once(method: string, path: string, body: object | undefined): Promise<CallResult & { reusedSocket?: boolean }> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const lib = this.url.protocol === 'https:' ? https : http;
    return new Promise((resolve) => {
      let settled = false;
      const done = (r: CallResult & { reusedSocket?: boolean }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(r);
      };
      const req = lib.request(
        {
          protocol: this.url.protocol,
          hostname: this.url.hostname,
          port: this.url.port || undefined,
          path: this.url.pathname.replace(/\/+$/, '') + path,
          method,
          agent: this.agent,
          headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size <= MAX_BODY_BYTES) chunks.push(c);
          });
          res.on('error', (err: NodeJS.ErrnoException) => done({ ok: false, reason: err.code ?? err.message }));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            if (status < 200 || status > 299) return done({ ok: false, reason: `HTTP ${status}` });
            let parsed: unknown;
            try {
              parsed = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
            } catch {
              parsed = undefined;
            }
            done({ ok: true, body: parsed });
          });
        },
      );
      const timer = setTimeout(() => {
        done({ ok: false, reason: `timed out after ${this.timeoutMs} ms` });
        req.destroy();
      }, this.timeoutMs);
      timer.unref();
      req.on('error', (err: NodeJS.ErrnoException) => done({ ok: false, reason: err.code ?? err.message, reusedSocket: req.reusedSocket }));
      req.end(payload);
    });
  }
}
