/**
 * Pool usage against max (guidelines: 90%) is measured where the pool
 * lives: in the application, through the library's health report and
 * metrics. A CLI run has no application pool to look at, so it says so
 * instead of reporting a pass.
 */
import type { AlertsConfig } from '../config.js';
import { skipped, type RuleResult } from '../rule-result.js';
import { DISABLED } from './log-rule.js';

export const POOL_USAGE_THRESHOLD_PERCENT = 90;

export function poolUsageRule(config: AlertsConfig): RuleResult {
  return skipped(
    'pool-usage',
    {
      severity: 'warning',
      threshold: POOL_USAGE_THRESHOLD_PERCENT,
      unit: 'percent',
      window: null,
      source: 'application pool',
    },
    config.rules['pool-usage'].enabled
      ? 'pool usage is measured inside the application by the library (pool health and metrics); a CLI run has no application pool to observe'
      : DISABLED,
  );
}
