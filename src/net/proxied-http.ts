// HTTP requests forwarded by a gateway thread, answered on the main thread by
// the same Route handlers the single-threaded gateway mounts on uWS. The
// handlers see the part of uWS's HttpRequest/HttpResponse API they use
// (headers, query, parameters, body chunks, cork, status, headers, write, end,
// onAborted), implemented over the forwarded request and posted back in
// pieces. Matching mirrors mountRoutes: a route's path with :params, 405 with
// Allow for a known path asked with another method, 426 for the WebSocket
// path, 404 for the rest. Cold path.

import type { HttpHandler, HttpMethod, Route } from './http.js';
import { statusLine } from './http.js';
import type { HttpRequest, HttpResponse } from './uws.js';
import type { CoreToThread, ProxiedRequest } from './gateway-messages.js';

interface CompiledRoute {
  method: HttpMethod;
  pattern: RegExp;
  handler: HttpHandler;
}

export type RouteMatch =
  | { kind: 'route'; handler: HttpHandler; params: string[] }
  | { kind: 'status'; status: number; body: unknown; headers: Record<string, string> };

export class RouteTable {
  private readonly routes: CompiledRoute[] = [];
  private readonly paths: Array<{ pattern: RegExp; methods: HttpMethod[] }> = [];

  constructor(
    routes: readonly Route[],
    private readonly reservedPaths: readonly string[],
  ) {
    for (const r of routes) {
      const pattern = compile(r.path);
      this.routes.push({ method: r.method, pattern, handler: r.handler });
      const known = this.paths.find((p) => p.pattern.source === pattern.source);
      if (known) known.methods.push(r.method);
      else this.paths.push({ pattern, methods: [r.method] });
    }
  }

  match(method: string, path: string): RouteMatch {
    for (const r of this.routes) {
      if (r.method !== method) continue;
      const m = r.pattern.exec(path);
      if (m) return { kind: 'route', handler: r.handler, params: m.slice(1).map((p) => decodeURIComponent(p)) };
    }
    for (const p of this.paths) {
      if (p.pattern.test(path)) {
        const allow = p.methods.map((x) => x.toUpperCase()).join(', ');
        return { kind: 'status', status: 405, body: { error: 'method not allowed', allow }, headers: { allow } };
      }
    }
    if (this.reservedPaths.includes(path)) return { kind: 'status', status: 426, body: { error: 'upgrade required: this path speaks WebSocket' }, headers: { upgrade: 'websocket' } };
    return { kind: 'status', status: 404, body: { error: 'not found' }, headers: {} };
  }
}

function compile(path: string): RegExp {
  const src = path
    .split('/')
    .map((seg) => (seg.startsWith(':') ? '([^/]+)' : seg === '*' ? '.*' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${src}$`);
}

/** The request side: what uWS's HttpRequest offers, over the forwarded copy. */
export class ProxiedHttpRequest {
  private readonly headers = new Map<string, string>();
  private params: string[] = [];
  private readonly q: URLSearchParams;

  constructor(private readonly r: ProxiedRequest) {
    for (const [k, v] of r.headers) if (!this.headers.has(k)) this.headers.set(k, v);
    this.q = new URLSearchParams(r.query);
  }

  setParams(params: string[]): void {
    this.params = params;
  }

  getHeader(name: string): string {
    return this.headers.get(name.toLowerCase()) ?? '';
  }

  getQuery(): string;
  getQuery(name: string): string | undefined;
  getQuery(name?: string): string | undefined {
    if (name === undefined) return this.r.query;
    return this.q.get(name) ?? undefined;
  }

  getParameter(index: number): string {
    return this.params[index] ?? '';
  }

  getUrl(): string {
    return this.r.url;
  }

  getMethod(): string {
    return this.r.method;
  }

  getCaseSensitiveMethod(): string {
    return this.r.method.toUpperCase();
  }

  forEach(cb: (key: string, value: string) => void): void {
    for (const [k, v] of this.r.headers) cb(k, v);
  }

  setYield(): this {
    return this;
  }
}

/** The response side: collects status and headers, posts the body back as it is written. */
export class ProxiedHttpResponse {
  private status = '200 OK';
  private readonly headers: Array<[string, string]> = [];
  private headSent = false;
  private ended = false;
  private aborted = false;
  private abortHandler: (() => void) | null = null;
  private dataHandler: ((chunk: ArrayBuffer, isLast: boolean) => void) | null = null;

  constructor(
    private readonly r: ProxiedRequest,
    private readonly postBack: (m: CoreToThread) => void,
  ) {}

  /** The client went away (the gateway thread saw the abort, or the thread died). */
  abort(): void {
    if (this.aborted || this.ended) return;
    this.aborted = true;
    const h = this.abortHandler;
    this.abortHandler = null;
    h?.();
  }

  /** A piece of the body arrived from the gateway thread: to the onData reader, as uWS would. Ignored when nobody reads it. */
  pushData(chunk: ArrayBuffer, isLast: boolean): void {
    if (this.aborted || this.ended) return;
    this.dataHandler?.(chunk, isLast);
  }

  get done(): boolean {
    return this.ended || this.aborted;
  }

  cork(cb: () => void): this {
    cb();
    return this;
  }

  writeStatus(status: string): this {
    this.status = status;
    return this;
  }

  writeHeader(key: string, value: string): this {
    this.headers.push([key, value]);
    return this;
  }

  write(chunk: string | ArrayBuffer | ArrayBufferView): boolean {
    if (this.ended || this.aborted) return false;
    this.postBack({ t: 'httpRes', id: this.r.id, ...this.head(), body: asBody(chunk), done: false });
    return true;
  }

  end(body?: string | ArrayBuffer | ArrayBufferView, closeConnection?: boolean): this {
    if (this.ended || this.aborted) return this;
    this.ended = true;
    this.postBack({ t: 'httpRes', id: this.r.id, ...this.head(), body: body === undefined ? null : asBody(body), done: true, closeConnection: closeConnection ?? false });
    return this;
  }

  endWithoutBody(): this {
    return this.end();
  }

  close(): this {
    return this.end(undefined, true);
  }

  onAborted(h: () => void): this {
    this.abortHandler = h;
    return this;
  }

  onData(h: (chunk: ArrayBuffer, isLast: boolean) => void): this {
    this.dataHandler = h;
    return this;
  }

  getRemoteAddressAsText(): ArrayBuffer {
    const b = Buffer.from(this.r.ip, 'latin1');
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  }

  private head(): { status?: string; headers?: Array<[string, string]> } {
    if (this.headSent) return {};
    this.headSent = true;
    return { status: this.status, headers: this.headers };
  }
}

function asBody(b: string | ArrayBuffer | ArrayBufferView): string | ArrayBuffer {
  if (typeof b === 'string' || b instanceof ArrayBuffer) return b;
  const u = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  return u.slice().buffer;
}

/**
 * Runs one forwarded request against the table. A handler that throws gets a
 * 500 (if it had not answered yet) and costs nothing else.
 */
export function serveProxied(table: RouteTable, r: ProxiedRequest, postBack: (m: CoreToThread) => void, onError: (err: unknown) => void): ProxiedHttpResponse {
  const res = new ProxiedHttpResponse(r, postBack);
  const path = r.url;
  const m = table.match(r.method, path);
  try {
    if (m.kind === 'status') {
      res.writeStatus(statusLine(m.status)).writeHeader('content-type', 'application/json');
      for (const [k, v] of Object.entries(m.headers)) res.writeHeader(k, v);
      res.end(JSON.stringify(m.body));
      return res;
    }
    const req = new ProxiedHttpRequest(r);
    req.setParams(m.params);
    m.handler(res as unknown as HttpResponse, req as unknown as HttpRequest);
  } catch (err) {
    onError(err);
    if (!res.done) res.writeStatus(statusLine(500)).writeHeader('content-type', 'application/json').end(JSON.stringify({ error: 'internal error' }));
  }
  return res;
}
