// Burns CPU on the calling thread until ITS OWN clock says cpuMs went by, so
// a test gets the same CPU whatever else the shared machine runs (a
// wall-clock loop gets a fraction of a core under load). Bounded by
// maxWallMs. With the addon switched off the clock is the event-loop
// estimate, which advances with wall time.
import { threadCpuSeconds } from '../../native-bindings/index.js';

export function burnCpu(cpuMs: number, maxWallMs = 10_000): number {
  const start = threadCpuSeconds();
  const deadline = performance.now() + maxWallMs;
  let x = 0;
  while (threadCpuSeconds() - start < cpuMs / 1000 && performance.now() < deadline) {
    for (let i = 0; i < 10_000; i++) x += Math.sqrt(x + i);
  }
  return x;
}
