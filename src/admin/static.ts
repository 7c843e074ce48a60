// Static files of the browser pages (the dashboard at /admin/, the game at
// /play/), built by scripts/build-web.mjs into dist/web/<page>/ and served
// from memory: read once at start-up, so a request costs no file I/O.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HttpResponse } from '../net/uws.js';

/** dist/web, next to dist/src where this file is compiled to. */
export const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
};

/** Pages load nothing from elsewhere; a WebSocket may go to another port (a proxy in tests) or host. */
export const PAGE_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

export interface StaticFile {
  body: Buffer;
  type: string;
}

/** Every file of dist/web/<page>/ by name (index.html, app.js...); empty when the page was not built. */
export function loadPage(page: string, dir = WEB_DIR): Map<string, StaticFile> {
  const out = new Map<string, StaticFile>();
  const base = join(dir, page);
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return out;
  }
  for (const name of names) {
    const p = join(base, name);
    if (!statSync(p).isFile()) continue;
    const ext = name.slice(name.lastIndexOf('.'));
    out.set(name, { body: readFileSync(p), type: TYPES[ext] ?? 'application/octet-stream' });
  }
  return out;
}

export function sendFile(res: HttpResponse, f: StaticFile): void {
  res.cork(() => {
    res.writeStatus('200 OK').writeHeader('content-type', f.type).writeHeader('cache-control', 'no-cache');
    for (const [k, v] of Object.entries(PAGE_HEADERS)) res.writeHeader(k, v);
    res.end(f.body);
  });
}
