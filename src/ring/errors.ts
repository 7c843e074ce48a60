// Errors of the ring layer. Thrown only by setup code (creating, wrapping,
// attaching); hot paths return a status instead.

export const RingErrorCode = {
  /** Capacity not a power of two in [MIN_CAPACITY, MAX_CAPACITY], or a bad producer count. */
  capacity: 'MMO_ERR_RING_CAPACITY',
  /** The memory is not a ring of the expected kind and version, or is too small. */
  layout: 'MMO_ERR_RING_LAYOUT',
  /** Producer id out of range, already attached, or its last incarnation not recovered. */
  producer: 'MMO_ERR_RING_PRODUCER',
  /** detach() with reservations that were never committed. */
  pending: 'MMO_ERR_RING_PENDING',
  /** A blocking wait was asked for where it is not allowed (the main thread). */
  wait: 'MMO_ERR_RING_WAIT',
} as const;
export type RingErrorCode = (typeof RingErrorCode)[keyof typeof RingErrorCode];

export class RingError extends Error {
  constructor(
    readonly code: RingErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'RingError';
  }
}
