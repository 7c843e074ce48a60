// One HTTP request over a raw connection from a chosen source address: the
// status the server answered (or how the connection ended without one).

import { RawConn } from './raw.js';
import type { Outcome } from './types.js';

export async function rawPost(host: string, port: number, src: string, path: string, body: string, timeoutMs = 10_000): Promise<{ outcome: Outcome; status: number; body: string }> {
  const c = new RawConn(host, port, src);
  if (!(await c.connected)) return { outcome: await c.closed, status: 0, body: '' };
  let text = '';
  c.socket.on('data', (d: Buffer) => {
    if (text.length < 8192) text += d.toString('utf8');
  });
  c.write(`POST ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  const got = await c.until(() => c.status !== 0 && text.includes('\r\n\r\n') && bodyComplete(text), timeoutMs);
  const status = c.status;
  if (c.open) {
    c.socket.destroy();
    await c.closed;
  }
  if (!got && status === 0) return { outcome: 'open-at-end', status, body: '' };
  return { outcome: status > 0 ? `http:${status}` : c.outcome!, status, body: text.slice(text.indexOf('\r\n\r\n') + 4) };
}

function bodyComplete(text: string): boolean {
  const i = text.indexOf('\r\n\r\n');
  const m = /content-length:\s*(\d+)/i.exec(text.slice(0, i));
  return !m || Buffer.byteLength(text.slice(i + 4)) >= Number(m[1]);
}
