// The two halves of the session layer and what each asks of the other.
//
//   SessionService (service.ts, main thread)      cold: logins, resume checks, takeover, zombie
//        │  CorePort ▲ ControlPort                timers, persistence, portals' targets, whispers
//        ▼           │
//   SessionCore (core.ts, a session's owner)       hot: the sockets, inputs, acks, pings, staging,
//                                                  frames, replay, the portal fence, migration
//
// With one gateway thread both halves run on the main thread and call each
// other directly. With several, each gateway thread runs a SessionCore for
// the sessions whose socket it serves and the calls cross the rings as link
// records (link-records.ts; RemoteCore and RemoteControl encode them, the
// other side decodes into these same methods). A call never returns an
// answer: what comes back is another call, so both wirings behave alike.

import type { Socket, SocketHandler } from '../net/gateway.js';
import type { CloseReasonIndex } from '../net/stats.js';
import type { OwnedIdentity } from './owned.js';

/** What the service asks of a session's owner. */
export interface CorePort {
  /**
   * A new session on connection `conn` (a socket this owner serves): joined
   * to `zone` with `join` (a ToZone.join payload), Welcome when the zone
   * confirms. `token` is its resume token.
   */
  login(conn: number, id: number, identity: OwnedIdentity, zone: number, token: Uint8Array, join: Uint8Array, joinOffset: number, joinLength: number): void;
  /** `conn` resumes session `id` (owned here), which has seen frames up to `lastSeq`: its missed frames, or a snapshot. */
  resume(conn: number, id: number, lastSeq: number, token: Uint8Array): void;
  /** `conn` takes over session `id` (owned here) for a second login: fresh numbering, Welcome, snapshot. */
  takeover(conn: number, id: number, token: Uint8Array): void;
  /** Hands session `id` to owner `to`: the zone is told, then the session is exported (ControlPort.exported). */
  migrate(id: number, to: number): void;
  /** Session `id` is being handed to this owner: its zone's records that arrive before it are kept. */
  expect(id: number): void;
  /** A move to this owner was called off (the old owner's thread died): forget what was kept for `id`, touch nothing else. */
  cancel(id: number): void;
  /** Adopts an exported session (link-records.ts SessionExport): the record payloads as exported, in order. */
  adopt(type: number, id: number, data: Uint8Array, offset: number, length: number): void;
  /**
   * Ends session `id`: its socket, if any, is told `text` and closed with
   * `code` (code 0: no socket to close), and it leaves its zone (the zone's
   * `left` answer reaches the service).
   */
  end(id: number, code: number, reason: CloseReasonIndex, text: string): void;
  /** Stages a finished ServerMessage for session `id` (whispers, level-ups, errors the service decides). */
  stage(id: number, bytes: Uint8Array, offset: number, length: number, unsequenced: boolean): void;
  /** Writes a ToZone record for session `id` to its zone (after every input the owner sent it). */
  toZone(id: number, type: number, bytes: Uint8Array | null, offset: number, length: number): void;
  /** Portal: the player's next zone, its arrival point and its join payload. */
  moveZone(id: number, zone: number, x: number, y: number, join: Uint8Array, offset: number, length: number): void;
  /** The zone restarted: session `id` rejoins it with `join`. */
  rejoin(id: number, join: Uint8Array, offset: number, length: number): void;
  /** Every rejoin for `zone` the service sent before this is written: answer ControlPort.rejoined(zone). */
  rejoinBarrier(zone: number): void;
  mute(id: number, on: boolean): void;
  /** `zone` restarted or went down: fences it was sent will never be answered. */
  fencesLost(zone: number): void;
  /** Cluster: a record of another node's zone for session `id`, relayed by the main thread (the owner reads it as its zone's). */
  zoneRecord(zone: number, type: number, id: number, data: Uint8Array, offset: number, length: number): void;
}

/** What a session's owner tells the service; the connection calls are the gateway's SocketHandler (drain excepted). */
export interface ControlPort extends Pick<SocketHandler, 'open' | 'close'> {
  /** A message from a connection with no session (Hello, Resume): bytes valid during the call only. */
  message(ws: Socket, data: Uint8Array, offset: number, length: number, isBinary: boolean): void;
  /** A zone's record for a session that the service handles (joined, joinFailed, left, state, handoff, writeThrough). */
  zoneRecord(zone: number, type: number, id: number, data: Uint8Array, offset: number, length: number): void;
  /** A verified ClientMessage holding a whisper, after the owner's rate limits. */
  whisper(id: number, data: Uint8Array, offset: number, length: number): void;
  /** The client spoke on its resumed connection: it holds the Welcome's token. */
  tokenConfirmed(id: number): void;
  /** A piece of an exported session (SessionExport record type and payload), in order. */
  exported(type: number, id: number, data: Uint8Array, offset: number, length: number): void;
  /** Answer to CorePort.rejoinBarrier. */
  rejoined(zone: number): void;
  /** Cluster: a ToZone record for another node's zone, which the main thread sends on (the owner's ring to it, relayed). */
  remoteZone(zone: number, type: number, id: number, data: Uint8Array, offset: number, length: number): void;
}

/** An owner's way to its zones: its own ring to each (the zone set's rings on the main thread). */
export interface ZoneLinks {
  /** Writes a ToZone record; false when it cannot be written now (ring full, zone down). */
  send(zone: number, type: number, session: number, src: Uint8Array | null, offset: number, length: number): boolean;
  /** Whether the zone is up now (may be read late). */
  isUp(zone: number): boolean;
  /** Publishes what was written: called before frames that acknowledge inputs go out. */
  commit(): void;
}

/** A zone's id and name as clients see them (Welcome, ZoneChanged). */
export interface ZoneName {
  readonly id: number;
  readonly name: string;
}
