// Adaptive degradation: the state machine that decides how much load the
// process sheds. Pure: it is handed one LoadSample per period (degrade-runtime
// measures them) and a clock, and tells its Actuators what to change, so
// tests drive it with a fake clock.
//
//   level 0 normal ──over raiseAfterMs──▶ 1 shed (tighten admission: abusers
//     refused, fresh logins get a smaller share of the handshake budget)
//   ──over──▶ 2 reduce step 1: the busiest zones send views every
//     updateTicks[0] ticks with at most visibleCap[0] entities
//   ──over──▶ 3 reduce step 2 ... (one level per configured step)
//
// Going down is one level per restoreAfterMs of calm (every signal under
// restoreRatio x its threshold); between calm and over the level holds
// (hysteresis). No step closes a socket: the worst an honest player sees is
// fewer updates per second and fewer entities in view.

import type { DegradeConfig } from '../config/schema.js';
import { ConfigError } from '../config/errors.js';

/** Metric labels of the steps, by level - 1. */
export const DEGRADE_STEP_NAMES = ['shed', 'reduce_1', 'reduce_2', 'reduce_3', 'reduce_4'] as const;
export type DegradeStepName = (typeof DEGRADE_STEP_NAMES)[number];

/** Why the process is over budget (a bit set; logged with each step). */
export const OverSignal = { loop: 1, gatewayBusy: 2, zoneTick: 4 } as const;

export interface LoadSample {
  /** Gateway event-loop lateness samples in the period, and how many were >= loopLagMs and >= restoreRatio x loopLagMs. */
  loopSamples: number;
  loopOver: number;
  loopWarm: number;
  /** Longest lateness in the period, ms (logs). */
  loopMaxMs: number;
  /** Gateway event-loop utilization over the period, 0..1. */
  gatewayBusy: number;
  /** Per zone: mean tick duration over the period / tick period (NaN: no tick). */
  zoneTickShare: Float64Array;
  /** Per zone: players now. */
  zonePlayers: Float64Array;
}

export interface DegradeActuators {
  /** Tighten admission (true) or restore it (false). */
  shed(on: boolean): void;
  /** Set one zone's update period and visible cap; 0, 0 restores its configuration. */
  zoneAoi(zone: number, updateTicks: number, visibleCap: number): void;
}

export interface DegradeLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export type DegradeSettings = Pick<
  DegradeConfig,
  'loopLagMs' | 'gatewayBusy' | 'tickBudget' | 'raiseAfterMs' | 'restoreAfterMs' | 'restoreRatio' | 'updateTicks' | 'visibleCap'
>;

/** Checks what the schema cannot: as many visibleCap entries as updateTicks. Throws ConfigError. Cold path. */
export function checkDegradeConfig(cfg: DegradeSettings): void {
  if (cfg.updateTicks.length !== cfg.visibleCap.length) {
    throw new ConfigError([
      { key: 'degrade.visibleCap', value: cfg.visibleCap, source: 'configuration', allowed: `as many entries as degrade.updateTicks (${cfg.updateTicks.length})` },
    ]);
  }
}

export class DegradeController {
  /** 0 normal, 1 shed, 2.. reduce steps. */
  level = 0;
  readonly maxLevel: number;
  /** Steps taken, by level - 1: up and down (metrics). */
  readonly stepsUp: Float64Array;
  readonly stepsDown: Float64Array;
  /** Zones under a reduce step now (1) or not (0). */
  readonly reduced: Uint8Array;
  private overSince = -1;
  private calmSince = -1;
  /** Set by the last sample: why it was over (OverSignal bits), 0 when not. */
  lastOver = 0;

  constructor(
    private readonly cfg: DegradeSettings,
    zones: number,
    private readonly act: DegradeActuators,
    private readonly log: DegradeLog,
  ) {
    checkDegradeConfig(cfg);
    this.maxLevel = 1 + cfg.updateTicks.length;
    this.stepsUp = new Float64Array(this.maxLevel);
    this.stepsDown = new Float64Array(this.maxLevel);
    this.reduced = new Uint8Array(zones);
  }

  get reducedZones(): number {
    let n = 0;
    for (let i = 0; i < this.reduced.length; i++) n += this.reduced[i]!;
    return n;
  }

  /** Judges one period's sample at nowMs and steps at most one level. */
  evaluate(s: LoadSample, nowMs: number): void {
    const c = this.cfg;
    const ratio = c.restoreRatio;
    let over = 0;
    let calm = true;
    if (s.loopSamples > 0) {
      // p99 >= threshold <=> more than 1% of the samples at or above it.
      if (s.loopOver > s.loopSamples * 0.01) over |= OverSignal.loop;
      if (s.loopWarm > s.loopSamples * 0.01) calm = false;
    }
    if (s.gatewayBusy >= c.gatewayBusy) over |= OverSignal.gatewayBusy;
    if (s.gatewayBusy >= c.gatewayBusy * ratio) calm = false;
    for (let z = 0; z < s.zoneTickShare.length; z++) {
      const t = s.zoneTickShare[z]!;
      if (!(t >= 0)) continue;
      if (t >= c.tickBudget) over |= OverSignal.zoneTick;
      if (t >= c.tickBudget * ratio) calm = false;
    }
    this.lastOver = over;
    if (over !== 0) {
      this.calmSince = -1;
      if (this.overSince < 0) this.overSince = nowMs;
      if (this.level < this.maxLevel && nowMs - this.overSince >= c.raiseAfterMs) {
        this.raise(s, over);
        this.overSince = nowMs;
      } else if (this.level >= 2) this.widen(s);
    } else if (calm) {
      this.overSince = -1;
      if (this.calmSince < 0) this.calmSince = nowMs;
      if (this.level > 0 && nowMs - this.calmSince >= c.restoreAfterMs) {
        this.lower(s);
        this.calmSince = nowMs;
      }
    } else {
      // Between calm and over: hold.
      this.overSince = -1;
      this.calmSince = -1;
    }
    // Re-send the reduced zones' settings every period: a zone restarted from a checkpoint comes back with its configuration.
    if (this.level >= 2) this.applyZones();
  }

  private raise(s: LoadSample, over: number): void {
    this.level++;
    this.stepsUp[this.level - 1]!++;
    const step = DEGRADE_STEP_NAMES[this.level - 1]!;
    if (this.level === 1) this.act.shed(true);
    else this.pickZones(s, over, true);
    this.log.warn(
      { step, level: this.level, why: overNames(over), loopMaxMs: round(s.loopMaxMs), gatewayBusy: round(s.gatewayBusy), zones: this.zoneList(), ...this.zoneSetting() },
      'over budget: degrading one step',
    );
  }

  private lower(s: LoadSample): void {
    const step = DEGRADE_STEP_NAMES[this.level - 1]!;
    this.stepsDown[this.level - 1]!++;
    this.level--;
    if (this.level === 0) this.act.shed(false);
    else if (this.level === 1) {
      for (let z = 0; z < this.reduced.length; z++) {
        if (this.reduced[z] === 0) continue;
        this.reduced[z] = 0;
        this.act.zoneAoi(z, 0, 0);
      }
    }
    this.log.info({ step, level: this.level, loopMaxMs: round(s.loopMaxMs), gatewayBusy: round(s.gatewayBusy), ...this.zoneSetting() }, 'load passed: restoring one step');
  }

  /**
   * The busiest zones: those whose ticks are over budget (or near it); when
   * the gateway is the one over budget, the zones with the most players (at
   * least the fullest one), since their views are what it sends.
   */
  private pickZones(s: LoadSample, over: number, all: boolean): void {
    const c = this.cfg;
    let any = false;
    for (let z = 0; z < this.reduced.length; z++) {
      if (s.zoneTickShare[z]! >= c.tickBudget * c.restoreRatio) {
        this.reduced[z] = 1;
        any = true;
      }
    }
    if (all && (!any || (over & (OverSignal.loop | OverSignal.gatewayBusy)) !== 0)) {
      let total = 0;
      let most = -1;
      for (let z = 0; z < s.zonePlayers.length; z++) {
        total += s.zonePlayers[z]!;
        if (most < 0 || s.zonePlayers[z]! > s.zonePlayers[most]!) most = z;
      }
      const mean = s.zonePlayers.length > 0 ? total / s.zonePlayers.length : 0;
      for (let z = 0; z < s.zonePlayers.length; z++) if (s.zonePlayers[z]! > 0 && s.zonePlayers[z]! >= mean) this.reduced[z] = 1;
      if (most >= 0) this.reduced[most] = 1;
    }
  }

  /** Still over at the top or between steps: zones that became hot join the reduced set. */
  private widen(s: LoadSample): void {
    this.pickZones(s, 0, false);
  }

  private applyZones(): void {
    const i = this.level - 2;
    const upd = this.cfg.updateTicks[i]!;
    const cap = this.cfg.visibleCap[i]!;
    for (let z = 0; z < this.reduced.length; z++) if (this.reduced[z] === 1) this.act.zoneAoi(z, upd, cap);
  }

  private zoneList(): number[] {
    const out: number[] = [];
    for (let z = 0; z < this.reduced.length; z++) if (this.reduced[z] === 1) out.push(z);
    return out;
  }

  private zoneSetting(): { updateTicks?: number; visibleCap?: number } {
    if (this.level < 2) return {};
    return { updateTicks: this.cfg.updateTicks[this.level - 2]!, visibleCap: this.cfg.visibleCap[this.level - 2]! };
  }
}

function overNames(bits: number): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(OverSignal)) if ((bits & v) !== 0) out.push(k);
  return out;
}

function round(v: number): number {
  return Math.round(v * 1000) / 1000;
}
