/**
 * Failed authentications in the server log: `FATAL:  <method> authentication
 * failed for user "…"`. Guidelines threshold: 5 in 5 minutes. Refusals by
 * pg_hba.conf and unknown databases are not counted: no password was tried.
 */
import type { AlertsConfig } from '../config.js';
import { describeCounts, inWindow, topCounts, type LogEvidence } from '../log-evidence.js';
import { RULE_TITLES, type RuleResult } from '../rule-result.js';
import { preStartupNote, startLogRule } from './log-rule.js';

export function authFailuresRule(
  config: AlertsConfig,
  evidence: LogEvidence | { skip: string },
  now: number,
): RuleResult {
  const rule = config.rules['auth-failures'];
  const start = startLogRule('auth-failures', config, evidence, now);
  if (start.skip) return start.skip;
  const { window, base } = start;
  const failures = inWindow(start.evidence.events, window).filter((e) => e.kind === 'auth-failed');
  const observed = failures.length;
  const fired = observed >= rule.threshold;
  const byUser = topCounts(failures.map((e) => (e.kind === 'auth-failed' ? e.user : undefined)));
  const byHost = topCounts(failures.map((e) => e.host));
  const early = preStartupNote(start.evidence, window);
  const notes = early ? [...window.notes, early] : window.notes;
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
    ...(notes.length ? { notes } : {}),
  };
}
