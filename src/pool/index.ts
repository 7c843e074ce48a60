// Paged buffer pool over SharedArrayBuffers (see pool.ts).
export { BufferPool, type PoolOptions, type PoolStats } from './pool.js';
export { PoolError } from './errors.js';
