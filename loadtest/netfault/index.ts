// Fault injection for tests and scenarios: a userland TCP proxy on 127.0.0.0/8.
export { NetFaultProxy, NetFaultError, mulberry32, isLoopback } from './proxy.js';
export type { ProxyOptions, ChaosOptions, ConnInfo, ConnSelector, CutMode, FaultEvent, FaultKind, LinkFaults, ProxyStats, Side } from './proxy.js';
