// The configuration schema: one place that states every key, its type, its
// default, its allowed range and what it is for. The commented default file
// (config/default.yaml) and the validation messages are both derived from it,
// so the documentation cannot drift from what the server accepts.
//
// Sections are added by the layer that uses them; a key exists only once the
// code that reads it does.

import { Type, type Static, type TObject, type TSchema } from '@sinclair/typebox';

const KiB = 1024;
const MiB = 1024 * KiB;

const strict = { additionalProperties: false } as const;

export const ServerSection = Type.Object(
  {
    name: Type.String({
      default: 'mmo-server',
      minLength: 1,
      maxLength: 64,
      description: 'Name of this server instance, in logs and metrics.',
    }),
    shutdownTimeoutMs: Type.Integer({
      default: 4000,
      minimum: 100,
      maximum: 120_000,
      description:
        'On SIGTERM/SIGINT: how long to wait for clients to be told and state to be flushed before exiting anyway (exit code 1).',
    }),
    dataDir: Type.String({
      default: './data',
      minLength: 1,
      description: 'Directory for the embedded database and other local state. Created if missing.',
    }),
  },
  { ...strict, description: 'The process as a whole.' },
);

export const NetSection = Type.Object(
  {
    host: Type.String({
      default: '0.0.0.0',
      minLength: 1,
      description: 'Address to listen on (HTTP and WebSocket share one port).',
    }),
    port: Type.Integer({
      default: 7777,
      minimum: 0,
      maximum: 65535,
      description: 'TCP port; 0 asks the OS for a free one (the chosen port is logged).',
    }),
    wsPath: Type.String({
      default: '/ws',
      pattern: '^/[A-Za-z0-9_\\-/]*$',
      description: 'URL path of the WebSocket endpoint.',
    }),
    maxPayloadLength: Type.Integer({
      default: 4 * KiB,
      minimum: 64,
      maximum: 16 * MiB,
      description:
        'Largest inbound WebSocket message in bytes. A bigger frame closes that socket only. Client messages are small; 4 KiB leaves room for chat.',
    }),
    idleTimeout: Type.Union([Type.Literal(0), Type.Integer({ minimum: 9, maximum: 960 })], {
      default: 16,
      description:
        'Seconds without any frame before a socket is closed as dead; 0 disables. uWS rounds it to 4 s. A dead socket turns its session into a zombie, so lower means faster detection.',
    }),
    maxBackpressure: Type.Integer({
      default: 1 * MiB,
      minimum: 4 * KiB,
      maximum: 256 * MiB,
      description:
        'Bytes a socket may have queued in the kernel and uWS before further sends to it are dropped (counted in mmo_net_backpressure_drops_total).',
    }),
    sendPingsAutomatically: Type.Boolean({
      default: true,
      description: 'Let uWS send WebSocket pings before idleTimeout so quiet but live clients stay connected.',
    }),
    allowSlowFallback: Type.Boolean({
      default: false,
      description:
        'Start even when the native uWebSockets.js binary does not load, using the package\'s slow pure-JS emulation. For development on unsupported platforms only.',
    }),
  },
  { ...strict, description: 'Network front end: the uWebSockets.js listener.' },
);

export const LogSection = Type.Object(
  {
    level: Type.Union(
      ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
      { default: 'info', description: 'Lowest level written.' },
    ),
    pretty: Type.Union([Type.Literal('auto'), Type.Literal('always'), Type.Literal('never')], {
      default: 'auto',
      description: 'Human-readable output: auto means only when stdout is a terminal; otherwise one JSON object per line.',
    }),
  },
  { ...strict, description: 'Logging (pino).' },
);

export const MetricsSection = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'Serve Prometheus metrics at GET /metrics.' }),
    eventLoopSampleMs: Type.Integer({
      default: 10,
      minimum: 1,
      maximum: 1000,
      description: 'Sampling period of the event-loop delay histogram (mmo_eventloop_delay_seconds).',
    }),
  },
  { ...strict, description: 'Prometheus metrics.' },
);

// Kept equal to PINNING_KEY_PATTERN / CPU_LIST_PATTERN in native-bindings/threads.ts
// (a test checks): the config layer does not import the addon's loader.
const PINNING_KEY = '^(\\*|[a-z][a-z0-9]{0,9}(-([0-9]{1,4}|\\*))?)$';
const CPU_LIST = '^[0-9]{1,4}(-[0-9]{1,4})?(,[0-9]{1,4}(-[0-9]{1,4})?)*$';

export const ThreadsSection = Type.Object(
  {
    pinning: Type.Union(
      [
        Type.Literal('off'),
        Type.Literal('auto'),
        Type.Record(
          Type.String({ pattern: PINNING_KEY }),
          Type.Union([Type.Integer({ minimum: 0, maximum: 8191 }), Type.String({ pattern: CPU_LIST })]),
          { minProperties: 1, additionalProperties: false },
        ),
      ],
      {
        default: 'off',
        description:
          'Which CPUs each thread runs on. off: wherever the OS schedules it. auto: the gateway on the first CPU, zone i on CPU (1 + i) mod N, ' +
          'every other thread (the pool) on the CPUs after the zones\' (all but the gateway\'s when zones fill the machine); N counts the CPUs ' +
          'the process may use (taskset and cgroups respected). Or a mapping from a thread name (gateway, zone-2), a role wildcard (zone-*) ' +
          'or * to a CPU or CPU list ("4-7"); the most specific key wins and unmatched threads use every CPU. A CPU the process may not use ' +
          'stops start-up. Needs the native addon; without it this is ignored with a warning.',
      },
    ),
    cpuPublishMs: Type.Integer({
      default: 1000,
      minimum: 10,
      maximum: 60_000,
      description:
        'How often each thread stores its CPU seconds in the shared table behind mmo_thread_cpu_seconds_total. With the native addon live ' +
        'threads are read from the kernel at scrape time anyway; this bounds how stale the estimate and an exited thread\'s last figure are.',
    }),
  },
  { ...strict, description: 'Threads: CPU placement, names (top -H, /proc) and per-thread CPU accounting (native-bindings/).' },
);

export const PersistSection = Type.Object(
  {
    postgresUrl: Type.String({
      default: '',
      description:
        'PostgreSQL connection URL (postgres://user:password@host:5432/db). Empty: the embedded SQLite file under server.dataDir, which needs nothing installed.',
    }),
    sqliteFile: Type.String({
      default: 'mmo.sqlite',
      minLength: 1,
      description: 'SQLite database file, relative to server.dataDir (or absolute).',
    }),
    sqliteSynchronous: Type.Union([Type.Literal('full'), Type.Literal('normal'), Type.Literal('extra'), Type.Literal('off')], {
      default: 'full',
      description:
        'SQLite fsync policy in WAL mode. full: a commit survives power loss (write-through events promise this). normal: survives a process crash but may lose the last commits on power loss. off: for throwaway servers only.',
    }),
    sqliteBusyTimeoutMs: Type.Integer({
      default: 5000,
      minimum: 0,
      maximum: 60_000,
      description: 'How long SQLite waits for a lock held by another process (a backup, the sqlite3 shell) before the write fails and is retried.',
    }),
    postgresPoolSize: Type.Integer({
      default: 4,
      minimum: 1,
      maximum: 64,
      description: 'PostgreSQL connections, i.e. database calls in flight at once (saves, logins).',
    }),
    connectTimeoutMs: Type.Integer({
      default: 5000,
      minimum: 100,
      maximum: 60_000,
      description: 'PostgreSQL: give up opening a connection after this long; the write is retried with backoff.',
    }),
    statementTimeoutMs: Type.Integer({
      default: 10_000,
      minimum: 100,
      maximum: 600_000,
      description: 'PostgreSQL: a statement running longer fails (and is retried) instead of stalling the save queue.',
    }),
    writeIntervalMs: Type.Integer({
      default: 1000,
      minimum: 50,
      maximum: 60_000,
      description:
        'Write-behind period: every interval the latest state of every changed player is saved in one transaction. A crash loses at most this much play (plus one batch in flight); level-ups and items are written through and never lost.',
    }),
    retryMinMs: Type.Integer({
      default: 100,
      minimum: 10,
      maximum: 60_000,
      description: 'First retry delay after a failed write; doubles per consecutive failure up to retryMaxMs.',
    }),
    retryMaxMs: Type.Integer({
      default: 10_000,
      minimum: 100,
      maximum: 600_000,
      description: 'Longest delay between retries while the database is down.',
    }),
    maxPendingEvents: Type.Integer({
      default: 10_000,
      minimum: 1,
      maximum: 1_000_000,
      description: 'Write-through events allowed to wait for a database that does not answer; past it new events are refused (their state is still saved by write-behind).',
    }),
    maxEventsPerBatch: Type.Integer({
      default: 500,
      minimum: 1,
      maximum: 100_000,
      description: 'Most write-through events committed in one transaction (group commit).',
    }),
    alarmLogIntervalMs: Type.Integer({
      default: 10_000,
      minimum: 1000,
      maximum: 3_600_000,
      description: 'While writes fail, log the error at most once per this period (mmo_persist_db_up and mmo_persist_failures_total track every failure).',
    }),
  },
  { ...strict, description: 'Player and account storage: embedded SQLite by default, PostgreSQL when a URL is given.' },
);

export const AuthSection = Type.Object(
  {
    guests: Type.Boolean({
      default: true,
      description: 'Allow guest logins (no registration; the character is not saved). For demos and bots; turn off in production.',
    }),
    tokenSecret: Type.String({
      default: '',
      description:
        'Secret that signs login tokens (at least 32 bytes). Empty: a random one is made once and kept in server.dataDir/auth-token.key (mode 0600). Several servers sharing logins need the same secret.',
    }),
    tokenTtlSeconds: Type.Integer({
      default: 300,
      minimum: 10,
      maximum: 86_400,
      description: 'Lifetime of a login token: the WebSocket Hello must present it within this time. Reconnects use the session resume token instead.',
    }),
    scryptLogN: Type.Integer({
      default: 15,
      minimum: 10,
      maximum: 20,
      description:
        'Password hashing cost: scrypt N = 2^scryptLogN. 15 takes ~100 ms and 32 MiB per hash on one core; each step up doubles both. Existing accounts keep the cost they were hashed with.',
    }),
    scryptR: Type.Integer({ default: 8, minimum: 1, maximum: 32, description: 'scrypt block size r.' }),
    scryptP: Type.Integer({ default: 1, minimum: 1, maximum: 16, description: 'scrypt parallelization p.' }),
    hashThreads: Type.Integer({
      default: 1,
      minimum: 1,
      maximum: 64,
      description: 'Threads hashing passwords (registration, login), off the gateway thread. Logins per second ~ hashThreads x 1000 / hash ms.',
    }),
    hashQueueMax: Type.Integer({
      default: 64,
      minimum: 1,
      maximum: 100_000,
      description: 'Logins and registrations allowed to wait for a hashing thread; past it they are answered 503 with retry-after.',
    }),
    rateLimitBurst: Type.Integer({
      default: 10,
      minimum: 1,
      maximum: 100_000,
      description: 'Requests to /auth/* one source address may make at once (token bucket size).',
    }),
    rateLimitPerMinute: Type.Integer({
      default: 30,
      minimum: 1,
      maximum: 6_000_000,
      description: 'Sustained /auth/* requests per minute per source address (token bucket refill); past it, 429 with retry-after.',
    }),
    maxBodyBytes: Type.Integer({
      default: 1024,
      minimum: 64,
      maximum: 65_536,
      description: 'Largest /auth/* request body; larger ones get 413 and the connection is closed.',
    }),
  },
  { ...strict, description: 'Accounts: registration, login tokens, guests (HTTP /auth/*).' },
);

export const ConfigSchema = Type.Object(
  {
    server: ServerSection,
    net: NetSection,
    log: LogSection,
    metrics: MetricsSection,
    threads: ThreadsSection,
    persist: PersistSection,
    auth: AuthSection,
  },
  strict,
);

export type Config = Static<typeof ConfigSchema>;
export type ServerConfig = Static<typeof ServerSection>;
export type NetConfig = Static<typeof NetSection>;
export type LogConfig = Static<typeof LogSection>;
export type MetricsConfig = Static<typeof MetricsSection>;
export type ThreadsConfig = Static<typeof ThreadsSection>;
export type PersistConfig = Static<typeof PersistSection>;
export type AuthConfig = Static<typeof AuthSection>;

/** Walks the schema: every leaf key with its dotted path. Cold path. */
export function leafKeys(schema: TObject = ConfigSchema, prefix = ''): Array<{ path: string; schema: TSchema }> {
  const out: Array<{ path: string; schema: TSchema }> = [];
  for (const [key, sub] of Object.entries(schema.properties)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (isObjectSchema(sub)) out.push(...leafKeys(sub, path));
    else out.push({ path, schema: sub });
  }
  return out;
}

export function isObjectSchema(s: TSchema): s is TObject {
  return s.type === 'object' && typeof s.properties === 'object';
}
