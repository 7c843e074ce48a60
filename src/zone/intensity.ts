/**
 * OTP-style restart intensity: at most `maxRestarts` restarts within any
 * `windowMs`. One more and the child is given up on (the zone is marked down)
 * instead of crash-looping and burning the CPU its neighbours need.
 */
export class RestartIntensity {
  private readonly times: number[] = [];

  constructor(
    readonly maxRestarts: number,
    readonly windowMs: number,
  ) {}

  /** Records a crash at `nowMs`; true when a restart is still allowed. */
  allow(nowMs: number): boolean {
    while (this.times.length > 0 && nowMs - this.times[0]! >= this.windowMs) this.times.shift();
    if (this.times.length >= this.maxRestarts) return false;
    this.times.push(nowMs);
    return true;
  }

  /** Restarts counted in the current window. */
  recent(nowMs: number): number {
    return this.times.filter((t) => nowMs - t < this.windowMs).length;
  }

  reset(): void {
    this.times.length = 0;
  }
}
