// Errors of the pool layer: only the constructor throws (bad options); alloc
// and free report exhaustion and misuse as a status and a counter.

export class PoolError extends Error {
  readonly code = 'MMO_ERR_POOL_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'PoolError';
  }
}
