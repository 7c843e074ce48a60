// HTTP helpers for tests: a JSON POST over node:http (from any 127.x source
// address), and a raw-socket request for the cases a client library will not
// send (lying content-length, a body cut short, headers only).

import { request } from 'node:http';
import { connect } from 'node:net';

export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  json: Record<string, unknown> | null;
}

function parseJson(text: string): Record<string, unknown> | null {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return null;
  }
}

export function postJson(
  base: string,
  path: string,
  body: unknown,
  opts: { headers?: Record<string, string>; localAddress?: string; raw?: string; method?: string } = {},
): Promise<HttpAnswer> {
  const url = new URL(path, base);
  const payload = opts.raw ?? (body === undefined ? '' : JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: opts.method ?? 'POST',
        localAddress: opts.localAddress,
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), ...opts.headers },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : String(v);
          resolve({ status: res.statusCode ?? 0, headers, body: text, json: parseJson(text) });
        });
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(payload);
  });
}

export interface RawAnswer {
  status: number;
  head: string;
  body: string;
  json: Record<string, unknown> | null;
  /** The server closed the connection after answering. */
  closed: boolean;
}

/**
 * Writes `chunks` (strings, each a separate write after a short pause) on a
 * fresh connection and reads one response; waits up to 1 s after it for the
 * server to close the connection.
 */
export function rawRequest(port: number, chunks: string[], localAddress = '127.0.0.1'): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port, localAddress });
    let data = '';
    let answer: Omit<RawAnswer, 'closed'> | null = null;
    let closeWait: NodeJS.Timeout | null = null;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no complete response; got ${JSON.stringify(data.slice(0, 300))}`));
    }, 10_000);
    const tryParse = () => {
      if (answer) return;
      const end = data.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = data.slice(0, end);
      const len = Number(/content-length: *(\d+)/i.exec(head)?.[1] ?? '0');
      const body = data.slice(end + 4);
      if (Buffer.byteLength(body) < len) return;
      answer = { status: Number(head.split(' ')[1]), head, body, json: parseJson(body) };
      clearTimeout(timer);
      closeWait = setTimeout(() => {
        sock.destroy();
        resolve({ ...answer!, closed: false });
      }, 1000);
    };
    sock.setEncoding('utf8');
    sock.on('data', (c: string) => {
      data += c;
      tryParse();
    });
    sock.on('close', () => {
      clearTimeout(timer);
      if (closeWait) clearTimeout(closeWait);
      if (answer) resolve({ ...answer, closed: true });
      else reject(new Error(`connection closed before a response; got ${JSON.stringify(data.slice(0, 300))}`));
    });
    sock.on('error', () => {});
    sock.on('connect', async () => {
      for (const c of chunks) {
        if (sock.destroyed) return;
        sock.write(c);
        await new Promise((r) => setTimeout(r, 20));
      }
    });
  });
}
