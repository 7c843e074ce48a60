// Programmatic API: embed the server or drive it from tests.
export { startServer, type RunningServer } from './server.js';
export { loadConfig, defaultConfig, ConfigError, type Config, type LoadedConfig } from './config/index.js';
export { createLogger, type Logger } from './log/logger.js';
export { CloseCode } from './protocol/close-codes.js';
export { VERSION } from './version.js';
// The game content API (docs/content.md): types for a content module, and the reference game.
export { defineContent, Kind, Flag, INVENTORY_SLOTS, type Content, type ContentHooks, type ZoneApi, type AbilityDef, type ItemDef, type LootDrop, type NpcKindDef, type SpawnAreaDef } from './world/index.js';
export { REFERENCE_CONTENT } from './content/reference.js';
