// How long an attack waits, after its deadline, for the server to close a
// socket before counting it as left open: uWS's HTTP idle timeout is 10 s and
// its WebSocket idle timeout net.idleTimeout (16 s by default), both checked
// every 4 s; measured 11.6 s and 15.6 s on this machine.
export const GRACE_MS = 22_000;
