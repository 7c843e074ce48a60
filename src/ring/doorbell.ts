// Doorbell: one Int32 in shared memory through which the producers of one or
// more rings wake their common consumer (a zone worker waits on one doorbell
// for its inbound SPSC ring and its MPSC mailbox; the gateway watches one per
// zone for the outbound ring).
//
// Protocol (coalesced wake-ups):
//   consumer: arm()            bell = ARMED ("I may sleep: wake me")
//             re-check every ring it serves; if all are empty, sleep
//             (worker: wait(timeout); main thread: MainThreadWaker)
//   producer: publish (commit), then ring():
//             if bell is ARMED and exchange(bell, RUNG) saw ARMED -> notify
// A producer that publishes while the bell is RUNG pays one load, no RMW and
// no notify, so a busy consumer costs its producers nothing. The re-check
// after arm() closes the race with a producer that published just before.
//
// Who writes: the consumer stores ARMED, producers exchange to RUNG. Read
// late: a producer that reads RUNG while the consumer is arming either
// published before the consumer's re-check (which then sees the record) or
// reads ARMED on its next publish.

import { isMainThread } from 'node:worker_threads';
import { BELL_ARMED, BELL_RUNG, DOORBELL_BYTES, kBell, kBellNotifies } from './layout.js';
import { RingError, RingErrorCode } from './errors.js';

export class Doorbell {
  /** Bytes of shared memory a doorbell needs (one cache line). */
  static bytesFor(): number {
    return DOORBELL_BYTES;
  }

  /** A doorbell in its own SharedArrayBuffer. Cold path. */
  static create(): Doorbell {
    return new Doorbell(new SharedArrayBuffer(DOORBELL_BYTES), 0);
  }

  readonly buffer: SharedArrayBuffer;
  readonly byteOffset: number;
  /** The line's words; index kBell (0) is the bell. For waiters built on Atomics directly. */
  readonly word: Int32Array;

  /** Wraps a doorbell at `byteOffset` (64-byte aligned) of `sab`; zeroed memory is a valid, armed bell. */
  constructor(sab: SharedArrayBuffer, byteOffset = 0) {
    if (byteOffset % 64 !== 0 || byteOffset + DOORBELL_BYTES > sab.byteLength) {
      throw new RingError(RingErrorCode.layout, `doorbell needs ${DOORBELL_BYTES} bytes at a 64-byte aligned offset, got ${byteOffset}`);
    }
    this.buffer = sab;
    this.byteOffset = byteOffset;
    this.word = new Int32Array(sab, byteOffset, DOORBELL_BYTES / 4);
  }

  /**
   * Producer, after publishing: notifies the consumer if it armed the bell.
   * Returns true when this call sent the notification. Allocation-free.
   */
  ring(): boolean {
    const w = this.word;
    if (Atomics.load(w, kBell) !== BELL_ARMED) return false;
    if (Atomics.exchange(w, kBell, BELL_RUNG) !== BELL_ARMED) return false;
    Atomics.add(w, kBellNotifies, 1);
    Atomics.notify(w, kBell);
    return true;
  }

  /** Consumer: declares it may sleep. Re-check the rings after this, before waiting. */
  arm(): void {
    Atomics.store(this.word, kBell, BELL_ARMED);
  }

  /** True once a producer rang since the last arm(). */
  isRung(): boolean {
    return Atomics.load(this.word, kBell) === BELL_RUNG;
  }

  /**
   * Worker consumer only: blocks until a producer rings or `timeoutMs`
   * passes (a zone passes the time to its next tick). Returns false on
   * timeout. Returns at once if rung since arm(). Throws on the main thread,
   * which must never block: use MainThreadWaker there.
   */
  wait(timeoutMs: number): boolean {
    if (isMainThread) throw new RingError(RingErrorCode.wait, 'Doorbell.wait() would block the main thread; use MainThreadWaker');
    return Atomics.wait(this.word, kBell, BELL_ARMED, timeoutMs) !== 'timed-out';
  }

  /** Notifications sent so far (a metric; wraps at 2^32). */
  notifies(): number {
    return Atomics.load(this.word, kBellNotifies) >>> 0;
  }
}

// Atomics.waitAsync is in ES2024's lib; the project compiles against ES2023.
type WaitAsyncResult = { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, t?: number): WaitAsyncResult }).waitAsync;

export interface MainThreadWakerOptions {
  /**
   * Upper bound on one sleep, ms. Default: none. The protocol loses no
   * wake-up, and each timed wait leaves a deferred V8 task behind (measured: a
   * 1 s timeout cost 3% of a core for a while after 1,500 wake-ups).
   */
  timeoutMs?: number;
  /**
   * Called with what onReadable threw; the waker keeps running. Without it,
   * the waker stops and the error is rethrown (an uncaught exception).
   */
  onError?: (err: unknown) => void;
}

/**
 * Main-thread consumer of a doorbell: calls `onReadable` whenever a producer
 * rang, without ever blocking the event loop. `onReadable` must drain every
 * ring behind the bell (it may also be called with nothing to read). One bell
 * may serve many rings: the gateway can share one across every zone's
 * outbound ring and run a single waker.
 *
 * Loop: arm, onReadable() (drains, and re-checks after arming), then
 * Atomics.waitAsync on the bell. If a producer rang meanwhile, the next round
 * is scheduled with setImmediate so I/O callbacks run between rounds under
 * load. Allocates one promise per sleep (wake-ups are coalesced, so per burst,
 * not per record).
 *
 * Chosen by loadtest/bench/wake.bench.ts (`npm run bench -- --json wake`,
 * five runs on 2 cores shared with other builds, latency from the producer's
 * commit to the main-thread handler, producer idle 0.2-2 ms between records):
 *   setImmediate polling   p50  7-48 us   p99 0.16-20 ms  idle CPU 35-100 %
 *   1 ms timer polling     p50 560-615 us p99 1.2-40 ms   idle CPU 4-6 %
 *   Atomics.waitAsync      p50 43-48 us   p99 0.10-1.6 ms idle CPU 0.03 %   <- this
 *   coalesced postMessage  p50 49-69 us   p99 0.13-1.4 ms idle CPU 0.03 %
 * waitAsync is the fastest of those that do not burn a core, and needs no
 * message port on the producer side.
 *
 * Atomics.waitAsync does not keep Node's event loop alive
 * (nodejs/node#61941): the server's sockets do; tests and tools hold a timer.
 */
export class MainThreadWaker {
  private running = false;
  private readonly timeoutMs: number;
  private readonly onError: ((err: unknown) => void) | null;
  private readonly round = (): void => this.cycle();

  constructor(
    private readonly bell: Doorbell,
    private readonly onReadable: () => void,
    opts: MainThreadWakerOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? Infinity;
    this.onError = opts.onError ?? null;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    setImmediate(this.round);
  }

  /** Stops after the current round; a pending wait resolves into a no-op. */
  stop(): void {
    this.running = false;
  }

  private cycle(): void {
    if (!this.running) return;
    this.bell.arm();
    try {
      this.onReadable();
    } catch (err) {
      if (this.onError === null) {
        this.running = false;
        throw err;
      }
      this.onError(err);
      // onReadable did not finish draining: go round again instead of sleeping.
      if (this.running) setImmediate(this.round);
      return;
    }
    if (!this.running) return;
    const r = waitAsync(this.bell.word, kBell, BELL_ARMED, this.timeoutMs);
    if (r.async) void r.value.then(this.round);
    else setImmediate(this.round);
  }
}

/** Starts a MainThreadWaker on `bell` and returns it (call stop() to end). */
export function watch(bell: Doorbell, onReadable: () => void, opts?: MainThreadWakerOptions): MainThreadWaker {
  const w = new MainThreadWaker(bell, onReadable, opts);
  w.start();
  return w;
}
