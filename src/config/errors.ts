/** One rejected setting: which key, what it was set to, where that came from, what is allowed. */
export interface ConfigIssue {
  key: string;
  value: unknown;
  source: string;
  allowed: string;
}

/**
 * Thrown at start-up (never on a hot path) when the merged configuration is
 * unusable. The message lists every bad key at once so an operator fixes the
 * file in one pass.
 */
export class ConfigError extends Error {
  readonly code = 'MMO_ERR_CONFIG';
  constructor(
    readonly issues: ConfigIssue[],
    headline = 'invalid configuration',
  ) {
    super(
      issues.length === 0
        ? headline
        : `${headline}:\n` +
            issues
              .map((i) => `  - ${i.key}${i.value === undefined ? '' : ` = ${formatValue(i.value)}`} (from ${i.source}): allowed ${i.allowed}`)
              .join('\n'),
    );
    this.name = 'ConfigError';
  }
}

function formatValue(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
