// Errors the world layer throws. Only setup code throws (zone definitions,
// checkpoint restore); the tick and the player API return status codes.

export const WorldErrorCode = {
  /** A zone definition (or a set of them) is unusable; `issues` lists every problem. */
  zoneDef: 'MMO_ERR_ZONE_DEF',
  /** A checkpoint buffer is truncated, corrupt, or from another zone or format version. */
  checkpoint: 'MMO_ERR_CHECKPOINT',
  /** A content module failed to load or its definitions are invalid; `issues` lists every problem. */
  content: 'MMO_ERR_CONTENT',
  /** Content hooks threw world.contentMaxConsecutiveErrors times in a row: the zone worker crashes on purpose. */
  contentHook: 'MMO_ERR_CONTENT_HOOK',
} as const;

export type WorldErrorCodeValue = (typeof WorldErrorCode)[keyof typeof WorldErrorCode];

export class WorldError extends Error {
  constructor(
    readonly code: WorldErrorCodeValue,
    message: string,
    readonly issues: readonly string[] = [],
  ) {
    super(issues.length === 0 ? message : `${message}:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.name = 'WorldError';
  }
}
