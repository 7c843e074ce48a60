// Zone worker entry (worker_threads). Imports only the ring, protocol, world
// and log layers (through runtime.ts), and the thread helper that names and
// places it (zone-N in top -H and /proc).

import { parentPort, workerData } from 'node:worker_threads';
import { setupThread, type ThreadsShared } from '../../native-bindings/threads.js';
import { createWorkerLogger } from '../log/logger.js';
import { ZoneRuntime, type ZoneWorkerData } from './runtime.js';
import type { Content } from '../world/index.js';
import { AdminResponder } from './admin-view.js';

export interface WorkerInit extends ZoneWorkerData {
  logLevel: string;
  threads: ThreadsShared | null;
}

const data = workerData as WorkerInit;
const thread = data.threads ? setupThread({ role: 'zone', index: data.index, shared: data.threads }) : null;
const log = createWorkerLogger(data.logLevel, { zone: data.def.id, thread: `zone-${data.index}` });
// The content's hooks: this thread imports the module itself (functions do not cross threads).
const content = data.def.content?.module ? ((await import(data.def.content.module)) as { default?: Content }).default : undefined;
const runtime = new ZoneRuntime(data, log, undefined, undefined, content?.hooks);
if (thread) setInterval(() => thread.publish(), data.threads!.publishMs).unref();
// The dashboard's world viewer (admin-view.ts): answered between ticks, rate-bounded there.
const admin = new AdminResponder(() => runtime.world, data.def.id);
parentPort?.on('message', (m: unknown) => {
  const a = admin.answer(m);
  if (a) parentPort!.postMessage(a.answer, a.transfer);
});
runtime.start();
