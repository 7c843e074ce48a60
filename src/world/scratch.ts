// Scratch registers for the doubles the world's functions pass each other.
//
// V8 boxes a fractional double into a fresh heap number whenever it is
// passed to, or returned from, a call that the optimizing compiler did not
// inline. The tick calls across several classes (World, NpcAi, Terrain,
// MovementRules); passing coordinates and times through one Float64Array
// keeps the steady-state tick at zero bytes allocated. Measured before this:
// ~5 KB per tick from NPC steering alone (200 NPCs), see world.bench.ts.
//
// Ownership: one Float64Array per World, written by the public entry point
// that is running (tick, applyMove, applyAttack...) and read by the helpers it
// calls, on the world's one thread. A value is valid until the next write.

/** Register indices into World.reg. */
export const Reg = {
  /** nowMs of the call being processed. */
  now: 0,
  /** Clamped duration of the current tick (ms). */
  dt: 1,
  /** Destination of moveEntity() / judged move. */
  x: 2,
  y: 3,
  /** Time base of moveEntity()'s velocity (ms). */
  moveDt: 4,
} as const;

export const REG_COUNT = 5;
