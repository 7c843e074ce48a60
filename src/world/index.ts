// The world layer: pure, deterministic, single-threaded game logic of one
// zone. No I/O, no threads, no encoding: the zone worker (src/zone) drives it.

export { World, MOVING_HOLD_MS, MAX_TICK_DT_MS, type RestoreOptions, type WorldOptions } from './world.js';
export {
  HOOK_NAMES,
  applyContent,
  contentIssues,
  defineContent,
  validateContent,
  type AbilityDef,
  type Content,
  type ContentHooks,
  type HookName,
  type ItemDef,
  type LootDrop,
  type NpcKindDef,
  type SpawnAreaDef,
  type ZoneContentRef,
} from './content.js';
export { ZoneApi, type ReadonlyNumbers } from './content-api.js';
export { ContentHost, DEFAULT_HOOK_OPTIONS, Hook, type HookOptions } from './content-host.js';
export {
  AddPlayerError,
  AttackResult,
  InteractAction,
  InteractResult,
  MoveReject,
  MoveResult,
  MOVE_REJECT_COUNT,
  WorldStat,
  WORLD_STAT_COUNT,
  type AttackResultValue,
  type DeltaWriter,
  type EntityId,
  type InteractResultValue,
  type MoveRejectReason,
  type Slot,
  type SnapshotWriter,
  type WorldEvents,
} from './events.js';
export { EntityStore, Flag, Kind, INVENTORY_SLOTS, MAX_GENERATION, SLOT_BITS, SLOT_MASK, quantize, slotOfId, type KindValue } from './entity-store.js';
export {
  DEFAULT_AOI,
  DEFAULT_PLAYER_SHARE,
  DEFAULT_COMBAT,
  DEFAULT_MOVEMENT,
  MAX_ENTITIES,
  MAX_ZONE_SIZE,
  defaultZoneDefs,
  validateZoneDef,
  validateZoneSet,
  zoneCapacity,
  type AbilityParams,
  type AoiParams,
  type CombatParams,
  type DefaultZoneOptions,
  type LootEntry,
  type MovementParams,
  type NpcGroupDef,
  type Point,
  type PortalDef,
  type Rect,
  type ZoneDef,
} from './zone-def.js';
export {
  MAX_NAME_BYTES,
  PLAYER_STATE_MAX_BYTES,
  clonePlayerState,
  decodePlayerState,
  encodePlayerState,
  newPlayerState,
  playerStateBytes,
  writePlayerState,
  readPlayerState,
  type PlayerState,
} from './player-state.js';
export { GENERATION_BUMP, maxCheckpointBytes } from './checkpoint.js';
export { NpcState } from './npc.js';
export { Rng } from './rng.js';
export { WorldError, WorldErrorCode } from './errors.js';
