export { ConfigSchema, type Config, type NetConfig, type LogConfig, type ServerConfig, type MetricsConfig } from './schema.js';
export { loadConfig, defaultConfig, envName, describeAllowed, type LoadedConfig, type CliFlags } from './loader.js';
export { ConfigError, type ConfigIssue } from './errors.js';
export { renderConfigYaml } from './document.js';
export { redactConfig, redactUrl, REDACTED } from './redact.js';
export { assertStartupConfig, startupIssues, zoneCount, zoneDefs } from './validate.js';
