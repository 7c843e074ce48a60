// What the bots count, and the latency histograms they keep. Workers count
// into a Counters object and send the deltas to the driver once per report
// period with their histograms encoded (hdr-histogram-js, compressed base64).

import hdr from 'hdr-histogram-js';

export const COUNTER_KEYS = [
  /** Bots whose first Welcome arrived (a new session). */
  'connects',
  /** Bots that gave up before their first Welcome. */
  'connectFailures',
  /** WebSocket messages server -> bots, and their bytes. */
  'msgsIn',
  'bytesIn',
  /** WebSocket messages bots -> server (Hello/Resume, inputs, pings, resent inputs), and their bytes. */
  'msgsOut',
  'bytesOut',
  'pings',
  'pongs',
  'moves',
  'attacks',
  'chats',
  'interacts',
  'chatsReceived',
  'damageSeen',
  'deaths',
  'respawns',
  'levelUps',
  'zoneChanges',
  'items',
  /** MoveRejected: obstacle in the way (expected: bots walk blind). */
  'moveRejectedObstacle',
  /** MoveRejected: speed, teleport, bounds, invalid (a bot broke the rules: an error). */
  'moveRejectedIllegal',
  /** MoveRejected: dead, immobile (expected around deaths and handoffs). */
  'moveRejectedState',
  /** Error messages that are game outcomes: cooldown, out of range, target gone, whisper target offline, inventory full. */
  'gameRefusals',
  /** Error messages that are not: rate limited, invalid input, not in world, bad text... (errors). */
  'serverErrors',
  'kicked',
  'malformedFrames',
  /** Socket losses the scenario did not cause. */
  'unexpectedDisconnects',
  /** Sockets the scenario killed on purpose (storms). */
  'plannedDrops',
  /** Welcome{resumed} received. */
  'resumes',
  /** Resumes that came back on the bot's own session and player after a planned drop. */
  'backOwn',
  /** A Welcome that started a new session after a loss: the old session was not resumed (an error). */
  'lostSessions',
  /** Bots that gave up reconnecting, or were closed by the server for good (errors). */
  'gaveUp',
  /** Clean leaves the scenario asked for (soak, churn). */
  'leaves',
  /** Frames the server said it replayed in Welcome{resumed}. */
  'replayed',
  /** Sequenced frames whose seq skipped ahead of the last one processed. */
  'seqGaps',
  /** Sequenced frames at or below the last one processed (a replay overlapping what was already seen). */
  'seqDuplicates',
  /** Full snapshots received (join, zone change, resume past the replay buffer). */
  'snapshots',
  /** Other entities carrying the bot's own name (a duplicate player), found by an audit. */
  'duplicateSelf',
  /** Exceptions thrown out of bot or SDK code in a worker (the worker carries on; an error). */
  'botExceptions',
] as const;

export type CounterKey = (typeof COUNTER_KEYS)[number];
export type Counters = Record<CounterKey, number>;

export function zeroCounters(): Counters {
  const c = {} as Counters;
  for (const k of COUNTER_KEYS) c[k] = 0;
  return c;
}

export function addCounters(into: Counters, from: Counters): void {
  for (const k of COUNTER_KEYS) into[k] += from[k];
}

export function diffCounters(later: Counters, earlier: Counters): Counters {
  const c = zeroCounters();
  for (const k of COUNTER_KEYS) c[k] = later[k] - earlier[k];
  return c;
}

/** Everything counted as an error of the run (each kind is also reported on its own). */
export function errorCount(c: Counters, errorCodes: Record<string, number> = {}): number {
  void errorCodes;
  return c.connectFailures + c.serverErrors + c.kicked + c.malformedFrames + c.moveRejectedIllegal + c.lostSessions + c.gaveUp + c.duplicateSelf + c.botExceptions;
}

export type Histogram = hdr.Histogram;

/** A latency histogram in microseconds: 1 us .. 120 s at 3 significant digits. */
export function newHistogram(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3, autoResize: true });
}

export function encodeHistogram(h: Histogram): string {
  return h.totalCount === 0 ? '' : hdr.encodeIntoCompressedBase64(h);
}

export function addEncoded(into: Histogram, encoded: string): void {
  if (encoded === '') return;
  into.add(hdr.decodeFromCompressedBase64(encoded));
}

/** Percentile of a microsecond histogram, in ms (null when empty). */
export function pMs(h: Histogram, p: number): number | null {
  return h.totalCount === 0 ? null : h.getValueAtPercentile(p) / 1000;
}
