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
    gatewayThreads: Type.Union([Type.Literal('auto'), Type.Integer({ minimum: 1, maximum: 16 })], {
      default: 'auto',
      description:
        'Threads serving the sockets, each a uWS app on the same port (SO_REUSEPORT spreads connections). 1: the main thread serves the sockets itself, as a single-threaded server. ' +
        '2 or more: that many gateway threads, each owning the sessions on its sockets (their messages go between it and the zones); the main thread keeps logins, resumes, timers, saving, admission and HTTP routes. auto: about a third of the CPUs, at least 1 (1 on 2 CPUs, 3 on 8).',
    }),
    gatewayRingBytes: powersOfTwo(65_536, 268_435_456, {
      default: 8_388_608,
      description: 'Ring between the main thread and each gateway thread, each way, bytes: logins, resumes, sessions moving between threads (their replay frames), saved states. Records that do not fit wait in order.',
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
      description: 'Sampling period of the event-loop delay of the main thread (the histogram mmo_eventloop_delay_seconds) and of each gateway thread: the stalls the zones excuse in movement (world.movement.stallGraceMs).',
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
    guessLimit: Type.Boolean({
      default: true,
      description:
        'Limit failed logins per account name and per address, answered 429 with retry-after before the password is hashed (src/auth/guess-limit.ts), so guessing cannot keep the hash threads busy.',
    }),
    guessesPerName: Type.Integer({
      default: 10,
      minimum: 1,
      maximum: 1_000_000,
      description: 'Failed (or still running) logins to one account name, from any address, within auth.guessWindowMs before the name is locked for auth.guessLockoutMs. Its owner may still log in from an address they logged in from before.',
    }),
    guessesPerAddress: Type.Integer({
      default: 30,
      minimum: 1,
      maximum: 1_000_000,
      description: 'Failed (or still running) logins from one source address, to any names, within auth.guessWindowMs before the address is locked for auth.guessLockoutMs.',
    }),
    guessWindowMs: Type.Integer({ default: 60_000, minimum: 1000, maximum: 86_400_000, description: 'Window in which failed logins are counted, ms.' }),
    guessLockoutMs: Type.Integer({ default: 60_000, minimum: 1000, maximum: 86_400_000, description: 'How long a locked account name or address is answered 429, ms.' }),
    guessMaxTracked: Type.Integer({
      default: 100_000,
      minimum: 100,
      maximum: 10_000_000,
      description: 'Account names (and, separately, addresses) the guess limit tracks before idle ones, then the least recently used, are forgotten (~150 bytes each).',
    }),
  },
  { ...strict, description: 'Accounts: registration, login tokens, guests (HTTP /auth/*).' },
);

/** Powers of two between lo and hi inclusive, as literals (ring and page sizes must be one). */
function powersOfTwo(lo: number, hi: number, opts: { default: number; description: string }) {
  const lits = [];
  for (let v = lo; v <= hi; v *= 2) lits.push(Type.Literal(v));
  return Type.Union(lits, opts);
}

export const ZonesSection = Type.Object(
  {
    count: Type.Integer({
      default: 0,
      minimum: 0,
      maximum: 64,
      description: 'Zone worker threads, one zone each. 0: the number of CPUs minus one (the gateway keeps one), at least 1.',
    }),
    tickHz: Type.Integer({ default: 20, minimum: 1, maximum: 120, description: 'Simulation ticks per second in every zone.' }),
    size: Type.Integer({ default: 1024, minimum: 64, maximum: 4096, description: 'Side of each (square) zone in world units.' }),
    npcsPerZone: Type.Integer({ default: 200, minimum: 0, maximum: 20_000, description: 'NPC mobs per zone (an empty world still has load).' }),
    maxPlayersPerZone: Type.Integer({ default: 6000, minimum: 1, maximum: 60_000, description: 'Players one zone accepts; a join beyond it is refused.' }),
    seed: Type.Integer({ default: 0, minimum: 0, maximum: 4_294_967_295, description: 'Added to every zone\'s seed (NPC placement, wandering, damage rolls).' }),
    checkpointIntervalMs: Type.Integer({
      default: 2000,
      minimum: 100,
      maximum: 600_000,
      description: 'How often a zone checkpoints its world to shared memory; a crashed zone restarts from the last one (5,000 players: ~600 KB, ~5 ms).',
    }),
    stateIntervalMs: Type.Integer({
      default: 1000,
      minimum: 100,
      maximum: 60_000,
      description: 'How often each player\'s state reaches the gateway: what write-behind saves, and what rejoins a restarted zone.',
    }),
    maxRestarts: Type.Integer({ default: 5, minimum: 1, maximum: 1000, description: 'Zone restarts allowed within restartWindowMs; one more marks the zone down.' }),
    restartWindowMs: Type.Integer({ default: 60_000, minimum: 1000, maximum: 86_400_000, description: 'Window of the restart intensity (OTP style).' }),
    heartbeatTimeoutMs: Type.Integer({
      default: 5000,
      minimum: 500,
      maximum: 600_000,
      description: 'A zone that has not ticked for this long is considered hung, terminated and restarted.',
    }),
    heapLimitMb: Type.Integer({ default: 1024, minimum: 64, maximum: 65_536, description: 'Heap limit of each zone worker; exceeding it kills that worker only, which is then restarted.' }),
    inboundRingBytes: powersOfTwo(65_536, 268_435_456, { default: 1_048_576, description: 'Gateway-to-zone ring per zone, bytes (inputs, joins).' }),
    outboundRingBytes: powersOfTwo(65_536, 268_435_456, {
      default: 16_777_216,
      description: 'Zone-to-gateway ring per zone, bytes: must hold a tick of output for all its players (5,000 players in a crowd: ~4 MB). With gateway threads each has a ring of its own from each zone, its share of this (a power of two, at least 1 MiB).',
    }),
    mailboxBytes: powersOfTwo(16_384, 67_108_864, { default: 262_144, description: 'Zone-to-zone mailbox per zone, bytes (global chat).' }),
  },
  { ...strict, description: 'Zones: one worker thread per zone, supervised.' },
);

export const WorldSection = Type.Object(
  {
    aoi: Type.Object(
      {
        radius: Type.Number({ default: 64, minimum: 1, maximum: 1024, description: 'An entity enters a player\'s view within this distance.' }),
        hysteresis: Type.Number({ default: 8, minimum: 0, maximum: 256, description: 'It leaves only beyond radius + hysteresis (no flicker at the edge).' }),
        visibleCap: Type.Integer({ default: 64, minimum: 1, maximum: 1024, description: 'Most entities one player sees, nearest first.' }),
        playerShare: Type.Number({
          default: 0.75,
          minimum: 0,
          maximum: 1,
          description:
            'Fraction of visibleCap reserved for players: past the cap the nearest players get round(visibleCap * playerShare) slots before NPCs and loot (a crowd of nearer NPCs cannot hide a player); the rest goes to the nearest of what remains. 0: nearest first whatever the kind.',
        }),
        cellSize: Type.Number({ default: 32, minimum: 1, maximum: 1024, description: 'Spatial grid cell side.' }),
        refreshTicks: Type.Integer({ default: 2, minimum: 1, maximum: 16, description: 'Recompute each view every N ticks (staggered); updates still go out every tick.' }),
        updateTicks: Type.Integer({
          default: 1,
          minimum: 1,
          maximum: 16,
          description:
            'Send each player what it sees (positions, enters, leaves) every N ticks, staggered across players; combat events still go out the tick they happen. 2 at 20 Hz: 10 updates a second, half the frames (a crowd, slow links, a small machine).',
        }),
      },
      { ...strict, description: 'Area of interest.' },
    ),
    movement: Type.Object(
      {
        maxSpeed: Type.Number({ default: 8, minimum: 0.1, maximum: 1000, description: 'Units per second a player may move.' }),
        speedTolerance: Type.Number({ default: 0.1, minimum: 0, maximum: 1, description: 'Extra speed tolerated (clock skew).' }),
        burstMs: Type.Number({ default: 1000, minimum: 0, maximum: 10_000, description: 'Movement (ms of walking at maxSpeed) that may arrive at once: packets bunched by network jitter or a stalled event loop (1 s during a 5,000-client reconnect storm) must not be refused as speeding. Average speed stays bounded whatever this is.' }),
        teleportDistance: Type.Number({ default: 24, minimum: 1, maximum: 4096, description: 'One jump longer than this is refused as a teleport.' }),
        stallGraceMs: Type.Integer({
          default: 5000,
          minimum: 0,
          maximum: 60_000,
          description:
            "Longest server stall (the event loop of the main thread or of a gateway thread, or a zone thread starved of CPU) whose bunched moves are still accepted: while a stall is recent, the movement budget grows by its length. 0 refuses them as speeding.",
        }),
      },
      { ...strict, description: 'Server-authoritative movement.' },
    ),
    combat: Type.Object(
      {
        attackRange: Type.Number({ default: 3, minimum: 0.1, maximum: 100, description: 'Melee reach.' }),
        attackCooldownMs: Type.Integer({ default: 1000, minimum: 0, maximum: 60_000, description: 'Time between attacks.' }),
        pvp: Type.Boolean({ default: true, description: 'Players may attack players.' }),
        playerRespawnMs: Type.Integer({ default: 5000, minimum: 0, maximum: 600_000, description: 'A dead player comes back after this long.' }),
        maxLevel: Type.Integer({ default: 60, minimum: 1, maximum: 255, description: 'Level cap.' }),
        playerDamageBase: Type.Integer({ default: 12, minimum: 0, maximum: 65_535, description: 'Damage of a player\'s hit, plus 3 per level.' }),
        npcDamageBase: Type.Integer({ default: 5, minimum: 0, maximum: 65_535, description: 'Damage of an NPC\'s hit, plus 2 per level.' }),
        xpPerKillBase: Type.Integer({ default: 10, minimum: 0, maximum: 1_000_000, description: 'XP for a kill, plus 10 per level of the victim.' }),
        levelXpBase: Type.Integer({ default: 100, minimum: 1, maximum: 1_000_000_000, description: 'XP to reach level 2; each next level costs levelXpBase x level^1.5.' }),
      },
      { ...strict, description: 'Combat.' },
    ),
    sayRadius: Type.Number({ default: 32, minimum: 1, maximum: 4096, description: 'Say chat reaches players within this distance.' }),
    sayMaxListeners: Type.Integer({
      default: 64,
      minimum: 1,
      maximum: 60_000,
      description: 'Most players one Say line reaches, nearest first: in a crowd of a thousand, everyone talking would otherwise be a million messages a second (64: as many as a player sees, world.aoi.visibleCap).',
    }),
    linkDeadInvulnerable: Type.Boolean({
      default: true,
      description: 'Players whose socket dropped (zombie sessions) cannot be attacked and NPCs ignore them; false: they just stand there.',
    }),
    maxLoot: Type.Integer({ default: 512, minimum: 0, maximum: 60_000, description: 'Loot items on the ground per zone at once.' }),
    content: Type.String({
      default: '',
      maxLength: 4096,
      description:
        "The game: path of an ES module (.js/.mjs) exporting the content (NPC kinds, items, loot tables, abilities, spawn areas, hooks; see docs/content.md), relative to the working directory. '' = the built-in reference game (src/content/reference.ts). A module that fails to load or is invalid stops start-up (exit 2).",
    }),
    contentHookBudgetMs: Type.Number({
      default: 2,
      minimum: 0.01,
      maximum: 1000,
      description: 'A content hook call (onJoin, onInput, onTick, onDeath) taking longer than this is counted (mmo_zone_content_hook_faults_total{reason="overran"}) and logged, at most once a second per hook.',
    }),
    contentMaxConsecutiveErrors: Type.Integer({
      default: 20,
      minimum: 1,
      maximum: 1_000_000,
      description:
        'Content hook calls that throw are counted and logged, and the zone carries on; this many throws in a row (no hook call succeeding in between) crash the zone worker on purpose, and the supervisor restarts it from its last checkpoint (zones.maxRestarts applies).',
    }),
  },
  { ...strict, description: 'Game rules, the same in every zone.' },
);

export const SessionsSection = Type.Object(
  {
    zombieTtlMs: Type.Integer({
      default: 60_000,
      minimum: 1000,
      maximum: 86_400_000,
      description: 'How long a session outlives its socket (character stays in the world, frames kept for replay) before it is saved and removed.',
    }),
    replayMaxBytes: Type.Integer({
      default: 131_072,
      minimum: 4096,
      maximum: 16_777_216,
      description: 'Frames kept per session for replay on resume, bytes; an older gap gets a snapshot instead. Clients ack about once a second, so connected sessions hold ~1 s.',
    }),
    replayMaxAgeMs: Type.Integer({ default: 30_000, minimum: 100, maximum: 3_600_000, description: 'Frames older than this are not kept for replay.' }),
    replayMaxFrames: powersOfTwo(16, 65_536, { default: 1024, description: 'Frames kept per session for replay.' }),
    zombieReplayBytes: Type.Integer({
      default: 32_768,
      minimum: 1024,
      maximum: 16_777_216,
      description:
        'Replay bytes a zombie (a session whose socket is gone) keeps, at most sessions.replayMaxBytes; older frames are dropped and a resume from before them gets a snapshot. Position deltas are never kept for a zombie (its resume gets a Snapshot). 32 KiB holds several seconds of a busy zone\'s chat; it bounds what dropping many sessions can make the server hold (zombies x this).',
    }),
    chatPerSec: Type.Number({ default: 1, minimum: 0.01, maximum: 1000, description: 'Chat messages per second per player (token bucket rate).' }),
    chatBurst: Type.Integer({ default: 5, minimum: 1, maximum: 10_000, description: 'Chat messages a player may send at once.' }),
    inputsPerSec: Type.Number({ default: 60, minimum: 1, maximum: 10_000, description: 'Inputs (move, attack, interact, chat) per second per player.' }),
    inputBurst: Type.Integer({ default: 120, minimum: 1, maximum: 100_000, description: 'Inputs a player may send at once.' }),
    floodStrikes: Type.Integer({ default: 200, minimum: 1, maximum: 1_000_000, description: 'Refused inputs (net of accepted ones) before the socket is closed with 4004.' }),
    helloDeadlineMs: Type.Union([Type.Literal(0), Type.Integer({ minimum: 250, maximum: 600_000 })], {
      default: 5000,
      description:
        'An upgraded socket must send a valid Hello or Resume within this many ms, or it is closed with 4202 (mmo_session_hello_timeouts_total); checked every 250 ms. 0 disables (then only net.idleTimeout closes silent sockets).',
    }),
    heldInputsMax: Type.Integer({ default: 256, minimum: 1, maximum: 100_000, description: 'Inputs held for a player crossing between zones (a handoff takes milliseconds).' }),
    lagBytes: Type.Integer({
      default: 65_536,
      minimum: 1024,
      maximum: 268_435_456,
      description: 'Bytes queued on a socket past which its position deltas are dropped until it drains, then one snapshot. net.maxBackpressure closes it.',
    }),
  },
  { ...strict, description: 'Sessions: zombies, resume and replay, per-player limits.' },
);

export const AdmissionSection = Type.Object(
  {
    handshakesPerSec: Type.Number({ default: 2000, minimum: 1, maximum: 1_000_000, description: 'New WebSocket handshakes per second, all addresses together (resumes and logins).' }),
    handshakeBurst: Type.Integer({ default: 5000, minimum: 1, maximum: 10_000_000, description: 'Handshakes accepted at once before the rate applies.' }),
    resumeReserve: Type.Number({ default: 0.5, minimum: 0, maximum: 1, description: 'Share of the burst only resumes may use: after an outage, returning players come first.' }),
    perAddressLoginsPerSec: Type.Number({ default: 10, minimum: 0.01, maximum: 1_000_000, description: 'Fresh logins per second per source address.' }),
    perAddressLoginBurst: Type.Integer({ default: 50, minimum: 1, maximum: 10_000_000, description: 'Fresh logins at once per source address.' }),
    perAddressResumesPerSec: Type.Number({ default: 100, minimum: 0.01, maximum: 1_000_000, description: 'Resumes per second per source address (many players may share a NAT address).' }),
    perAddressResumeBurst: Type.Integer({ default: 500, minimum: 1, maximum: 10_000_000, description: 'Resumes at once per source address.' }),
    maxTrackedAddresses: Type.Integer({ default: 100_000, minimum: 100, maximum: 10_000_000, description: 'Source addresses tracked before idle ones are forgotten.' }),
    budgetPerSec: Type.Number({
      default: 2000,
      minimum: 1,
      maximum: 100_000_000,
      description: 'Cost units per second one source address may spend on handshakes, logins, resumes, moves and chat together (admission.costs): one budget, whatever the mix. 2000: ~400 players behind one NAT address moving 4 times a second, with room for their handshakes.',
    }),
    budgetBurst: Type.Number({ default: 5000, minimum: 1, maximum: 1_000_000_000, description: 'Cost units one source address may spend at once.' }),
    accountBudgetPerSec: Type.Number({ default: 200, minimum: 1, maximum: 100_000_000, description: 'Cost units per second one account may spend (its sessions together; a player sends ~4 moves a second).' }),
    accountBudgetBurst: Type.Number({ default: 600, minimum: 1, maximum: 1_000_000_000, description: 'Cost units one account may spend at once.' }),
    costs: Type.Object(
      {
        handshake: Type.Number({ default: 20, minimum: 0, maximum: 1_000_000, description: 'A WebSocket upgrade.' }),
        login: Type.Number({ default: 50, minimum: 0, maximum: 1_000_000, description: 'A fresh login (on top of its handshake).' }),
        resume: Type.Number({ default: 10, minimum: 0, maximum: 1_000_000, description: 'A resume (on top of its handshake): cheap, so players come back after an outage.' }),
        move: Type.Number({ default: 1, minimum: 0, maximum: 1_000_000, description: 'A move, attack or interact.' }),
        chat: Type.Number({ default: 10, minimum: 0, maximum: 1_000_000, description: 'A chat line.' }),
      },
      { ...strict, description: 'What each action spends from the address and account budgets.' },
    ),
  },
  { ...strict, description: 'Admission control on the WebSocket upgrade (refused clients get 429 with retry-after).' },
);

export const DegradeSection = Type.Object(
  {
    enabled: Type.Boolean({ default: true, description: 'Shed load step by step when the process is over its budget, and restore when it passes (src/net/degrade.ts).' }),
    sampleMs: Type.Integer({ default: 1000, minimum: 100, maximum: 60_000, description: 'How often the load is judged, ms.' }),
    loopLagMs: Type.Number({ default: 50, minimum: 1, maximum: 10_000, description: "Over budget when the gateway's event-loop delay p99 over a sample is at least this, ms." }),
    gatewayBusy: Type.Number({ default: 0.9, minimum: 0.05, maximum: 1, description: "Over budget when the gateway thread is busy (event-loop utilization, its CPU) at least this share of a sample." }),
    tickBudget: Type.Number({ default: 0.8, minimum: 0.05, maximum: 10, description: "A zone is over budget when its mean tick takes at least this share of the tick period (0.8 at 20 Hz: 40 ms)." }),
    raiseAfterMs: Type.Integer({ default: 2000, minimum: 0, maximum: 600_000, description: 'Over budget this long (at the current step) before the next step is taken.' }),
    restoreAfterMs: Type.Integer({ default: 10_000, minimum: 0, maximum: 3_600_000, description: 'Under restoreRatio x every threshold this long before one step is undone (hysteresis).' }),
    restoreRatio: Type.Number({ default: 0.6, minimum: 0.05, maximum: 1, description: 'Calm means every signal below this share of its threshold.' }),
    shedLoginReserve: Type.Number({ default: 0.9, minimum: 0, maximum: 1, description: "While shedding: the share of the global handshake burst fresh logins may not use (resumes may), and addresses that overran their budget recently are refused outright." }),
    abuserWindowMs: Type.Integer({ default: 10_000, minimum: 0, maximum: 3_600_000, description: 'While shedding, an address that ran out of budget within this long is refused at the handshake.' }),
    updateTicks: Type.Array(Type.Integer({ minimum: 1, maximum: 16 }), {
      default: [2, 4],
      minItems: 1,
      maxItems: 4,
      description: 'world.aoi.updateTicks for the busiest zones at each reduce step after shedding (2: half the update frames).',
    }),
    visibleCap: Type.Array(Type.Integer({ minimum: 1, maximum: 1024 }), {
      default: [48, 32],
      minItems: 1,
      maxItems: 4,
      description: 'Visible-entity cap for the busiest zones at each reduce step (never above world.aoi.visibleCap); as many entries as updateTicks.',
    }),
  },
  { ...strict, description: 'Adaptive degradation under overload: shed attackers and new handshakes, then lower the update rate and visible-entity cap of the busiest zones.' },
);

export const ProtocolSection = Type.Object(
  {
    maxDepth: Type.Integer({ default: 8, minimum: 2, maximum: 64, description: 'Table nesting a client message may have (the schema needs 2).' }),
    helloTokenBytes: Type.Integer({ default: 2048, minimum: 16, maximum: 65_536, description: 'Auth token in Hello, UTF-8 bytes.' }),
    guestNameBytes: Type.Integer({ default: 64, minimum: 1, maximum: 1024, description: 'Guest name in Hello.' }),
    clientNameBytes: Type.Integer({ default: 128, minimum: 0, maximum: 4096, description: 'Client name in Hello.' }),
    chatTextBytes: Type.Integer({ default: 512, minimum: 1, maximum: 65_536, description: 'Chat text, UTF-8 bytes.' }),
    chatToBytes: Type.Integer({ default: 64, minimum: 1, maximum: 1024, description: 'Whisper recipient name.' }),
    customDataBytes: Type.Integer({ default: 1024, minimum: 0, maximum: 65_536, description: "Payload of a game's own input (Custom.data, read by the content module's onInput)." }),
  },
  { ...strict, description: 'Limits the verifier enforces on client messages (the whole message: net.maxPayloadLength).' },
);

export const PoolSection = Type.Object(
  {
    pageSize: powersOfTwo(4096, 1_048_576, { default: 16_384, description: 'Buffer pool page, bytes; the largest frame kept for replay.' }),
    pagesPerSet: powersOfTwo(1, 4096, { default: 64, description: 'Pages allocated at a time when the pool grows.' }),
    minPages: Type.Integer({ default: 64, minimum: 0, maximum: 1_048_576, description: 'Pages kept even when idle.' }),
    maxPages: Type.Integer({
      default: 32_768,
      minimum: 1,
      maximum: 1_048_576,
      description: 'Ceiling (a multiple of pagesPerSet): 32,768 x 16 KiB = 512 MiB of replay frames at most; beyond it resumes get snapshots.',
    }),
  },
  { ...strict, description: 'The paged buffer pool (replay buffers).' },
);

export const DebugSection = Type.Object(
  {
    faultInjection: Type.Boolean({
      default: false,
      description: 'Serve POST /debug/zones/<id>/fault?mode=throw|exit|oom|hang to crash a zone, POST /debug/gateway/stall?ms=N to block the main thread and every gateway thread, and (cluster) POST /debug/cluster/link-fault?dropEvery=K to lose every K-th record batch or ack this node publishes, on purpose (supervision tests, game days). Never in production.',
    }),
    gcEndpoint: Type.Boolean({
      default: false,
      description: 'Serve POST /debug/gc: a full garbage collection of the gateway thread, answering the heap still in use after it (the soak load test judges heap growth by these floors). Needs node --expose-gc (answers 501 without it); each call pauses the gateway for the collection. Never in production.',
    }),
  },
  { ...strict, description: 'Testing aids.' },
);

export const AdminSection = Type.Object(
  {
    token: Type.String({
      default: '',
      maxLength: 1024,
      description:
        'Bearer token for the operations dashboard and its API under /admin/ (Authorization: Bearer <token>). Empty (the default): every /admin/ route answers 404 and the dashboard is off. Use a long random string; it is compared in constant time and never logged or printed by --print-config.',
    }),
    logLines: Type.Integer({
      default: 200,
      minimum: 10,
      maximum: 10_000,
      description: 'Warning and error log lines the dashboard\'s log tail keeps (the most recent; older ones are dropped).',
    }),
  },
  { ...strict, description: 'Operations dashboard (/admin/) and world viewer.' },
);

export const ClusterSection = Type.Object(
  {
    natsUrl: Type.String({
      default: '',
      maxLength: 1024,
      description:
        'NATS server(s) the nodes of one world talk through (nats://127.0.0.1:4222; several separated by commas). Empty (the default): a single process, no NATS, nothing of the cluster is loaded. ' +
        'Set: this process is one node; it runs the zones in cluster.ownedZones and reaches the others over NATS. Needs persist.postgresUrl (one shared database) and a shared auth.tokenSecret.',
    }),
    nodeId: Type.String({
      default: '',
      maxLength: 64,
      pattern: '^[A-Za-z0-9_-]*$',
      description: 'This node\'s name in the cluster (letters, digits, _ and -; it is part of NATS subjects). Empty: server.name, then the host name and process id.',
    }),
    ownedZones: Type.Array(Type.Integer({ minimum: 1, maximum: 65_535 }), {
      default: [],
      maxItems: 65_535,
      description:
        'Placement: the zone ids (1..zones.count) whose workers run on this node; every node has the whole zone layout and reaches the other zones through their owners. ' +
        'Each zone must be owned by exactly one node (when two claim one, the node id that sorts first keeps it and both log it). Empty with cluster.natsUrl set: refused at start-up.',
    }),
    newPlayers: Type.Union([Type.Literal('spread'), Type.Literal('local')], {
      default: 'spread',
      description:
        'Which zone a new player (a guest, a first login, or a character whose zone is down) enters: spread, the emptiest zone that is up on any node; ' +
        'local, the emptiest zone that is up on the node it connected to (its inputs and updates then skip NATS until it walks into another node\'s zone), else the emptiest up anywhere (src/session/placement.ts).',
    }),
    heartbeatMs: Type.Integer({
      default: 500,
      minimum: 50,
      maximum: 60_000,
      description: 'How often this node announces its zones and load on NATS (at most half of cluster.nodeTimeoutMs).',
    }),
    nodeTimeoutMs: Type.Integer({
      default: 3000,
      minimum: 200,
      maximum: 600_000,
      description:
        'A node not heard from for this long is gone: its zones are reported down in /readyz, and the sessions of this node that were in them end (their players are saved with their last state). ' +
        'A login waits at most a tenth longer than this for the other nodes to end and save the account\'s session there (a node silent that long is skipped).',
    }),
    requestTimeoutMs: Type.Integer({
      default: 1000,
      minimum: 50,
      maximum: 60_000,
      description: 'How long a question to another node (a whisper to a player who is not here, a resume of a session not held here) waits for its answer.',
    }),
    publicUrl: Type.String({
      default: '',
      maxLength: 110,
      pattern: '^(|wss?://[^\\s]+)$',
      description:
        'The WebSocket URL clients reach this node at (ws://10.0.0.5:7777/ws), announced in its heartbeats: a resume that reaches another node is redirected here (close 4301, reason resume-at=<url>, so at most 110 characters). ' +
        'Empty: ws://<net.host>:<port><net.wsPath>, with 0.0.0.0 replaced by the host name.',
    }),
  },
  { ...strict, description: 'Several server processes sharing one world over NATS (off unless cluster.natsUrl is set).' },
);

export const AgonesSection = Type.Object(
  {
    enabled: Type.Boolean({
      default: false,
      description:
        'Talk to the Agones SDK sidecar (when the server runs as an Agones GameServer): Ready once /readyz is ready, Health every agones.healthIntervalMs, the player count as a label, Shutdown on SIGTERM. Off: nothing is sent.',
    }),
    sdkUrl: Type.String({
      default: '',
      maxLength: 256,
      pattern: '^(|https?://[^\\s]+)$',
      description:
        'Base URL of the sidecar\'s local HTTP API. Empty (the default): http://127.0.0.1:$AGONES_SDK_HTTP_PORT, or port 9358 when that variable (set by Agones) is absent.',
    }),
    healthIntervalMs: Type.Integer({
      default: 2000,
      minimum: 100,
      maximum: 60_000,
      description:
        'Milliseconds between Health pings (and between Ready attempts until the sidecar accepts one). Keep it well under the fleet\'s health.periodSeconds (Agones default 5 s).',
    }),
    labelIntervalMs: Type.Integer({
      default: 5000,
      minimum: 100,
      maximum: 600_000,
      description:
        'Milliseconds between player-count label checks; the label (agones.dev/sdk-players) is written only when the count changed. Each write is a Kubernetes API update, so not too often.',
    }),
    requestTimeoutMs: Type.Integer({
      default: 1000,
      minimum: 50,
      maximum: 30_000,
      description: 'Timeout of each call to the sidecar; a call that times out counts as failed (mmo_agones_failures_total).',
    }),
  },
  { ...strict, description: 'Agones GameServer integration through the SDK sidecar (Kubernetes).' },
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
    zones: ZonesSection,
    world: WorldSection,
    sessions: SessionsSection,
    admission: AdmissionSection,
    degrade: DegradeSection,
    protocol: ProtocolSection,
    pool: PoolSection,
    debug: DebugSection,
    admin: AdminSection,
    cluster: ClusterSection,
    agones: AgonesSection,
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
export type ZonesConfig = Static<typeof ZonesSection>;
export type WorldConfig = Static<typeof WorldSection>;
export type SessionsConfig = Static<typeof SessionsSection>;
export type AdmissionSectionConfig = Static<typeof AdmissionSection>;
export type DegradeConfig = Static<typeof DegradeSection>;
export type ProtocolConfig = Static<typeof ProtocolSection>;
export type PoolConfig = Static<typeof PoolSection>;
export type AdminConfig = Static<typeof AdminSection>;
export type ClusterConfig = Static<typeof ClusterSection>;
export type AgonesConfig = Static<typeof AgonesSection>;

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
