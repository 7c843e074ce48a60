// WebSocket close codes the server sends, and what a client should do about
// each. Stable: clients in the field switch on these numbers.
//
//   1000-1015  RFC 6455 codes
//   4000-4099  the client broke the protocol: do not retry with the same bytes
//   4100-4199  session lifecycle: resume is not possible, log in again
//   4200-4299  admission and rate limits: retry after the advertised delay
//   4300-4399  server state: retry (resume) after a delay
//   4900-4999  sent by clients, never by the server
//
// The reason text sent with a close is at most 123 bytes (RFC 6455).

export const CloseCode = {
  /** Normal closure. */
  normal: 1000,
  /** The server is shutting down; reconnect later (the session may be resumed if it outlives the restart). */
  goingAway: 1001,
  /** A frame exceeded net.maxPayloadLength. uWS drops such a socket without a close frame, so clients observe 1006. */
  messageTooBig: 1009,

  /** A frame that is not a binary FlatBuffers ClientMessage, or failed verification. */
  malformed: 4000,
  /** A text frame: the protocol is binary only. */
  textFrame: 4001,
  /** The protocol version in hello is not supported by this server. */
  versionMismatch: 4002,
  /** A message that is not allowed in the session's current state (e.g. move before hello). */
  unexpectedMessage: 4003,
  /** The client exceeded its message rate by too much for too long. */
  flood: 4004,

  /** Another login to the same account took this session over. */
  takenOver: 4100,
  /** Resume refused: unknown or expired session, or wrong token. Log in again. */
  resumeRefused: 4101,
  /** Authentication failed (bad, expired or forged token). */
  authFailed: 4102,
  /** The session ended by the server (kick, ban, logout). */
  kicked: 4103,

  /** Too many new connections right now; retry after the delay in the reason. */
  tryAgainLater: 4200,
  /** The socket could not keep up with its outbound traffic (backlog past the hard limit). */
  slowConsumer: 4201,
  /** The socket upgraded but sent no valid Hello or Resume within sessions.helloDeadlineMs; reconnect and say Hello at once. */
  helloTimeout: 4202,

  /** The player's zone is down (after repeated crashes, or in a cluster: the node running it is gone); the reason says which; retry later. */
  zoneDown: 4300,
  /** Cluster: the session lives on another node. Reason `resume-at=<ws url>`: send the same Resume (same token, same last seq) there. */
  movedTo: 4301,

  /** Sent by a client (MmoClient.drop()): the link is dropped, not the session; it will be resumed. Anything but 1000 keeps the session. */
  clientDropped: 4900,
} as const;

export type CloseCodeName = keyof typeof CloseCode;
export type CloseCodeValue = (typeof CloseCode)[CloseCodeName];

/** Whether a client should try to resume/reconnect after this close code. */
export function isRetryable(code: number): boolean {
  if (code >= 4000 && code < 4200) return false;
  return code !== CloseCode.messageTooBig;
}
