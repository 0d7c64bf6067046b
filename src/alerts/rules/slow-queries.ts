/**
 * Queries running longer than the threshold right now (pg_stat_activity,
 * through the monitor's snapshot). Guidelines threshold: 5 seconds.
 */
import { formatDuration } from '../../monitor/duration.js';
import type { MonitorSnapshot } from '../../monitor/snapshot.js';
import type { AlertsConfig } from '../config.js';
import { RULE_TITLES, skipped, type RuleResult } from '../rule-result.js';
import { DISABLED } from './log-rule.js';

export function slowQueriesRule(
  config: AlertsConfig,
  snapshot: MonitorSnapshot | { skip: string },
): RuleResult {
  const rule = config.rules['slow-queries'];
  const base = {
    severity: rule.severity,
    threshold: rule.thresholdMs / 1000,
    unit: 'seconds' as const,
    window: null,
    source: 'pg_stat_activity',
  };
  if (!rule.enabled) return skipped('slow-queries', base, DISABLED);
  if ('skip' in snapshot) return skipped('slow-queries', base, snapshot.skip);
  const { count, queries } = snapshot.longRunning;
  const longest = queries.reduce((max, q) => Math.max(max, q.durationMs), 0);
  const fired = count > 0;
  if (!fired && snapshot.visibility !== 'full') {
    return skipped(
      'slow-queries',
      base,
      `role ${snapshot.server.user} sees only its own sessions; GRANT pg_read_all_stats TO ${snapshot.server.user} to check everyone's queries`,
    );
  }
  return {
    rule: 'slow-queries',
    title: RULE_TITLES['slow-queries'],
    status: fired ? 'fired' : 'ok',
    ...base,
    observed: Math.round(longest / 100) / 10,
    summary: fired
      ? `${count} quer${count === 1 ? 'y has' : 'ies have'} been running longer than ${formatDuration(rule.thresholdMs)} (longest ${formatDuration(longest)}).`
      : `No query has been running longer than ${formatDuration(rule.thresholdMs)}.`,
    details: {
      queries: queries.map((q) => ({
        pid: q.pid,
        user: q.user,
        database: q.database,
        seconds: Math.round(q.durationMs / 100) / 10,
        waitEvent: q.waitEvent,
        query: q.query,
      })),
    },
  };
}
