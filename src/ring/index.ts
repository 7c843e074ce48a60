// Shared-memory transport between the gateway thread and the zone workers.
// Layouts: layout.ts; contracts and recovery: README.md in this folder.
export { SpscRing, type RecordHandler, type SpscStats } from './spsc.js';
export { MpscRing, MpscProducer, type MpscOptions, type MpscStats, type MpscProducerStats } from './mpsc.js';
export { Doorbell, MainThreadWaker, watch, type MainThreadWakerOptions } from './doorbell.js';
export { RingError, RingErrorCode } from './errors.js';
export { copyBytes } from './copy.js';
export { SpillingProducer, type RecordSink } from './spill.js';
export { BELL_ARMED, BELL_RUNG, recordBytes, REC_HEADER, MIN_CAPACITY, MAX_CAPACITY } from './layout.js';
