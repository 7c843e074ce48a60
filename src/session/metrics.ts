// The session layer's metrics: label tables (index = label slot, `as const`)
// and their registration. The hot counters are bumped by SessionService; the
// gauges are read from the registry, the pool and admission at scrape time.

import type { Registry } from 'prom-client';
import { HotCounter, HotHistogram, PullGauge, MetricArena } from '../metrics/hot.js';
import type { BufferPool } from '../pool/index.js';
import type { AdmissionStats } from './admission.js';
import { RESUME_RESULT_NAMES, type SessionRegistry } from './registry.js';
import { SessionState } from './session.js';

/** Why a frame was refused at the protocol boundary: the `reason` of mmo_protocol_rejected_total. */
export const Rejected = { textFrame: 0, malformed: 1, version: 2, unexpected: 3, flood: 4 } as const;
export type RejectedIndex = (typeof Rejected)[keyof typeof Rejected];
const REJECTED_LABELS = { textFrame: 'text_frame', malformed: 'malformed', version: 'version', unexpected: 'unexpected', flood: 'flood' } as const;

/** Why an input was dropped: the `reason` of mmo_session_inputs_dropped_total. */
export const InputDrop = { rate: 0, zoneFull: 1, inTransit: 2, noZone: 3 } as const;
const INPUT_DROP_LABELS = { rate: 'rate', zoneFull: 'zone_full', inTransit: 'in_transit', noZone: 'no_zone' } as const;

/** mmo_session_logins_total{result}. */
export const LoginResult = { ok: 0, refused: 1, failed: 2 } as const;

/** How a session changed owner: mmo_session_moves_total{kind}. */
export const SessionMove = { migrated: 0, parked: 1 } as const;

/** What an accepted resume got: mmo_session_resumes_accepted_total{outcome}. */
export const ResumeOutcome = { replayed: 0, snapshot: 1 } as const;

/** Labels in slot order, from an index table and its label names. */
function slots<K extends string>(index: Record<K, number>, names: Record<K, string>, label: string): Record<string, string>[] {
  const out: Record<string, string>[] = [];
  for (const k of Object.keys(index) as K[]) out[index[k]] = { [label]: names[k] };
  return out;
}
function same<K extends string>(index: Record<K, number>): Record<K, string> {
  return Object.fromEntries(Object.keys(index).map((k) => [k, k])) as Record<K, string>;
}

export interface SessionMetrics {
  verifyFailures: HotCounter;
  duplicates: HotCounter;
  inputsDropped: HotCounter;
  resumeOutcome: HotCounter;
  takeovers: HotCounter;
  replayedFrames: HotCounter;
  coalesced: HotCounter;
  logins: HotCounter;
  handoffs: HotCounter;
  moves: HotCounter;
  frameBytes: HotHistogram;
}

/**
 * The session layer's hot metrics. `reg` null: a gateway thread's, counted
 * into `arena` (shared memory) and added to the main thread's by
 * addSessionMetricsSource in the same order.
 */
export function createSessionMetrics(reg: Registry | null, arena: MetricArena = new MetricArena()): SessionMetrics {
  return {
    verifyFailures: new HotCounter(reg, 'mmo_protocol_rejected_total', 'Frames refused at the protocol boundary (each closed its socket), by reason.', slots(Rejected, REJECTED_LABELS, 'reason'), arena),
    duplicates: new HotCounter(reg, 'mmo_session_duplicate_inputs_total', 'Inputs dropped because their seq was already accepted (re-sent after a resume).', [{}], arena),
    inputsDropped: new HotCounter(reg, 'mmo_session_inputs_dropped_total', 'Inputs dropped, by reason.', slots(InputDrop, INPUT_DROP_LABELS, 'reason'), arena),
    resumeOutcome: new HotCounter(reg, 'mmo_session_resumes_accepted_total', 'Accepted resumes by what the client got: its missed frames, or a snapshot.', slots(ResumeOutcome, same(ResumeOutcome), 'outcome'), arena),
    takeovers: new HotCounter(reg, 'mmo_session_takeovers_total', 'Logins that took over a live session of the same account.', [{}], arena),
    replayedFrames: new HotCounter(reg, 'mmo_session_replayed_frames_total', 'Frames re-sent to resumed sessions.', [{}], arena),
    coalesced: new HotCounter(reg, 'mmo_net_deltas_coalesced_total', 'Position deltas dropped for backed-up sockets and for zombie sessions (a Snapshot follows when the socket drains or the session resumes).', [{}], arena),
    logins: new HotCounter(reg, 'mmo_session_logins_total', 'Logins by result.', slots(LoginResult, same(LoginResult), 'result'), arena),
    handoffs: new HotCounter(reg, 'mmo_session_handoffs_total', 'Players handed from one zone to another through a portal.', [{}], arena),
    moves: new HotCounter(
      reg,
      'mmo_session_moves_total',
      'Sessions that changed owner: migrated to the gateway thread a resume or login landed on, or parked on the main thread when their thread died.',
      slots(SessionMove, same(SessionMove), 'kind'),
      arena,
    ),
    frameBytes: new HotHistogram(reg, 'mmo_net_frame_bytes', 'Size of outbound WebSocket frames.', [64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 65536], [{}], arena),
  };
}

/** Adds a gateway thread's session metrics (its arena, in createSessionMetrics' order) to the main thread's. */
export function addSessionMetricsSource(m: SessionMetrics, arena: MetricArena): void {
  for (const c of [m.verifyFailures, m.duplicates, m.inputsDropped, m.resumeOutcome, m.takeovers, m.replayedFrames, m.coalesced, m.logins, m.handoffs, m.moves]) c.addSource(arena);
  m.frameBytes.addSource(arena);
}

/**
 * A gateway thread's replay pool, as it publishes it in its metric arena
 * (after its counters) about once a second: bytes in use, pages, pages in
 * use, pages at most, failed allocations.
 */
export const PoolFigure = { bytesInUse: 0, pagesTotal: 1, pagesInUse: 2, pagesHighWater: 3, failedAllocs: 4 } as const;
export const POOL_FIGURES = 5;

export function writePoolFigures(v: Float64Array, pool: BufferPool): void {
  const s = pool.stats();
  v[PoolFigure.bytesInUse] = s.bytesInUse;
  v[PoolFigure.pagesTotal] = s.pagesTotal;
  v[PoolFigure.pagesInUse] = s.pagesInUse;
  v[PoolFigure.pagesHighWater] = s.pagesHighWater;
  v[PoolFigure.failedAllocs] = s.failedAllocs;
}

/** Gauges read at scrape time: sessions by state, resumes, zombies, replay memory, pool pages, admission decisions. */
export function registerSessionGauges(reg: Registry, sessions: SessionRegistry, pool: BufferPool, admission: () => AdmissionStats, threadPools: readonly Float64Array[] = []): void {
  // The main thread's pool plus each gateway thread's (its sessions' replay frames).
  const figure = (f: number, own: number): number => threadPools.reduce((n, v) => n + v[f]!, own);
  new PullGauge(reg, 'mmo_sessions', 'Sessions by state.', () => [
    { labels: { state: 'connected' }, value: sessions.count[SessionState.connected]! },
    { labels: { state: 'zombie' }, value: sessions.count[SessionState.zombie]! },
  ]);
  new PullGauge(reg, 'mmo_session_resumes_total', 'Resume attempts by result (ok, or why refused).', () =>
    RESUME_RESULT_NAMES.map((result, i) => ({ labels: { result }, value: sessions.resumes[i]! })),
  );
  new PullGauge(
    reg,
    'mmo_session_resume_retries_total',
    'Accepted resumes that presented the token of an earlier resume whose Welcome never reached the client (the link died during the handshake); counted in mmo_session_resumes_total{result="ok"} too.',
    () => sessions.resumeRetries,
  );
  new PullGauge(reg, 'mmo_session_zombie_expiries_total', 'Zombie sessions that expired (saved and removed).', () => sessions.zombieExpiries);
  new PullGauge(reg, 'mmo_session_replay_bytes', 'Bytes of frames held in replay buffers (pool slices).', () => figure(PoolFigure.bytesInUse, pool.stats().bytesInUse));
  new PullGauge(reg, 'mmo_pool_pages', 'Buffer pool pages: total and in use.', () => {
    const s = pool.stats();
    return [
      { labels: { kind: 'total' }, value: figure(PoolFigure.pagesTotal, s.pagesTotal) },
      { labels: { kind: 'in_use' }, value: figure(PoolFigure.pagesInUse, s.pagesInUse) },
      { labels: { kind: 'high_water' }, value: figure(PoolFigure.pagesHighWater, s.pagesHighWater) },
    ];
  });
  new PullGauge(reg, 'mmo_pool_failed_allocs_total', 'Buffer pool allocations refused at the ceiling.', () => figure(PoolFigure.failedAllocs, pool.stats().failedAllocs));
  new PullGauge(reg, 'mmo_admission_total', 'Upgrade requests by admission decision.', () => {
    const st = admission();
    return [
      { labels: { decision: 'login' }, value: st.admittedLogins },
      { labels: { decision: 'resume' }, value: st.admittedResumes },
      { labels: { decision: 'refused_global' }, value: st.refusedGlobal },
      { labels: { decision: 'refused_address' }, value: st.refusedAddress },
      { labels: { decision: 'refused_budget' }, value: st.refusedBudget },
      { labels: { decision: 'refused_shed' }, value: st.refusedShed },
    ];
  });
}
