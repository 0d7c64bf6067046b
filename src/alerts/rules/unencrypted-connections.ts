/**
 * Connection attempts without TLS over TCP, from the server log: sessions
 * authorized without `SSL enabled` (needs log_connections = on) and attempts
 * pg_hba.conf refused with `no encryption`. Unix-socket sessions are left
 * out: TLS does not apply to them. Guidelines threshold: 1.
 *
 * A failed password attempt over plaintext is not visible here: the server
 * logs neither the encryption of a failed login nor of a `connection
 * received` line. application_name is printed before the SSL part of the
 * line and is chosen by the client; see docs/alerts.md for what that allows.
 */
import type { AlertsConfig } from '../config.js';
import { describeCounts, inWindow, topCounts, type LogEvidence } from '../log-evidence.js';
import { isLocal } from '../log/security-events.js';
import { RULE_TITLES, skipped, type RuleResult } from '../rule-result.js';
import { preStartupNote, startLogRule } from './log-rule.js';

export interface ServerLogSettings {
  /** The server's log_connections, when connected. */
  readonly logConnections: boolean | undefined;
}

export function unencryptedConnectionsRule(
  config: AlertsConfig,
  evidence: LogEvidence | { skip: string },
  server: ServerLogSettings,
  now: number,
): RuleResult {
  const rule = config.rules['unencrypted-connections'];
  const start = startLogRule('unencrypted-connections', config, evidence, now);
  if (start.skip) return start.skip;
  const { window, base } = start;
  const plain = inWindow(start.evidence.events, window).filter(
    (e) =>
      (e.kind === 'connection-authorized' || e.kind === 'hba-rejected') && !e.encrypted && !isLocal(e.host),
  );
  const sessions = plain.filter((e) => e.kind === 'connection-authorized');
  const refused = plain.filter((e) => e.kind === 'hba-rejected');
  const observed = plain.length;
  const fired = observed >= rule.threshold;
  const notes = [...window.notes];
  const early = preStartupNote(start.evidence, window);
  if (early) notes.push(early);
  if (start.evidence.unknownOrigin > 0) {
    notes.push(
      `${start.evidence.unknownOrigin} session(s) could not be told apart from unix-socket ones (log_line_prefix has no %p): they count as TCP.`,
    );
  }
  const loggingConnections = server.logConnections ?? start.evidence.connectionLines > 0;
  if (!loggingConnections && !fired) {
    return skipped(
      'unencrypted-connections',
      { ...base, window: window.label },
      server.logConnections === false
        ? 'log_connections is off, so sessions without TLS are not logged (only refusals are); set log_connections = on'
        : 'the log has no "connection received" line, so log_connections seems off and sessions without TLS are not logged; set log_connections = on',
    );
  }
  const byUser = topCounts(plain.map((e) => ('user' in e ? e.user : undefined)));
  return {
    rule: 'unencrypted-connections',
    title: RULE_TITLES['unencrypted-connections'],
    status: fired ? 'fired' : 'ok',
    ...base,
    observed,
    window: window.label,
    summary: `${observed} connection attempt(s) without TLS in the last ${window.label} (threshold ${rule.threshold})${observed ? `: ${sessions.length} session(s), ${refused.length} refused; ${describeCounts(byUser)}` : ''}.`,
    details: {
      sessions: sessions.length,
      refused: refused.length,
      byUser,
      byHost: topCounts(plain.map((e) => e.host)),
      windowStart: new Date(window.start).toISOString(),
      windowEnd: new Date(window.end).toISOString(),
    },
    ...(notes.length ? { notes } : {}),
  };
}
