// Composition root: builds the running server from a loaded configuration.
// main.ts owns the process (arguments, signals, exit codes); this file owns
// the parts and the order they start and stop in.

import { stat } from 'node:fs/promises';
import { fallbackWarning, nativeStatus } from '../native-bindings/index.js';
import { ThreadRegistry, ThreadsError, setupThread, type ThreadHandle } from '../native-bindings/threads.js';
import { ConfigError } from './config/errors.js';
import type { LoadedConfig } from './config/loader.js';
import { logWriteErrorCount, type Logger } from './log/logger.js';
import { createMetrics, type MetricsRuntime } from './metrics/registry.js';
import { registerThreadCpuMetric } from './metrics/threads.js';
import { PullCounter, PullGauge } from './metrics/hot.js';
import { Gateway, type GatewayLike } from './net/gateway.js';
import { ThreadedGateway, autoGatewayThreads } from './net/threaded-gateway.js';
import { GatewayFault, threadOfConn } from './net/gateway-records.js';
import { Doorbell } from './ring/index.js';
import { RemoteCore } from './session/link-records.js';
import { sendJson, respondAsync, type Route } from './net/http.js';
import { Readiness } from './net/readiness.js';
import { CloseReason, NetStats } from './net/stats.js';
import { loadUws, type UwsLoad } from './net/uws.js';
import { CloseCode } from './protocol/close-codes.js';
import { VERSION } from './version.js';
import { Persistence, persistenceOptions } from './persist/persistence.js';
import { PasswordPool } from './persist/password-pool.js';
import { loadTokenSecret, TokenSigner } from './persist/token.js';
import { Accounts } from './persist/accounts.js';
import type { PlayerState } from './persist/types.js';
import { RateLimiter } from './net/rate-limit.js';
import { assertPortFree } from './net/port-guard.js';
import { lockDataDir } from './persist/data-dir-lock.js';
import { authRoutes, AuthMetrics } from './net/auth-routes.js';
import { guessLimitFor } from './auth/guess-limit.js';
import { adminRoutes } from './admin/routes.js';
import { availableParallelism } from 'node:os';
import type { ZoneDef } from './world/index.js';
import { loadContent, type LoadedContent } from './content/load.js';
import { assertStartupConfig, zoneCount, zoneDefs } from './config/validate.js';
import { ZoneSet } from './zone/host.js';
import { registerZoneMetrics } from './zone/metrics.js';
import { FaultMode } from './zone/records.js';
import { BufferPool } from './pool/index.js';
import { SessionService } from './session/service.js';
import { SharedAdmission } from './session/shared-admission.js';
import { startDegrade } from './net/degrade-runtime.js';
import { clientVerifyLimits } from './protocol/verify.js';
import type { Config } from './config/schema.js';
import { startAgones } from './agones/agent.js';

export interface RunningServer {
  readonly port: number;
  readonly uws: UwsLoad;
  /** The main-thread gateway (net.gatewayThreads 1) or the gateway threads' main side. */
  readonly gateway: GatewayLike;
  readonly metrics: MetricsRuntime;
  readonly readiness: Readiness;
  /** Thread placement and the CPU table; zone and pool workers get `threads.shared` in their workerData. */
  readonly threads: ThreadRegistry;
  /** The main thread's own setup: named 'gateway', pinned per threads.pinning. */
  readonly gatewayThread: ThreadHandle;
  /** Player storage: load at login, markDirty / writeThrough / release while playing. */
  readonly persistence: Persistence;
  /** Registration, login, guests, token verification (the WebSocket Hello calls verifyToken). */
  readonly accounts: Accounts;
  /** The zone workers and their supervisor. */
  readonly zones: ZoneSet;
  /** Sessions: the protocol on the sockets, zombies, resume. */
  readonly sessions: SessionService;
  /**
   * Runs `hook` during shutdown after sockets are closed and before
   * persistence is flushed: the session layer hands in its players' final
   * states here (persistence.release) so the flush saves them.
   */
  beforeFlush(hook: () => void | Promise<void>): void;
  /** Stops accepting, tells every client, flushes state. Resolves when done. */
  shutdown(why: string): Promise<void>;
}

/** Where a new character (and every guest) starts until the zone layer supplies spawn points. */
export const DEFAULT_NEW_PLAYER: PlayerState = { zone: 0, x: 0, y: 0, hp: 100, maxHp: 100, xp: 0, level: 1, inventory: [] };

/** Gateway threads: net.gatewayThreads, 'auto' about a third of the CPUs. 1 means the main thread serves the sockets. */
export function gatewayThreadCount(config: Config): number {
  const g = config.net.gatewayThreads;
  return g === 'auto' ? autoGatewayThreads(availableParallelism()) : g;
}

export { zoneCount, zoneDefs };


/** Loads world.content and builds the zones from it, as start-up does; resolves with where the content came from. Throws WorldError(MMO_ERR_CONTENT). */
export async function checkContent(config: Config): Promise<string> {
  const content = await loadContent(config.world.content);
  zoneDefs(config, content);
  return content.source;
}

export async function startServer(loaded: LoadedConfig, log: Logger, newPlayer: PlayerState = DEFAULT_NEW_PLAYER): Promise<RunningServer> {
  const { config } = loaded;
  // The checks loadConfig made already, for a Config built by hand (tests, embedding): ConfigError, exit 2.
  assertStartupConfig(config);
  let defs: ZoneDef[];
  try {
    const content = await loadContent(config.world.content);
    defs = zoneDefs(config, content);
    log.info({ content: content.content.name, source: content.source, hooks: content.module !== '' }, 'game content loaded');
  } catch (err) {
    throw new ConfigError([], `invalid configuration: zones/world: ${(err as Error).message}`);
  }
  const uws = loadUws({ allowSlowFallback: config.net.allowSlowFallback });
  if (!uws.native) log.warn({ reason: uws.detail }, 'running on the slow uWebSockets.js emulation (net.allowSlowFallback is set)');

  const threads = createThreads(loaded, defs.length);
  const fallback = fallbackWarning();
  if (fallback) log.warn({ native: nativeStatus.reason, pinning: threads.placement.mode }, fallback);
  if (threads.placement.mode !== 'off') {
    // libuv starts its whole thread pool on first use, and threads inherit the
    // mask of the thread that creates them: start it now, before the gateway
    // pins itself, so the pool is not confined to the gateway's CPU.
    await stat('.').catch(() => undefined); // only the pool's start matters, not the answer
  }
  const gatewayThread = setupThread({ role: 'gateway', shared: threads.shared });
  if (nativeStatus.available && gatewayThread.pinned.cpus && !gatewayThread.pinned.ok) {
    log.warn({ cpus: gatewayThread.pinned.cpus, reason: gatewayThread.pinned.reason }, 'could not pin the gateway thread');
  }

  const metrics = createMetrics(config.metrics);
  registerThreadCpuMetric(metrics.registry, threads);
  const persistLog = log.child({ component: 'persist' });
  const dataLock = lockDataDir(config.server.dataDir); // one server per data directory (exit 5)
  const persistence = await Persistence.open({ ...persistenceOptions(config), threads: threads.shared }, persistLog, metrics.registry);
  const secret = loadTokenSecret(config.auth.tokenSecret, config.server.dataDir);
  if (secret.fixedMode !== undefined) log.warn({ file: secret.source, mode: secret.fixedMode.toString(8) }, 'token secret file was readable by others; mode set to 0600');
  const passwords = new PasswordPool({
    params: { logN: config.auth.scryptLogN, r: config.auth.scryptR, p: config.auth.scryptP },
    threads: config.auth.hashThreads,
    maxQueue: config.auth.hashQueueMax,
    threadsShared: threads.shared,
  });
  passwords.prepare().catch((err: unknown) => log.error({ err }, 'password pool failed to start'));
  const accounts = new Accounts(persistence.store, passwords, new TokenSigner(secret.secret, config.auth.tokenTtlSeconds), { guests: config.auth.guests, newPlayer });
  const stats = new NetStats(metrics.registry);
  const readiness = new Readiness();
  new PullGauge(metrics.registry, 'mmo_ws_connections', 'WebSocket connections open now.', () => stats.open);
  new PullCounter(metrics.registry, 'mmo_log_write_errors_total', 'Log lines that could not be written (stdout closed or broken).', logWriteErrorCount);
  new PullGauge(metrics.registry, 'mmo_uws_native', '1 when the native uWebSockets.js binary is in use, 0 on the slow emulation.', () => (uws.native ? 1 : 0));

  const routes: Route[] = [
    { method: 'get', path: '/healthz', handler: (res) => sendJson(res, 200, { status: 'ok', version: VERSION }) },
    {
      method: 'get',
      path: '/readyz',
      handler: (res) => {
        const s = readiness.status();
        sendJson(res, s.ready ? 200 : 503, { status: s.ready ? 'ready' : 'not ready', components: s.components });
      },
    },
  ];
  routes.push(
    ...authRoutes({
      accounts,
      limiter: new RateLimiter({ burst: config.auth.rateLimitBurst, perMinute: config.auth.rateLimitPerMinute }),
      maxBodyBytes: config.auth.maxBodyBytes,
      log: log.child({ component: 'auth' }),
      metrics: new AuthMetrics(metrics.registry),
      guesses: guessLimitFor(config.auth, metrics.registry),
    }),
  );
  if (config.metrics.enabled) {
    routes.push({
      method: 'get',
      path: '/metrics',
      handler: (res) =>
        respondAsync(
          res,
          async () => ({ status: 200, contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
          (err) => log.error({ err }, 'metrics scrape failed'),
        ),
    });
  }

  // Cluster (cluster.natsUrl set): loaded only then; a single process imports nothing of src/cluster.
  const cluster = config.cluster.natsUrl ? await (await import('./cluster/node.js')).ClusterNode.start(config, log.child({ component: 'cluster' }), metrics.registry) : null;
  if (cluster) routes.push(...cluster.routes());
  let gatewayThreads = gatewayThreadCount(config);
  if (gatewayThreads > 1 && !uws.native) {
    log.warn({ gatewayThreads }, 'the uWebSockets.js emulation runs on the main thread only; net.gatewayThreads is 1');
    gatewayThreads = 1;
  }
  // With gateway threads each owns the sessions on its sockets: its own doorbell, and its own rings with every zone.
  const ownerBells = gatewayThreads > 1 ? Array.from({ length: gatewayThreads }, () => Doorbell.create()) : [];
  const zones = new ZoneSet(
    {
      defs,
      tickHz: config.zones.tickHz,
      checkpointIntervalMs: config.zones.checkpointIntervalMs,
      stateIntervalMs: config.zones.stateIntervalMs,
      maxRestarts: config.zones.maxRestarts,
      restartWindowMs: config.zones.restartWindowMs,
      heartbeatTimeoutMs: config.zones.heartbeatTimeoutMs,
      heapLimitMb: config.zones.heapLimitMb,
      inboundRingBytes: config.zones.inboundRingBytes,
      outboundRingBytes: config.zones.outboundRingBytes,
      mailboxBytes: config.zones.mailboxBytes,
      faultInjection: config.debug.faultInjection,
      logLevel: config.log.level,
      threads,
      ownerBells: ownerBells.map((b) => b.buffer),
      makeHost: cluster?.makeHost,
    },
    log.child({ component: 'zones' }),
  );
  metrics.onLoopSample((lateMs, now) => zones.noteGatewayLateness(lateMs, now));
  registerZoneMetrics(metrics.registry, zones);
  const poolOptions = { pageSize: config.pool.pageSize, pagesPerSet: config.pool.pagesPerSet, minPages: config.pool.minPages, maxPages: config.pool.maxPages };
  const pool = new BufferPool(poolOptions);
  const threadCores = ownerBells.map((_, i) => new RemoteCore(i));
  // Gateway threads admit upgrades themselves, against budgets in shared memory: one for the process.
  const sharedAdmission = gatewayThreads > 1 ? SharedAdmission.create(config.admission) : null;
  const s = config.sessions;
  const p = config.protocol;
  const verify = clientVerifyLimits({
    maxBytes: config.net.maxPayloadLength,
    maxDepth: p.maxDepth,
    helloTokenBytes: p.helloTokenBytes,
    guestNameBytes: p.guestNameBytes,
    clientNameBytes: p.clientNameBytes,
    chatTextBytes: p.chatTextBytes,
    chatToBytes: p.chatToBytes,
    customDataBytes: p.customDataBytes,
  });
  const sessions = new SessionService({
    sharedAdmission,
    threadOwners: threadCores,
    ownerOfConn: threadOfConn,
    threadAlive: (i) => threadCores[i]?.alive ?? false,
    cfg: {
      zombieTtlMs: s.zombieTtlMs,
      replay: { maxBytes: s.replayMaxBytes, maxAgeMs: s.replayMaxAgeMs, maxFrames: s.replayMaxFrames },
      chatPerSec: s.chatPerSec,
      chatBurst: s.chatBurst,
      inputsPerSec: s.inputsPerSec,
      inputBurst: s.inputBurst,
      floodStrikes: s.floodStrikes,
      heldInputsMax: s.heldInputsMax,
      helloDeadlineMs: s.helloDeadlineMs,
      zombieReplayBytes: s.zombieReplayBytes,
      lagBytes: s.lagBytes,
      closeBytes: config.net.maxBackpressure,
    },
    admission: config.admission,
    verify,
    zones,
    persistence,
    accounts,
    pool,
    registry: metrics.registry,
    stats,
    log: log.child({ component: 'sessions' }),
    tickHz: config.zones.tickHz,
  });
  await zones.start(cluster ? cluster.attach(sessions, zones, readiness, persistence) : sessions.zoneEvents());
  const degrade = startDegrade({ cfg: config.degrade, metrics, registry: metrics.registry, zones, admission: sessions.admission, tickHz: config.zones.tickHz, log: log.child({ component: 'degrade' }) });
  for (const h of zones.hosts) readiness.register(`zone-${h.def.id}`, () => h.readiness(), h.local);
  if (config.debug.faultInjection) {
    log.warn('debug.faultInjection is on: POST /debug/zones/<id>/fault crashes zones and POST /debug/gateway/stall blocks the gateway on request');
    routes.push({
      method: 'post',
      path: '/debug/zones/:id/fault',
      handler: (res, req) => {
        const mode = FaultMode[req.getQuery('mode') as keyof typeof FaultMode];
        const index = zones.indexOf(Number(req.getParameter(0)));
        if (mode === undefined || index < 0) return sendJson(res, 400, { error: 'need a zone id and mode=throw|exit|oom|hang' });
        sendJson(res, zones.injectFault(index, mode) ? 202 : 409, { zone: Number(req.getParameter(0)), mode: req.getQuery('mode') });
      },
    });
    routes.push({
      method: 'post',
      path: '/debug/gateway/stall',
      // Blocks the gateway's event loops for ?ms= (1-10000): what a long GC or a
      // starved CPU does. Inputs queue in the kernel meanwhile and arrive bunched.
      // With gateway threads, each of them stalls too (they serve the sockets).
      handler: (res, req) => {
        const ms = Number(req.getQuery('ms'));
        if (!(Number.isInteger(ms) && ms >= 1 && ms <= 10_000)) return sendJson(res, 400, { error: 'need ms=1..10000' });
        if (threaded) for (let n = 0; n < threaded.hosts.length; n++) threaded.injectFault(n, GatewayFault.stall, ms);
        const end = performance.now() + ms;
        while (performance.now() < end) {
          // busy: a stall, on purpose
        }
        sendJson(res, 200, { stalledMs: ms });
      },
    });
  }

  if (config.debug.gcEndpoint) {
    log.warn('debug.gcEndpoint is on: POST /debug/gc runs a full collection of the gateway thread on request');
    routes.push({
      method: 'post',
      path: '/debug/gc',
      // The heap's floor: what is still referenced after a full mark-sweep.
      // Sampled heap use saw-tooths with promotion between mark-sweeps, so a
      // short window without one reads as growth; this does not.
      handler: (res) => {
        const gc = (globalThis as { gc?: () => void }).gc;
        if (typeof gc !== 'function') return sendJson(res, 501, { error: 'start node with --expose-gc to serve /debug/gc' });
        const t0 = performance.now();
        gc();
        const tookMs = performance.now() - t0;
        const h = process.memoryUsage();
        sendJson(res, 200, { heapUsedBytes: h.heapUsed, heapTotalBytes: h.heapTotal, tookMs: Math.round(tookMs * 100) / 100 });
      },
    });
  }

  routes.push(...adminRoutes({ admin: config.admin, rateLimit: { burst: config.auth.rateLimitBurst, perMinute: config.auth.rateLimitPerMinute }, registry: metrics.registry, metrics, threads, zones, sessions, log: log.child({ component: 'admin' }) }));
  const gwLog = log.child({ component: 'gateway' });
  let threaded: ThreadedGateway | null = null;
  if (gatewayThreads > 1 && config.debug.faultInjection) {
    routes.push({
      method: 'post',
      path: '/debug/gateway/:n/fault',
      // Makes gateway thread n throw while it writes the main thread's output (mid-flush).
      handler: (res, req) => {
        const n = Number(req.getParameter(0));
        sendJson(res, threaded?.injectFault(n, GatewayFault.throwInFlush) ? 202 : 409, { thread: n });
      },
    });
  }
  const gateway: GatewayLike =
    gatewayThreads > 1
      ? (threaded = new ThreadedGateway({
          net: config.net,
          threads: gatewayThreads,
          ringBytes: config.net.gatewayRingBytes,
          maxRestarts: config.zones.maxRestarts,
          restartWindowMs: config.zones.restartWindowMs,
          maxHttpBodyBytes: Math.max(config.auth.maxBodyBytes, 1024 * 1024),
          threadsShared: threads.shared,
          log: gwLog,
          stats,
          registry: metrics.registry,
          routes,
          sessions,
          admission: sharedAdmission,
          admissionConfig: config.admission,
          cores: threadCores,
          bells: ownerBells,
          zones,
          session: sessions.coreConfig,
          verify,
          pool: poolOptions,
          tickHz: config.zones.tickHz,
          logLevel: config.log.level,
          sessionMetrics: sessions.m,
          threadPools: sessions.threadPools,
          loopSampleMs: config.metrics.eventLoopSampleMs,
        }))
      : new Gateway({ net: config.net, uws, log: gwLog, stats, routes, handler: sessions.core, gate: sessions });
  sessions.attach(gateway);
  await assertPortFree(config.net.host, config.net.port); // another process on the port: refuse (exit 4)
  const port = await gateway.listen();
  cluster?.listening(port);
  if (threaded) log.info({ gatewayThreads, port }, 'gateway threads listening');
  readiness.register('listener', () => (threaded ? threaded.readiness() : gateway.listening || 'not listening'));
  readiness.register('database', () => persistence.queue.databaseUp || 'database writes failing (retrying)');
  const agones = startAgones(config.agones, { isReady: () => readiness.status().ready, players: () => sessions.registry.size, registry: metrics.registry, log: log.child({ component: 'agones' }) });

  const flushHooks: Array<() => void | Promise<void>> = [];
  let stopping: Promise<void> | null = null;
  const shutdown = (why: string): Promise<void> => {
    stopping ??= (async () => {
      log.info({ why, connections: gateway.connections }, 'shutting down');
      const agonesStopped = agones?.stop(); // Agones Shutdown: no new allocation lands here
      degrade?.stop();
      gateway.stopListening();
      gateway.closeAll(CloseReason.shutdown, CloseCode.goingAway, 'server shutting down');
      // Every player leaves its zone with its final state, which goes to the write queue...
      const left = await sessions.shutdown(Math.max(100, (config.server.shutdownTimeoutMs - 500) / 2));
      if (left.unsaved > 0) log.warn(left, 'some zones did not answer in time; their players are saved with their last reported state');
      await gateway.close();
      await zones.stop();
      await cluster?.stop();
      for (const hook of flushHooks) {
        try {
          await hook();
        } catch (err) {
          log.error({ err }, 'shutdown hook failed');
        }
      }
      // Leave a margin of the shutdown deadline for logging and exit.
      const report = await persistence.close(Math.max(100, config.server.shutdownTimeoutMs - 500));
      if (report.complete) persistLog.info('everything saved');
      else persistLog.error(report, 'database unreachable at shutdown: these changes are lost');
      await passwords.close();
      await agonesStopped;
      metrics.stop();
      gatewayThread.release();
      dataLock.release();
    })();
    return stopping;
  };

  return {
    port,
    uws,
    gateway,
    metrics,
    readiness,
    threads,
    gatewayThread,
    persistence,
    accounts,
    zones,
    sessions,
    beforeFlush: (hook) => void flushHooks.push(hook),
    shutdown,
  };
}

/** Compiles threads.pinning against this machine; a CPU the process may not use is a configuration error (exit 2). */
function createThreads(loaded: LoadedConfig, zones: number): ThreadRegistry {
  try {
    return ThreadRegistry.create({ ...loaded.config.threads, zones });
  } catch (err) {
    if (err instanceof ThreadsError) throw new ConfigError([], `invalid configuration: threads.${err.message}`);
    throw err;
  }
}
