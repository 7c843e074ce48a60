// The last warning and error lines of this process's root logger (level >= 40),
// kept in memory for the operations dashboard's log tail (/admin/api/logs).
// createLogger adds it as a second pino stream; nothing else writes to it.
// Lines are kept as pino serialized them (JSON text); the ring holds at most
// `capacity` of them and drops the oldest.

/** pino's numeric level for warn: lines at or above it are kept. */
export const TAIL_MIN_LEVEL = 40;

export class LogTail {
  private lines: string[] = [];
  private head = 0;
  private count = 0;
  /** Lines written since start (the dashboard shows how many it missed). */
  total = 0;

  constructor(private cap: number) {}

  get capacity(): number {
    return this.cap;
  }

  /** pino DestinationStream: one serialized line per call. */
  write(line: string): void {
    const s = line.endsWith('\n') ? line.slice(0, -1) : line;
    if (this.count < this.cap) {
      this.lines[(this.head + this.count) % this.cap] = s;
      this.count++;
    } else {
      this.lines[this.head] = s;
      this.head = (this.head + 1) % this.cap;
    }
    this.total++;
  }

  /** Oldest first. Cold path: allocates. */
  snapshot(): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.count; i++) out.push(this.lines[(this.head + i) % this.cap]!);
    return out;
  }

  /** Keeps the newest `capacity` lines (admin.logLines). */
  resize(capacity: number): void {
    if (!(Number.isInteger(capacity) && capacity > 0)) throw new RangeError(`log tail capacity must be a positive integer, got ${capacity}`);
    const kept = this.snapshot().slice(-capacity);
    this.cap = capacity;
    this.lines = kept;
    this.head = 0;
    this.count = kept.length;
  }
}

/** The process's tail; every root logger made by createLogger writes its warnings here. */
export const warningTail = new LogTail(200);
