// Runs a content module's hooks inside one World, under two rules (docs/content.md):
//
//   - A hook call that throws is caught, counted (WorldStat.hookErrors, the
//     metric mmo_zone_content_hook_faults_total{reason="threw"}) and reported
//     (the zone worker logs it, at most once a second per hook); the world
//     carries on with whatever the hook changed before it threw.
//     maxConsecutiveErrors throws in a row, with no hook call succeeding in
//     between, mean the content is broken, not unlucky: the next one is
//     rethrown as WorldError(MMO_ERR_CONTENT_HOOK), which crashes the zone
//     worker, and its supervisor restarts it from the last checkpoint, as for
//     any crash (zones.maxRestarts in zones.restartWindowMs, then the zone is
//     marked down).
//   - A hook call longer than budgetMs is counted (WorldStat.hookOverruns)
//     and reported. It is not interrupted (JavaScript cannot be): a hook that
//     never returns stops the zone's heartbeat and the supervisor kills it.
//
// Timing costs two clock reads per call, made only for hooks that exist.
// Nothing here allocates on a call that succeeds within budget.

import type { World } from './world.js';
import { WorldStat } from './events.js';
import { WorldError, WorldErrorCode } from './errors.js';
import { HOOK_NAMES, type ContentHooks, type HookName } from './content.js';
import { ZoneApi } from './content-api.js';

/** Index of each hook in HOOK_NAMES. */
export const Hook = { start: 0, join: 1, input: 2, tick: 3, death: 4 } as const;

export interface HookOptions {
  /** A call longer than this (ms) is an overrun. */
  budgetMs: number;
  /** Throws in a row that crash the zone (the last one is rethrown). */
  maxConsecutiveErrors: number;
  /** Monotonic ms for timing the calls (default performance.now). */
  clock: () => number;
  /** Told of each fault (the zone worker logs it, rate-limited). Absent: counted only. */
  report?: (hook: HookName, reason: 'threw' | 'overran', ms: number, err: unknown) => void;
}

export const DEFAULT_HOOK_OPTIONS: Readonly<HookOptions> = Object.freeze({
  budgetMs: 2,
  maxConsecutiveErrors: 20,
  clock: () => performance.now(),
});

export class ContentHost {
  /** The API object every hook receives. */
  readonly api: ZoneApi;
  /** Throws since the last hook call that returned. */
  consecutiveErrors = 0;
  private readonly o: HookOptions;

  /** Cold path. */
  constructor(
    private readonly w: World,
    private readonly hooks: ContentHooks,
    opts: Partial<HookOptions> = {},
  ) {
    this.o = { ...DEFAULT_HOOK_OPTIONS, ...opts };
    this.api = new ZoneApi(w);
  }

  /** onStart: once, when the World is ready (fresh or restored). */
  start(): void {
    const h = this.hooks.onStart;
    if (h === undefined) return;
    const t0 = this.o.clock();
    try {
      h(this.api);
      this.consecutiveErrors = 0;
    } catch (err) {
      this.fail(Hook.start, err);
    }
    this.timed(Hook.start, t0);
  }

  /** onJoin: the zone worker calls it after the player's first Snapshot. */
  join(player: number): void {
    const h = this.hooks.onJoin;
    if (h === undefined) return;
    const t0 = this.o.clock();
    try {
      h(this.api, player);
      this.consecutiveErrors = 0;
    } catch (err) {
      this.fail(Hook.join, err);
    }
    this.timed(Hook.join, t0);
  }

  /** onInput: a Custom input. False when the content does not take it (no hook, the hook said so, or it threw). */
  input(player: number, kind: number, bytes: Uint8Array, offset: number, length: number): boolean {
    const h = this.hooks.onInput;
    if (h === undefined) return false;
    const t0 = this.o.clock();
    let ok = false;
    try {
      ok = h(this.api, player, kind, bytes, offset, length) !== false;
      this.consecutiveErrors = 0;
    } catch (err) {
      this.fail(Hook.input, err);
    }
    this.timed(Hook.input, t0);
    return ok;
  }

  tick(nowMs: number): void {
    const h = this.hooks.onTick;
    if (h === undefined) return;
    const t0 = this.o.clock();
    try {
      h(this.api, nowMs);
      this.consecutiveErrors = 0;
    } catch (err) {
      this.fail(Hook.tick, err);
    }
    this.timed(Hook.tick, t0);
  }

  death(dead: number, killer: number): void {
    const h = this.hooks.onDeath;
    if (h === undefined) return;
    const t0 = this.o.clock();
    try {
      h(this.api, dead, killer);
      this.consecutiveErrors = 0;
    } catch (err) {
      this.fail(Hook.death, err);
    }
    this.timed(Hook.death, t0);
  }

  private timed(hook: number, t0: number): void {
    const ms = this.o.clock() - t0;
    if (ms > this.o.budgetMs) {
      this.w.stats[WorldStat.hookOverruns]!++;
      this.o.report?.(HOOK_NAMES[hook]!, 'overran', ms, null);
    }
  }

  private fail(hook: number, err: unknown): void {
    this.w.stats[WorldStat.hookErrors]!++;
    const n = ++this.consecutiveErrors;
    const name = HOOK_NAMES[hook]!;
    this.o.report?.(name, 'threw', 0, err);
    if (n >= this.o.maxConsecutiveErrors) {
      const why = err instanceof Error ? err.message : String(err);
      throw Object.assign(
        new WorldError(WorldErrorCode.contentHook, `content hooks threw ${n} times in a row (world.contentMaxConsecutiveErrors); last: ${name}: ${why}`),
        { cause: err },
      );
    }
  }
}
