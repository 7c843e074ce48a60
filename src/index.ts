// Programmatic API: embed the server or drive it from tests.
export { startServer, type RunningServer } from './server.js';
export { loadConfig, defaultConfig, ConfigError, type Config, type LoadedConfig } from './config/index.js';
export { createLogger, type Logger } from './log/logger.js';
export { CloseCode } from './protocol/close-codes.js';
export { VERSION } from './version.js';
