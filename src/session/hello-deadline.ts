// The Hello deadline: a socket that upgraded must say Hello (or Resume)
// within sessions.helloDeadlineMs, or it is closed with 4202 helloTimeout.
// An upgraded socket that says nothing costs a uWS socket, its buffers and a
// slot of the per-address budget for as long as uWS's idle timeout lets it
// live (16 s by default, and automatic pings keep it alive longer): a
// connection flood of idle sockets would otherwise hold them all.
//
// Layout: a FIFO ring of (socket, deadline), grown by doubling when full.
// Every socket gets the same allowance, so deadlines come in insertion order
// and a sweep only looks at the head: it pops the entries whose deadline has
// passed and stops at the first that has not. O(expired) per sweep, nothing
// allocated (growth happens on add, amortized, never in the sweep).
//
//   sockets   [ ws ][ ws ][ ws ][null][null]...   head → oldest, (head+size-1) → newest
//   deadlines [ t0 ][ t1 ][ t2 ][    ][    ]...   t0 <= t1 <= t2 (ms, the caller's clock)
//
// A socket that said Hello, or closed, stays in the ring until its deadline
// and is then dropped untouched (isPending says no); so the ring holds at most
// the sockets opened within the last deadline.
//
// Single-threaded: the session layer adds and sweeps on the main thread, also
// when sockets live on gateway threads (they arrive as RemoteSockets).

import type { Registry } from 'prom-client';
import { HotCounter } from '../metrics/hot.js';

export interface HelloDeadlineHooks<S> {
  /** Whether the socket still owes its Hello/Resume (open, no session, not authenticating). */
  isPending(ws: S): boolean;
  /** Closes it (the caller's close path, with CloseCode.helloTimeout). */
  expire(ws: S): void;
}

const INITIAL_CAPACITY = 1024;

export class HelloDeadline<S extends object> {
  private sockets: (S | null)[];
  private deadlines: Float64Array;
  private mask: number;
  private head = 0;
  private size = 0;
  /** mmo_session_hello_timeouts_total when a registry is given; else a private count. */
  private readonly closed: HotCounter | null;
  private closedCount = 0;

  /** `deadlineMs` 0 disables: add() and sweep() do nothing. */
  constructor(
    readonly deadlineMs: number,
    private readonly hooks: HelloDeadlineHooks<S>,
    registry: Registry | null = null,
  ) {
    if (!Number.isFinite(deadlineMs) || deadlineMs < 0) throw new RangeError(`helloDeadlineMs must be >= 0, got ${deadlineMs}`);
    this.sockets = new Array<S | null>(INITIAL_CAPACITY).fill(null);
    this.deadlines = new Float64Array(INITIAL_CAPACITY);
    this.mask = INITIAL_CAPACITY - 1;
    this.closed = registry
      ? new HotCounter(registry, 'mmo_session_hello_timeouts_total', 'Sockets closed (4202) because they upgraded but sent no valid Hello or Resume within sessions.helloDeadlineMs.')
      : null;
  }

  /** A socket just opened: it must say Hello by now + deadlineMs. */
  add(ws: S, now: number): void {
    if (this.deadlineMs === 0) return;
    if (this.size > this.mask) this.grow();
    const i = (this.head + this.size) & this.mask;
    this.sockets[i] = ws;
    this.deadlines[i] = now + this.deadlineMs;
    this.size++;
  }

  /** Closes every socket past its deadline that still owes its Hello; returns how many it closed. */
  sweep(now: number): number {
    let n = 0;
    while (this.size > 0) {
      const i = this.head;
      if (this.deadlines[i]! > now) break;
      const ws = this.sockets[i]!;
      this.sockets[i] = null;
      this.head = (i + 1) & this.mask;
      this.size--;
      if (this.hooks.isPending(ws)) {
        n++;
        this.hooks.expire(ws);
      }
    }
    if (n > 0) {
      this.closedCount += n;
      this.closed?.inc(0, n);
    }
    return n;
  }

  /** Sockets tracked (opened within the last deadline, answered or not). */
  get tracked(): number {
    return this.size;
  }

  /** Sockets closed for missing their deadline, since start. */
  get timeouts(): number {
    return this.closedCount;
  }

  /** Doubles the ring, keeping the order (cold: on add, when full). */
  private grow(): void {
    const cap = this.mask + 1;
    const sockets = new Array<S | null>(cap * 2).fill(null);
    const deadlines = new Float64Array(cap * 2);
    for (let k = 0; k < this.size; k++) {
      const j = (this.head + k) & this.mask;
      sockets[k] = this.sockets[j]!;
      deadlines[k] = this.deadlines[j]!;
    }
    this.sockets = sockets;
    this.deadlines = deadlines;
    this.mask = cap * 2 - 1;
    this.head = 0;
  }
}
