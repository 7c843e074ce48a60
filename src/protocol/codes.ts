// Numeric codes of the wire protocol. Stable: logs, metrics and clients in the
// field switch on these numbers. Add codes inside their range; never renumber.

/**
 * Why the verifier rejected a buffer (0 = valid). Not sent on the wire (the
 * client gets close code 4000 `malformed`); used in logs and metrics labels.
 *
 *   1-19   the envelope: arguments, total size, root offset
 *   20-39  tables and vtables
 *   40-59  offsets and vectors
 *   60-79  strings
 *   80-99  values: unions, enums, floats
 */
export const VerifyError = {
  ok: 0,
  /** offset/length do not describe a range inside the given Uint8Array. */
  badRange: 1,
  /** Shorter than the smallest possible message (root offset + table + vtable: 12 bytes). */
  tooSmall: 2,
  /** Longer than limits.maxBytes. */
  tooLarge: 3,
  /** The root offset does not point at a table inside the buffer. */
  rootOffset: 4,

  /** A table start is not 4-byte aligned. */
  tableAlign: 20,
  /** A table start, or its inline size, lies outside the buffer. */
  tableBounds: 21,
  /** The vtable lies outside the buffer. */
  vtableBounds: 22,
  /** The vtable is not 2-byte aligned. */
  vtableAlign: 23,
  /** The vtable size is odd, below 4 or above 32767, or the table's inline size is below 4. */
  vtableSize: 24,
  /** A field's offset in the vtable points outside its table's inline bytes. */
  fieldBounds: 25,
  /** A field is not aligned for its type. */
  fieldAlign: 26,
  /** A field marked (required) in the schema, or the message body, is absent. */
  requiredMissing: 27,
  /** Tables nested deeper than limits.maxDepth. */
  tooDeep: 28,
  /** More table visits or string bytes than the buffer could hold without sharing (the linear-time bound). */
  tooComplex: 29,

  /** An offset to a table, string or vector is zero, negative or points outside the buffer. */
  offsetBounds: 40,
  /** A vector or string does not start 4-byte aligned, or its elements are misaligned. */
  vectorAlign: 41,
  /** A vector's length times its element size runs past the end of the buffer. */
  vectorBounds: 42,
  /** A vector is longer than its configured limit. */
  vectorTooLong: 43,

  /** A string's bytes run past the end of the buffer. */
  stringBounds: 60,
  /** A string is not followed by its zero terminator. */
  stringUnterminated: 61,
  /** A string is not valid UTF-8 (overlong, surrogate, above U+10FFFF, truncated sequence, stray continuation byte). */
  stringUtf8: 62,
  /** A string is longer (in UTF-8 bytes) than its configured limit. */
  stringTooLong: 63,

  /** A union type tag that is not a member of the union. */
  unknownUnionTag: 80,
  /** A union type without a value, or a value with type NONE. */
  unionMismatch: 81,
  /** An enum field holds a value the schema does not define. */
  enumRange: 82,
  /** A float or double field is NaN or infinite. */
  nonFinite: 83,
} as const;

export type VerifyErrorName = keyof typeof VerifyError;
export type VerifyErrorCode = (typeof VerifyError)[VerifyErrorName];

const verifyErrorNames: string[] = [];
for (const [name, code] of Object.entries(VerifyError)) verifyErrorNames[code] = name;

/** The name of a VerifyError code for logs and metric labels ('unknown(<n>)' for a number not in the table). */
export function describeVerifyError(code: number): string {
  return verifyErrorNames[code] ?? `unknown(${code})`;
}

/**
 * Error.code: a non-fatal refusal the server sends in an Error message (the
 * connection stays open). uint16 on the wire.
 *
 *   1-99     general: rate limits, permissions, state
 *   100-199  targeting and combat
 *   200-299  chat
 *   300-399  interaction, items
 *   1000+    reserved for game-specific codes of a studio's own build
 */
export const ErrorCode = {
  /** Too many messages of this kind; the input was dropped. */
  rateLimited: 1,
  /** Not allowed in the player's current state or for this account. */
  notAllowed: 2,
  /** A structurally valid input with values the server refuses (e.g. out-of-range enum for this state). */
  invalidInput: 3,
  /** An input that arrived before the player entered a zone. */
  notInWorld: 4,

  /** The target entity does not exist or is not visible to the player. */
  unknownTarget: 100,
  /** The target is too far away. */
  outOfRange: 101,
  /** The action is on cooldown. */
  cooldown: 102,
  /** The target is dead. */
  targetDead: 103,
  /** The player is dead. */
  selfDead: 104,
  /** The target cannot be attacked (friendly, invulnerable...). */
  invalidTarget: 105,

  /** The whisper recipient is not online. */
  whisperTargetNotFound: 200,
  /** The player is muted. */
  muted: 201,
  /** The channel cannot be sent to (e.g. System, or Global when disabled). */
  channelNotAllowed: 202,
  /** The text is empty after sanitising, or longer than the chat limit. */
  badText: 203,

  /** The target cannot be interacted with in that way. */
  notInteractable: 300,
  /** The inventory has no room for the item. */
  inventoryFull: 301,
} as const;

export type ErrorCodeName = keyof typeof ErrorCode;
export type ErrorCodeValue = (typeof ErrorCode)[ErrorCodeName];

/**
 * MoveRejected.reason: why the server refused a Move and snapped the player
 * back. ubyte on the wire.
 *
 *   1-63     physics: the move itself is impossible
 *   64-127   state: the player may not move now
 *   128-255  reserved for game-specific reasons
 */
export const MoveReject = {
  /** Faster than the player's speed allows since the last accepted move. */
  speed: 1,
  /** A jump far beyond any possible speed (treated as a teleport hack or desync). */
  teleport: 2,
  /** The path crosses a blocked cell. */
  obstacle: 3,
  /** Outside the zone's bounds. */
  outOfBounds: 4,
  /** A non-finite or otherwise unusable coordinate. */
  invalid: 5,

  /** The player is dead. */
  dead: 64,
  /** The player is rooted, stunned, or in a zone transition. */
  immobile: 65,
} as const;

export type MoveRejectName = keyof typeof MoveReject;
export type MoveRejectValue = (typeof MoveReject)[MoveRejectName];

function inverse(table: Record<string, number>): (code: number) => string {
  const names: Record<number, string> = {};
  for (const [k, v] of Object.entries(table)) names[v] = k;
  return (code) => names[code] ?? `unknown(${code})`;
}

/** The name of an ErrorCode for logs ('unknown(<n>)' otherwise). */
export const describeErrorCode: (code: number) => string = inverse(ErrorCode);
/** The name of a MoveReject reason for logs ('unknown(<n>)' otherwise). */
export const describeMoveReject: (code: number) => string = inverse(MoveReject);
