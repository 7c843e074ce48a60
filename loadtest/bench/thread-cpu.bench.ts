// Cost of reading a thread's CPU time, which a zone may do once per tick
// (handle.publish()). Baselines in the same run: process.cpuUsage(), Node's
// process-wide figure, and performance.eventLoopUtilization(), which the
// fallback estimate calls.
import { report, measureSync, heapBytesPerOp } from './harness.js';
import { nativeStatus, threadCpuInto, threadCpuSeconds } from '../../native-bindings/index.js';
import { ThreadRegistry, setupThread } from '../../native-bindings/threads.js';

if (!nativeStatus.available) {
  process.stderr.write(`thread-cpu bench needs the native addon: ${nativeStatus.reason}\n`);
  process.exit(1);
}

// A typed-array sink: a `let` number would box every sum and count as the callee's garbage.
const sink = new Float64Array(2);
const cases: Array<[string, () => void]> = [
  ['thread_cpu.native_threadCpuSeconds', () => void (sink[0] = threadCpuSeconds())],
  ['thread_cpu.native_threadCpuInto', () => void threadCpuInto(sink, 1)],
  ['thread_cpu.baseline_process_cpuUsage', () => void (sink[0] = process.cpuUsage().user)],
  ['thread_cpu.fallback_eventLoopUtilization', () => void (sink[0] = performance.eventLoopUtilization().active)],
];
const reg = ThreadRegistry.create({ pinning: 'off', cpuPublishMs: 60_000 });
const handle = setupThread({ role: 'bench', shared: reg.shared });
cases.push(['thread_cpu.handle_publish', () => handle.publish()]);

for (const [name, fn] of cases) {
  const { opsPerSec } = measureSync(fn, { rounds: 7, roundMs: 200 });
  // 20k ops stay under one scavenge, so short-lived garbage shows as heap growth.
  report({ name, opsPerSec, nsPerOp: 1e9 / opsPerSec, heapBytesPerOp: heapBytesPerOp(fn, 20_000) });
}
handle.release();
