// Per-observer visible sets with enter/leave hysteresis and a cap.
//
// Rule, per observer o with view V (entity ids), radius R, hysteresis H, cap C:
//
//   candidates = { e in V still alive, |e - o| <= R + H }      (stay)
//              + { e not in V,         |e - o| <= R     }      (may enter)
//   if |candidates| <= C:  V' = candidates
//   else                   V' = the C candidates with the smallest key, where
//                          key = distance - H for e in V, distance otherwise
//                          (ties by slot)
//
// Players first (playerShare P): past the cap, round(C * P) slots go to the
// nearest player candidates (by the same key) before anything else, and the
// rest of the cap to the nearest of what remains, players or not. A player
// 22 units away in a crowd of 200 nearer NPCs is still seen; with only
// players, or only NPCs, the result is the plain nearest-C. P = 0 is plain
// nearest-C always.
//
// The -H bias on the cap keeps an entity already shown from being swapped
// for one barely nearer, so a crowd at the cap does not flap enter/leave
// every tick (each flap costs an EntityEnter with a name instead of a
// 12-byte update). compute() reports exactly V \ V' (leaves), V' \ V (enters)
// and V ∩ V' (stays).
//
// Storage: sets[o * C .. o * C + counts[o]) holds V as entity ids, so an
// entity that died and whose slot was reused is told apart by generation.
// Membership during a compute uses a stamp per slot (mark[slot] === stamp)
// instead of clearing a bitmap: O(|V|) per observer, no allocation.

import type { EntityStore } from './entity-store.js';
import type { SpatialGrid } from './grid.js';
import { Kind, SLOT_MASK } from './entity-store.js';

export class Visibility {
  /** Storage per observer (the configured cap). */
  readonly cap: number;
  /** The cap compute() applies now, 1..cap: lowered under overload (ToZone.aoiLoad), restored after. */
  limit: number;
  readonly radius: number;
  readonly hysteresis: number;
  /** Fraction of the cap reserved for players, 0..1 (world.aoi.playerShare). */
  readonly playerShare: number;
  /** Visible entity ids, cap per observer slot. Read-only outside this class. */
  readonly sets: Uint32Array;
  readonly counts: Uint16Array;

  /** Output of the last compute(): ids that left, slots that entered, slots that stayed. */
  readonly leaves: Uint32Array;
  readonly enters: Int32Array;
  readonly stays: Int32Array;
  leaveCount = 0;
  enterCount = 0;
  stayCount = 0;

  private readonly mark: Uint32Array;
  private stamp = 0;
  private readonly cand: Int32Array;
  private readonly candD2: Float64Array;
  private readonly key: Float64Array;

  constructor(
    private readonly store: EntityStore,
    private readonly grid: SpatialGrid,
    radius: number,
    hysteresis: number,
    cap: number,
    playerShare = 0,
  ) {
    const n = store.capacity;
    if (!(playerShare >= 0 && playerShare <= 1)) throw Object.assign(new RangeError(`playerShare must be in 0..1, got ${playerShare}`), { code: 'MMO_ERR_CONFIG' });
    this.playerShare = playerShare;
    this.cap = cap;
    this.limit = cap;
    this.radius = radius;
    this.hysteresis = hysteresis;
    this.sets = new Uint32Array(n * cap);
    this.counts = new Uint16Array(n);
    this.leaves = new Uint32Array(cap);
    this.enters = new Int32Array(cap);
    this.stays = new Int32Array(cap);
    this.mark = new Uint32Array(n);
    this.cand = new Int32Array(n);
    this.candD2 = new Float64Array(n);
    this.key = new Float64Array(n);
  }

  /** Forgets an observer's view (new player, snapshot, removal). */
  clear(observer: number): void {
    this.counts[observer] = 0;
  }

  /** Whether entity id is in the observer's view. O(|V|); for tests and cold paths. */
  has(observer: number, id: number): boolean {
    const base = observer * this.cap;
    for (let i = 0, n = this.counts[observer]!; i < n; i++) if (this.sets[base + i] === id) return true;
    return false;
  }

  /** Recomputes the observer's view from the store and grid; fills leaves/enters/stays. */
  compute(o: number): void {
    const store = this.store;
    const ids = store.id;
    const cap = this.cap;
    const base = o * cap;
    const sets = this.sets;
    const leaveOut = this.leaves;
    const old = this.counts[o]!;
    if (this.stamp >= 0xfffffff0) {
      this.mark.fill(0);
      this.stamp = 0;
    }
    // mark[s] === sVisible: in V, not (yet) kept; === sKept: in V and a candidate.
    const sVisible = ++this.stamp;
    const sKept = ++this.stamp;
    const mark = this.mark;

    let leaves = 0;
    for (let i = 0; i < old; i++) {
      const id = sets[base + i]!;
      const s = id & SLOT_MASK;
      if (ids[s] === id) mark[s] = sVisible;
      else leaveOut[leaves++] = id; // gone (slot free or reused)
    }

    const r = this.radius;
    const r2 = r * r;
    const grid = this.grid;
    const cand = this.cand;
    const d2s = this.candD2;
    grid.q[0] = store.x[o]!;
    grid.q[1] = store.y[o]!;
    grid.q[2] = old === 0 ? r : r + this.hysteresis;
    const n = grid.isPacked() ? grid.queryPackedQ(cand, d2s) : grid.queryQ(cand, d2s);
    let m = 0;
    for (let i = 0; i < n; i++) {
      const s = cand[i]!;
      if (s === o) continue;
      const d2 = d2s[i]!;
      if (mark[s] === sVisible) mark[s] = sKept;
      else if (d2 > r2) continue;
      cand[m] = s;
      d2s[m] = d2;
      m++;
    }
    const limit = this.limit;
    if (m > limit) {
      const key = this.key;
      const h = this.hysteresis;
      for (let i = 0; i < m; i++) key[i] = Math.sqrt(d2s[i]!) - (mark[cand[i]!] === sKept ? h : 0);
      selectSmallest(cand, key, m, limit);
      if (this.playerShare > 0) this.playersFirst(m, limit);
      // Visible entities pushed out by the cap leave.
      for (let i = limit; i < m; i++) if (mark[cand[i]!] === sKept) mark[cand[i]!] = sVisible;
      m = limit;
    }

    // Marks are final: whatever of the old view is still sVisible leaves.
    for (let i = 0; i < old; i++) {
      const id = sets[base + i]!;
      const s = id & SLOT_MASK;
      if (mark[s] === sVisible && ids[s] === id) leaveOut[leaves++] = id;
    }
    const stayOut = this.stays;
    const enterOut = this.enters;
    let enters = 0;
    let stays = 0;
    for (let i = 0; i < m; i++) {
      const s = cand[i]!;
      if (mark[s] === sKept) stayOut[stays++] = s;
      else enterOut[enters++] = s;
      sets[base + i] = ids[s]!;
    }
    this.counts[o] = m;
    this.leaveCount = leaves;
    this.enterCount = enters;
    this.stayCount = stays;
  }

  /**
   * After the plain nearest-`limit` selection of cand/key[0, m): when it
   * holds fewer players than the reservation and a player was left out,
   * select again players first. The nearest-limit set already is the
   * players-first answer when it holds round(limit * share) players or every
   * player (its players are the nearest ones, and the rest is the nearest of
   * the others), so a crowd of players pays one 0..limit count (measured:
   * 5,000 players in 1024 x 1024, a second selection every capped view cost
   * 12 to 17 % of the tick).
   */
  private playersFirst(m: number, limit: number): void {
    const cand = this.cand;
    const key = this.key;
    const kind = this.store.kind;
    const reserve = Math.round(limit * this.playerShare);
    let q = 0;
    for (let i = 0; i < limit && q < reserve; i++) if (kind[cand[i]!] === Kind.player) q++;
    if (q >= reserve) return;
    let left = false;
    for (let i = limit; i < m; i++) {
      if (kind[cand[i]!] === Kind.player) {
        left = true;
        break;
      }
    }
    if (!left) return;
    // Players to the front, the nearest `reserve` of them, then the nearest of the rest.
    let p = 0;
    for (let i = 0; i < m; i++) {
      const s = cand[i]!;
      if (kind[s] !== Kind.player) continue;
      if (i !== p) {
        cand[i] = cand[p]!;
        cand[p] = s;
        const k = key[i]!;
        key[i] = key[p]!;
        key[p] = k;
      }
      p++;
    }
    if (p > reserve) selectSmallest(cand, key, p, reserve);
    const taken = p > reserve ? reserve : p;
    if (limit > taken) selectSmallest(cand, key, m, limit - taken, taken);
  }

  /**
   * The cheap pass between refreshes: keeps the view as it is except that
   * entities that no longer exist leave. Fills leaves/stays; no enters.
   */
  retain(o: number): void {
    const ids = this.store.id;
    const sets = this.sets;
    const base = o * this.cap;
    const old = this.counts[o]!;
    let leaves = 0;
    let m = 0;
    for (let i = 0; i < old; i++) {
      const id = sets[base + i]!;
      const s = id & SLOT_MASK;
      if (ids[s] === id) {
        sets[base + m] = id;
        this.stays[m++] = s;
      } else this.leaves[leaves++] = id;
    }
    this.counts[o] = m;
    this.leaveCount = leaves;
    this.enterCount = 0;
    this.stayCount = m;
  }
}

/**
 * Partially orders cand/key[from, n) in place so that [from, from + k) holds
 * the k entries with the smallest (key, slot): Wirth's selection,
 * deterministic middle pivot.
 */
export function selectSmallest(cand: Int32Array, key: Float64Array, n: number, k: number, from = 0): void {
  const target = from + k - 1;
  let lo = from;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const pk = key[mid]!;
    const ps = cand[mid]!;
    let i = lo;
    let j = hi;
    do {
      while (key[i]! < pk || (key[i] === pk && cand[i]! < ps)) i++;
      while (pk < key[j]! || (pk === key[j] && ps < cand[j]!)) j--;
      if (i <= j) {
        const tk = key[i]!;
        key[i] = key[j]!;
        key[j] = tk;
        const ts = cand[i]!;
        cand[i] = cand[j]!;
        cand[j] = ts;
        i++;
        j--;
      }
    } while (i <= j);
    if (j < target) lo = i;
    if (target < i) hi = j;
  }
}
