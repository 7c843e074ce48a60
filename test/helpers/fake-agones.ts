// A fake Agones SDK sidecar: the REST calls the server makes, on 127.0.0.1,
// recording each request (and what a probe said when it arrived). GET
// /gameserver answers in the REST gateway's shape (object_meta, status).

import { createServer, type IncomingMessage, type Server } from 'node:http';
import { once } from 'node:events';

export interface SidecarCall {
  method: string;
  path: string;
  body: unknown;
  at: number;
  /** What onCall's probe returned for this call (e.g. the server's /readyz status then). */
  probe?: unknown;
}

export interface FakeSidecar {
  url: string;
  calls: SidecarCall[];
  /** Answer every call with this status (200 by default; 503 to play a sidecar that is not up). */
  status: number;
  /** Resolves with the first call matching pred, past or future. */
  waitFor(pred: (c: SidecarCall) => boolean, timeoutMs?: number): Promise<SidecarCall>;
  close(): Promise<void>;
}

const ROUTES = new Set(['POST /ready', 'POST /health', 'POST /shutdown', 'PUT /metadata/label', 'GET /gameserver']);

export const FAKE_GAMESERVER = { object_meta: { name: 'mmo-fleet-abc12-xyz34', namespace: 'default', labels: {} }, status: { state: 'Ready', address: '127.0.0.1', ports: [{ name: 'game', port: 7777 }] } };

/** `port`: listen there (0, the default, picks one): a sidecar that comes up after the server. */
export async function startFakeSidecar(probe?: (path: string) => Promise<unknown>, port = 0): Promise<FakeSidecar> {
  const calls: SidecarCall[] = [];
  const waiters: Array<{ pred: (c: SidecarCall) => boolean; resolve: (c: SidecarCall) => void }> = [];
  const read = async (req: IncomingMessage): Promise<unknown> => {
    let text = '';
    for await (const chunk of req) text += String(chunk);
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  };
  const sidecar: FakeSidecar = {
    url: '',
    calls,
    status: 200,
    waitFor: (pred, timeoutMs = 10_000) => {
      const found = calls.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`sidecar call not seen in ${timeoutMs} ms; calls: ${JSON.stringify(calls.map((c) => c.path))}`)), timeoutMs);
        waiters.push({ pred, resolve: (c) => (clearTimeout(t), resolve(c)) });
      });
    },
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const path = (req.url ?? '').split('?')[0]!;
      const call: SidecarCall = { method: req.method ?? '', path, body: await read(req), at: Date.now() };
      if (probe) call.probe = await probe(path).catch((e: Error) => `probe failed: ${e.message}`);
      const known = ROUTES.has(`${call.method} ${path}`);
      calls.push(call);
      for (let i = waiters.length - 1; i >= 0; i--) if (waiters[i]!.pred(call)) waiters.splice(i, 1)[0]!.resolve(call);
      const status = known ? sidecar.status : 404;
      res.writeHead(status, { 'content-type': 'application/json' }).end(status === 200 && path === '/gameserver' ? JSON.stringify(FAKE_GAMESERVER) : '{}');
    })();
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const addr = server.address() as { port: number };
  sidecar.url = `http://127.0.0.1:${addr.port}`;
  return sidecar;
}
