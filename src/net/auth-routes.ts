// HTTP account endpoints on the gateway's port:
//
//   POST /auth/register {"name","password"} -> 201 {accountId, characterId, name, token, expiresAt}
//   POST /auth/login    {"name","password"} -> 200 {accountId, name, token, expiresAt}
//   POST /auth/guest    {"name"?}           -> 200 {accountId, name, token, expiresAt, guest: true}
//
// Errors are JSON {error, message, field?}: 400 bad_json / invalid_name /
// invalid_password, 401 bad_credentials, 403 guests_disabled, 409 name_taken,
// 413 body_too_large, 415 unsupported_media_type, 429 rate_limited, 503 busy /
// unavailable; 429 and 503 carry retry-after. Every request first takes a
// token from its source address's bucket, before any body is read. A login
// then asks the guess limit (src/auth/guess-limit.ts) before the password is
// hashed: 429 too_many_guesses with retry-after when the name or address is
// locked for failed logins.

import type { Registry } from 'prom-client';
import type { Logger } from '../log/logger.js';
import { HotCounter, HotHistogram, exponentialBuckets } from '../metrics/hot.js';
import type { Accounts, AuthError, AuthResult } from '../persist/accounts.js';
import { GuessOutcome, type GuessLimit } from '../auth/guess-limit.js';
import { readJsonBody, type BodyState } from './body.js';
import { statusLine, type Route } from './http.js';
import type { RateLimiter } from './rate-limit.js';
import { addressText, type HttpResponse } from './uws.js';

const ENDPOINTS = ['register', 'login', 'guest'] as const;
type Endpoint = (typeof ENDPOINTS)[number];
const RESULTS = ['ok', 'rate_limited', 'bad_request', 'invalid', 'name_taken', 'bad_credentials', 'guests_disabled', 'busy', 'unavailable', 'error', 'locked'] as const;
type ResultLabel = (typeof RESULTS)[number];

export class AuthMetrics {
  readonly requests: HotCounter;
  readonly seconds: HotHistogram;

  constructor(registry: Registry) {
    this.requests = new HotCounter(
      registry,
      'mmo_auth_requests_total',
      'Requests to /auth/*, by endpoint and result.',
      ENDPOINTS.flatMap((endpoint) => RESULTS.map((result) => ({ endpoint, result }))),
    );
    // 1 ms .. ~16 s: a login is one scrypt (~100 ms at the default cost) plus queueing.
    this.seconds = new HotHistogram(registry, 'mmo_auth_request_seconds', 'Time from request to answer for /auth/*, by endpoint.', exponentialBuckets(0.001, 2, 15), ENDPOINTS.map((endpoint) => ({ endpoint })));
  }

  count(endpoint: Endpoint, result: ResultLabel): void {
    this.requests.inc(ENDPOINTS.indexOf(endpoint) * RESULTS.length + RESULTS.indexOf(result));
  }
}

export interface AuthRoutesOptions {
  accounts: Accounts;
  limiter: RateLimiter;
  maxBodyBytes: number;
  log: Logger;
  metrics: AuthMetrics | null;
  /** Failed-login limit per account name and address, asked before the hash (null: none). */
  guesses?: GuessLimit | null;
  now?: () => number;
}

const STATUS: Record<AuthError, number> = {
  invalid_name: 400,
  invalid_password: 400,
  bad_credentials: 401,
  guests_disabled: 403,
  name_taken: 409,
  busy: 503,
  unavailable: 503,
};

function resultLabel(e: AuthError): ResultLabel {
  return e === 'invalid_name' || e === 'invalid_password' ? 'invalid' : e;
}

export function authRoutes(o: AuthRoutesOptions): Route[] {
  const now = o.now ?? Date.now;
  let lastErrorLog = 0;

  const route = (endpoint: Endpoint, work: (body: Record<string, unknown>) => Promise<AuthResult<object>> | AuthResult<object>, okStatus: number, allowEmpty: boolean): Route => ({
    method: 'post',
    path: `/auth/${endpoint}`,
    handler: (res, req) => {
      const t0 = performance.now();
      const ip = addressText(res.getRemoteAddressAsText());
      const finish = (state: BodyState | null, status: number, body: unknown, result: ResultLabel, headers: Record<string, string> = {}) => {
        o.metrics?.count(endpoint, result);
        o.metrics?.seconds.observe((performance.now() - t0) / 1000, ENDPOINTS.indexOf(endpoint));
        if (state?.aborted) return;
        respond(res, status, body, headers, state === null || state.unread);
      };

      const retryMs = o.limiter.take(ip, now());
      if (retryMs > 0) {
        finish(null, 429, { error: 'rate_limited', message: 'too many requests from this address', retryAfterMs: retryMs }, 'rate_limited', { 'retry-after': String(Math.ceil(retryMs / 1000)) });
        return;
      }
      readJsonBody(res, req, { maxBytes: o.maxBodyBytes, allowEmpty }, (outcome, state) => {
        if (!outcome.ok) {
          finish(state, outcome.status, { error: outcome.error, message: outcome.message }, 'bad_request');
          return;
        }
        const body = outcome.value as Record<string, unknown>;
        const guesses = endpoint === 'login' ? (o.guesses ?? null) : null;
        const trusts = endpoint === 'register' ? (o.guesses ?? null) : null;
        const name = typeof body.name === 'string' ? body.name : '';
        if (guesses) {
          const waitMs = guesses.begin(name, ip, now());
          if (waitMs > 0) {
            finish(state, 429, { error: 'too_many_guesses', message: 'too many failed logins for this account or from this address', retryAfterMs: waitMs }, 'locked', { 'retry-after': String(Math.ceil(waitMs / 1000)) });
            return;
          }
        }
        Promise.resolve()
          .then(() => work(body))
          .then(
            (r) => {
              guesses?.end(name, ip, r.ok ? GuessOutcome.ok : r.error === 'bad_credentials' ? GuessOutcome.wrongPassword : GuessOutcome.notAGuess, now());
              if (r.ok) {
                trusts?.trust(name, ip, now());
                const { ok: _ok, ...grant } = r;
                finish(state, okStatus, grant, 'ok');
                return;
              }
              const headers: Record<string, string> = r.error === 'busy' ? { 'retry-after': '1' } : r.error === 'unavailable' ? { 'retry-after': '5' } : {};
              if (r.error === 'unavailable') logError(r.message);
              finish(state, STATUS[r.error], { error: r.error, message: r.message, ...(r.field ? { field: r.field } : {}) }, resultLabel(r.error), headers);
            },
            (err: unknown) => {
              guesses?.end(name, ip, GuessOutcome.notAGuess, now());
              logError(err);
              finish(state, 500, { error: 'internal', message: 'internal error' }, 'error');
            },
          );
      });
    },
  });

  const logError = (err: unknown) => {
    const t = now();
    if (t - lastErrorLog < 5000) return;
    lastErrorLog = t;
    o.log.error({ err }, 'auth request failed');
  };

  return [
    route('register', (b) => o.accounts.register(b.name, b.password), 201, false),
    route('login', (b) => o.accounts.login(b.name, b.password), 200, false),
    route(
      'guest',
      (b) => {
        const r = o.accounts.guest(b.name);
        return r.ok ? { ...r, guest: true } : r;
      },
      200,
      true,
    ),
  ];
}

/** Writes a JSON answer; closes the connection when the request body was not read (uWS cannot skip it). */
function respond(res: HttpResponse, status: number, body: unknown, headers: Record<string, string>, close: boolean): void {
  res.cork(() => {
    res.writeStatus(statusLine(status)).writeHeader('content-type', 'application/json').writeHeader('cache-control', 'no-store');
    for (const [k, v] of Object.entries(headers)) res.writeHeader(k, v);
    res.end(JSON.stringify(body), close);
  });
}
