// The client SDK (package subpath `mmo-server/client`). Runs in Node (with the
// `ws` package) and in browsers (native WebSocket): nothing reachable from
// here imports a node: module at top level.

export { connect, MmoClient } from './client.js';
export { SAVED_SESSION_VERSION, type SavedSession } from './saved.js';
export { AuthError, authBaseFromWsUrl, guest, login, readToken, register, type AuthGrant, type TokenPayload } from './auth.js';
export type * from './types.js';
export { fullJitterDelay, retryHintFromHeaders, retryHintFromReason } from './backoff.js';
export { CloseCode, isRetryable } from '../protocol/close-codes.js';
export { ErrorCode, MoveReject, describeErrorCode, describeMoveReject } from '../protocol/codes.js';
export { PROTOCOL_VERSION } from '../protocol/version.js';
export { ChatChannel } from '../protocol/generated/mmo/chat-channel.js';
export { EntityKind } from '../protocol/generated/mmo/entity-kind.js';
export { InteractAction } from '../protocol/generated/mmo/interact-action.js';
