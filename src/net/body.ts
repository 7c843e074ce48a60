// Reading a JSON request body from uWS: headers checked synchronously (the
// HttpRequest dies when the handler returns), the body collected from onData
// chunks (copied: uWS neuters them after each call) up to a limit, and
// onAborted tracked so nobody writes to a response whose client is gone.
// Cold path: /auth/* only.

import type { HttpRequest, HttpResponse } from './uws.js';

export type BodyOutcome = { ok: true; value: unknown } | { ok: false; status: 400 | 413 | 415; error: string; message: string };

export interface BodyState {
  /** The client went away: do not touch the response. */
  aborted: boolean;
  /** The body was not read to its end: the answer must close the connection. */
  unread: boolean;
}

export interface ReadBodyOptions {
  maxBytes: number;
  /** Accept a missing or empty body as `{}` (endpoints whose fields are all optional). */
  allowEmpty?: boolean;
}

const JSON_TYPE = /^application\/json\s*(;|$)/i;

/**
 * Must be called synchronously inside the route handler. Calls `done` exactly
 * once, unless the client aborts first (then never). Registers onAborted, so
 * the caller may answer asynchronously; it checks state.aborted before writing.
 */
export function readJsonBody(res: HttpResponse, req: HttpRequest, opts: ReadBodyOptions, done: (outcome: BodyOutcome, state: BodyState) => void): BodyState {
  const state: BodyState = { aborted: false, unread: true };
  res.onAborted(() => {
    state.aborted = true;
  });
  const contentType = req.getHeader('content-type');
  const lengthHeader = req.getHeader('content-length');
  const declared = lengthHeader === '' ? -1 : /^\d{1,15}$/.test(lengthHeader) ? Number(lengthHeader) : NaN;
  const chunked = /chunked/i.test(req.getHeader('transfer-encoding'));

  if (Number.isNaN(declared)) return finish(done, state, { ok: false, status: 400, error: 'bad_request', message: 'invalid content-length' });
  if (declared === 0 || (declared === -1 && !chunked)) {
    // No body at all: uWS will not call onData.
    state.unread = false;
    if (opts.allowEmpty) return finish(done, state, { ok: true, value: {} });
    return finish(done, state, { ok: false, status: 400, error: 'bad_json', message: 'a JSON object body is required' });
  }
  if (!JSON_TYPE.test(contentType)) {
    return finish(done, state, { ok: false, status: 415, error: 'unsupported_media_type', message: `content-type must be application/json, not ${contentType ? JSON.stringify(contentType.slice(0, 64)) : 'missing'}` });
  }
  if (declared > opts.maxBytes) {
    return finish(done, state, { ok: false, status: 413, error: 'body_too_large', message: `body of ${declared} bytes is over the limit of ${opts.maxBytes}` });
  }

  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  res.onData((chunk, isLast) => {
    if (over || state.aborted) return;
    size += chunk.byteLength;
    if (size > opts.maxBytes) {
      over = true;
      done({ ok: false, status: 413, error: 'body_too_large', message: `body is over the limit of ${opts.maxBytes} bytes` }, state);
      return;
    }
    chunks.push(Buffer.from(new Uint8Array(chunk)));
    if (!isLast) return;
    state.unread = false;
    const text = Buffer.concat(chunks, size).toString('utf8');
    if (text.trim() === '' && opts.allowEmpty) return done({ ok: true, value: {} }, state);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return done({ ok: false, status: 400, error: 'bad_json', message: `body is not valid JSON: ${(err as Error).message.slice(0, 120)}` }, state);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return done({ ok: false, status: 400, error: 'bad_json', message: 'body must be a JSON object' }, state);
    }
    done({ ok: true, value }, state);
  });
  return state;
}

function finish(done: (o: BodyOutcome, s: BodyState) => void, state: BodyState, outcome: BodyOutcome): BodyState {
  done(outcome, state);
  return state;
}
