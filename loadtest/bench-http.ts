// `npm run bench:http [-- --json] [--duration 10] [--logn 15] [--hash-threads 1]`
//
// autocannon against the real server binary (dist/src/main.js) on 127.0.0.1:
//   1. GET /healthz alone, 50 and 10 connections: the gateway's plain HTTP
//      path (the baselines; at 50 connections autocannon itself, one JS
//      thread on the same 2 cores, is the limit);
//   2. POST /auth/login of a registered user: dominated by one scrypt per
//      request on the hash pool (auth.scryptLogN, r=8, p=1; auth.hashThreads);
//   3. both at once: /healthz latency while logins keep the hash pool busy,
//      which shows whether hashing reaches the gateway thread.
// One JSON line per endpoint with --json. The per-address rate limit is
// raised for the run (all requests come from 127.0.0.1).

import autocannon from 'autocannon';
import { scryptSync } from 'node:crypto';
import { startServer } from '../test/helpers/server.js';
import { report, median } from './bench/harness.js';

const argv = process.argv.slice(2);
const opt = (name: string, dflt: number) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
};
const DURATION = opt('duration', 10);
const LOGN = opt('logn', 15);
const HASH_THREADS = opt('hash-threads', 1);

function run(o: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon(o, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

function figures(r: autocannon.Result) {
  return {
    opsPerSec: r.requests.average,
    latencyMsP50: r.latency.p50,
    latencyMsP90: r.latency.p90,
    latencyMsP99: r.latency.p99,
    latencyMsP999: r.latency.p99_9,
    latencyMsMax: r.latency.max,
    requests: r.requests.total,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
  };
}

// The cost of one hash with these parameters, measured here for reference.
const hashMs: number[] = [];
for (let i = 0; i < 5; i++) {
  const t0 = performance.now();
  scryptSync('password1', 'saltsaltsaltsalt', 32, { N: 2 ** LOGN, r: 8, p: 1, maxmem: 256 * 2 ** LOGN * 8 + 16 * 2 ** 20 });
  hashMs.push(performance.now() - t0);
}

const server = await startServer({
  args: [
    `--auth.scryptLogN=${LOGN}`,
    `--auth.hashThreads=${HASH_THREADS}`,
    '--auth.hashQueueMax=1000',
    '--auth.rateLimitBurst=100000',
    '--auth.rateLimitPerMinute=6000000',
  ],
  timeoutMs: 30_000,
});
try {
  const reg = await fetch(`${server.url}/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'BenchUser', password: 'password1' }) });
  if (reg.status !== 201) throw new Error(`register failed: ${reg.status} ${await reg.text()}`);
  const login = { url: `${server.url}/auth/login`, method: 'POST' as const, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'BenchUser', password: 'password1' }) };
  const scrypt = { logN: LOGN, r: 8, p: 1, hashThreads: HASH_THREADS, oneHashMsHere: median(hashMs) };

  const health = await run({ url: `${server.url}/healthz`, connections: 50, duration: DURATION });
  report({ name: 'http.healthz', ...figures(health), connections: 50 });

  const health10 = await run({ url: `${server.url}/healthz`, connections: 10, duration: DURATION });
  report({ name: 'http.healthz.c10', ...figures(health10), connections: 10 });

  const logins = await run({ ...login, connections: 8, duration: DURATION });
  report({ name: 'http.authLogin', ...figures(logins), connections: 8, ...scrypt, vsHealthz: logins.requests.average / health.requests.average });

  const [both, healthDuring] = await Promise.all([run({ ...login, connections: 8, duration: DURATION }), run({ url: `${server.url}/healthz`, connections: 10, duration: DURATION })]);
  report({ name: 'http.healthz.duringLogins', ...figures(healthDuring), connections: 10, loginsPerSecMeanwhile: both.requests.average, baselineP99MsAlone: health10.latency.p99, baselineP50MsAlone: health10.latency.p50 });
} finally {
  await server.stop();
}
