// What an attack module is, what it is handed, and what it reports.
//
// Every attack is bounded twice: by its deadline (the scenario's attack
// window) and by a socket/request count of its own; it targets only
// 127.0.0.0/8 (AttackContext.host is checked) and spreads its sockets over
// the source addresses 127.0.0.2-127.0.0.250 (honest bots use 127.0.1.x).

/** How one attacker socket or request ended, from the attacker's side. */
export type Outcome =
  /** The server answered the HTTP request with this status (and closed or kept the socket). */
  | `http:${number}`
  /** The server closed the WebSocket with this close code. */
  | `ws:${number}`
  /** The server closed the TCP connection without an HTTP answer or a close frame. */
  | 'tcp:fin'
  | 'tcp:reset'
  /** The connection was refused (the listener's backlog, a port limit). */
  | 'tcp:refused'
  /** Dropped by the attacker on purpose as part of the attack (a link loss that leaves a zombie session). */
  | 'dropped-by-attacker'
  /** Still open when the attack ended: the attacker closed it (the server never did). */
  | 'open-at-end';

export interface AttackContext {
  /** 127.x.y.z of the server. */
  host: string;
  port: number;
  /** ws path, e.g. /ws. */
  wsPath: string;
  /** performance.now() after which the attack must stop starting work. */
  deadline: number;
  /** How hard: 1 is the documented default for the combined 60 s run. */
  intensity: number;
  /** A seed for the attack's choices. */
  seed: number;
  log(line: string): void;
}

export interface AttackReport {
  name: string;
  /** Sockets (or requests) the attack opened. */
  sockets: number;
  /** Outcome -> count. `open-at-end` must be 0 for a pass. */
  outcomes: Record<string, number>;
  /** Attack-specific figures (messages sent, guesses made...). */
  sent: Record<string, number>;
}

export interface Attack {
  name: string;
  description: string;
  /** Runs until ctx.deadline (and its own caps); resolves with the report once every socket it opened is accounted for. */
  run(ctx: AttackContext): Promise<AttackReport>;
}

/** Source addresses for attackers: 127.0.0.2 .. 127.0.0.250, round robin. */
export class Sources {
  private i = 0;
  next(): string {
    const a = `127.0.0.${2 + (this.i % 249)}`;
    this.i++;
    return a;
  }
}

export function tally(outcomes: Record<string, number>, o: Outcome): void {
  outcomes[o] = (outcomes[o] ?? 0) + 1;
}

/** True for 127.0.0.0/8 (and localhost). The attack suite refuses anything else. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** A small seeded generator (xorshift32) for the attacks' choices. */
export class Rand {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  u32(): number {
    let x = this.s;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  int(n: number): number {
    return this.u32() % n;
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
}
