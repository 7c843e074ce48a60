// HTTP routes on the gateway's port: a small table compiled into uWS routes,
// with 405 (and an Allow header) for a known path asked with another method
// and 404 for everything else.

import type { HttpRequest, HttpResponse, TemplatedApp } from './uws.js';

export type HttpMethod = 'get' | 'post';
export type HttpHandler = (res: HttpResponse, req: HttpRequest) => void;

export interface Route {
  method: HttpMethod;
  path: string;
  handler: HttpHandler;
}

export function mountRoutes(app: TemplatedApp, routes: readonly Route[], reservedPaths: readonly string[] = []): void {
  const byPath = new Map<string, HttpMethod[]>();
  for (const r of routes) {
    app[r.method](r.path, r.handler);
    byPath.set(r.path, [...(byPath.get(r.path) ?? []), r.method]);
  }
  for (const [path, methods] of byPath) {
    const allow = methods.map((m) => m.toUpperCase()).join(', ');
    app.any(path, (res) => sendJson(res, 405, { error: 'method not allowed', allow }, { allow }));
  }
  for (const path of reservedPaths) {
    app.any(path, (res) => sendJson(res, 426, { error: 'upgrade required: this path speaks WebSocket' }, { upgrade: 'websocket' }));
  }
  app.any('/*', (res) => sendJson(res, 404, { error: 'not found' }));
}

const STATUS_TEXT: Record<number, string> = {
  200: '200 OK',
  201: '201 Created',
  400: '400 Bad Request',
  401: '401 Unauthorized',
  403: '403 Forbidden',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  409: '409 Conflict',
  413: '413 Payload Too Large',
  415: '415 Unsupported Media Type',
  426: '426 Upgrade Required',
  429: '429 Too Many Requests',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};

export function statusLine(status: number): string {
  return STATUS_TEXT[status] ?? `${status} Status`;
}

/** An upgrade refused while shutting down: 503, retry in 5 s. */
export function refuseUpgradeShuttingDown(res: HttpResponse): void {
  res.cork(() => res.writeStatus('503 Service Unavailable').writeHeader('retry-after', '5').end('shutting down'));
}

/** An upgrade refused by admission: 429 with when to retry, in seconds and (for our SDK) in ms. */
export function refuseUpgradeRetryLater(res: HttpResponse, retryMs: number): void {
  res.cork(() =>
    res
      .writeStatus('429 Too Many Requests')
      .writeHeader('retry-after', String(Math.ceil(retryMs / 1000)))
      .writeHeader('x-retry-after-ms', String(Math.ceil(retryMs)))
      .end('try again later'),
  );
}

export function sendText(res: HttpResponse, status: number, contentType: string, body: string, headers: Record<string, string> = {}): void {
  res.cork(() => {
    res.writeStatus(statusLine(status)).writeHeader('content-type', contentType);
    for (const [k, v] of Object.entries(headers)) res.writeHeader(k, v);
    res.end(body);
  });
}

export function sendJson(res: HttpResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendText(res, status, 'application/json', JSON.stringify(body), headers);
}

/**
 * Runs an async handler on a response that may be aborted by the client in the
 * meantime; writing to an aborted uWS response is an error, so the write is
 * skipped. Errors become a 500 without taking anything else down.
 */
export function respondAsync(res: HttpResponse, work: () => Promise<{ status: number; contentType: string; body: string; headers?: Record<string, string> }>, onError: (err: unknown) => void): void {
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  work().then(
    (r) => {
      if (!aborted) sendText(res, r.status, r.contentType, r.body, r.headers);
    },
    (err: unknown) => {
      onError(err);
      if (!aborted) sendJson(res, 500, { error: 'internal error' });
    },
  );
}
