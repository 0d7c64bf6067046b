/** What every alert rule reports. */

/** The rules, in report order. */
export const RULE_IDS = [
  'auth-failures',
  'unencrypted-connections',
  'slow-queries',
  'server-certificate',
  'credentials-expiry',
  'backup-age',
  'pool-usage',
] as const;
export type RuleId = (typeof RULE_IDS)[number];

export const SEVERITIES = ['critical', 'warning'] as const;
export type Severity = (typeof SEVERITIES)[number];

/**
 * `fired`: the threshold is crossed. `ok`: the rule ran on complete data and
 * it is not. `skipped`: the rule could not run (the reason says why and what
 * to do); a skipped rule is never counted as passing.
 */
export type RuleStatus = 'fired' | 'ok' | 'skipped';

export interface RuleResult {
  readonly rule: RuleId;
  readonly title: string;
  readonly status: RuleStatus;
  readonly severity: Severity;
  /** One sentence, safe to send anywhere (no secret, no query text). */
  readonly summary: string;
  /** The measured value in `unit`; null when skipped or when nothing could be measured. */
  readonly observed: number | null;
  readonly threshold: number;
  readonly unit: 'count' | 'seconds' | 'days' | 'hours' | 'percent';
  /** The time window looked at, e.g. `5m`; null for rules about a present state. */
  readonly window: string | null;
  /** Where the value comes from: `server log`, `pg_stat_activity`, … */
  readonly source: string;
  /** Why the rule was skipped. */
  readonly reason?: string;
  readonly details?: Readonly<Record<string, unknown>>;
  /** Caveats about the data (e.g. a log prefix without %p). */
  readonly notes?: readonly string[];
}

export const RULE_TITLES: Readonly<Record<RuleId, string>> = {
  'auth-failures': 'Failed authentications',
  'unencrypted-connections': 'Connection attempts without TLS',
  'slow-queries': 'Slow queries',
  'server-certificate': 'Server certificate expiry',
  'credentials-expiry': 'Credentials expiry',
  'backup-age': 'Backup age',
  'pool-usage': 'Pool usage',
};

/** A skipped result. */
export function skipped(
  rule: RuleId,
  base: Pick<RuleResult, 'severity' | 'threshold' | 'unit' | 'window' | 'source'>,
  reason: string,
): RuleResult {
  return {
    rule,
    title: RULE_TITLES[rule],
    status: 'skipped',
    summary: `skipped: ${reason}`,
    observed: null,
    reason,
    ...base,
  };
}
