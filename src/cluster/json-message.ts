// The cluster's JSON control messages (heartbeats, whispers, resume lookups,
// login takeovers): one encoder, and one decoder that never throws, so a bad
// or hostile peer's message is dropped by the caller's checks, not raised.
// Cold path: these are a few per login, resume or heartbeat, not per record
// (records travel in the binary batches of wire.ts).

/** What the question-and-answer helpers need of the NATS link. */
export interface Publisher {
  readonly up: boolean;
  publish(subject: string, data: Uint8Array): void;
}

/** A node id as a peer may name itself in a message: safe to put in a reply subject. */
export const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/;

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeJson(message: unknown): Uint8Array {
  return enc.encode(JSON.stringify(message));
}

/** The object a message holds, or null when it is not JSON or not an object. */
export function decodeJson(data: Uint8Array): Record<string, unknown> | null {
  let o: unknown;
  try {
    o = JSON.parse(dec.decode(data));
  } catch {
    return null;
  }
  return o !== null && typeof o === 'object' ? (o as Record<string, unknown>) : null;
}
