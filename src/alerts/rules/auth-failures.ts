/**
 * Failed authentications in the server log: `FATAL:  <method> authentication
 * failed for user "…"`. Guidelines threshold: 5 in 5 minutes. Refusals by
 * pg_hba.conf and unknown databases are not counted: no password was tried.
 */
import type { AlertsConfig } from '../config.js';
import { describeCounts, inWindow, logWindow, topCounts, type LogEvidence } from '../log-evidence.js';
import { RULE_TITLES, skipped, type RuleResult } from '../rule-result.js';

export function authFailuresRule(
  config: AlertsConfig,
  evidence: LogEvidence | { skip: string },
  now: number,
): RuleResult {
  const rule = config.rules['auth-failures'];
  const base = {
    severity: rule.severity,
    threshold: rule.threshold,
    unit: 'count' as const,
    source: 'server log',
  };
  const window = logWindow(
    'skip' in evidence ? emptyEvidence : evidence,
    rule.windowMs,
    config.log.windowEnd,
    now,
  );
  if (!rule.enabled) return skipped('auth-failures', { ...base, window: window.label }, DISABLED);
  if ('skip' in evidence) return skipped('auth-failures', { ...base, window: window.label }, evidence.skip);
  if (evidence.entries === 0) {
    return skipped('auth-failures', { ...base, window: window.label }, NOTHING_PARSED(evidence));
  }
  const failures = inWindow(evidence.events, window).filter((e) => e.kind === 'auth-failed');
  const observed = failures.length;
  const fired = observed >= rule.threshold;
  const byUser = topCounts(failures.map((e) => (e.kind === 'auth-failed' ? e.user : undefined)));
  const byHost = topCounts(failures.map((e) => e.host));
  return {
    rule: 'auth-failures',
    title: RULE_TITLES['auth-failures'],
    status: fired ? 'fired' : 'ok',
    ...base,
    observed,
    window: window.label,
    summary: `${observed} failed authentication(s) in the last ${window.label} (threshold ${rule.threshold})${observed ? `: ${describeCounts(byUser)}` : ''}.`,
    details: {
      byUser,
      byHost,
      windowStart: new Date(window.start).toISOString(),
      windowEnd: new Date(window.end).toISOString(),
    },
    ...(window.notes.length ? { notes: window.notes } : {}),
  };
}

export const DISABLED = 'disabled in the configuration';

export const NOTHING_PARSED = (evidence: LogEvidence): string =>
  `no line of ${evidence.files.map((f) => `${f.path} (read as ${f.format})`).join(', ')} could be parsed; check --log-format and the log_line_prefix`;

export const emptyEvidence: LogEvidence = {
  files: [],
  events: [],
  connectionLines: 0,
  unknownOrigin: 0,
  zoneKnown: true,
  oldestAt: undefined,
  newestAt: undefined,
  entries: 0,
};
