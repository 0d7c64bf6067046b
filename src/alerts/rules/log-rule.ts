/**
 * What the two server-log rules (auth-failures, unencrypted-connections)
 * share: the result fields, the time window, and the reasons to skip
 * (disabled, no log given, nothing parsed).
 */
import type { AlertsConfig } from '../config.js';
import { inWindow, logWindow, type LogEvidence, type LogWindow } from '../log-evidence.js';
import { skipped, type RuleResult } from '../rule-result.js';

/** The reason every rule gives when its configuration turns it off. */
export const DISABLED = 'disabled in the configuration';

export const NOTHING_PARSED = (evidence: LogEvidence): string =>
  `no line of ${evidence.files.map((f) => `${f.path} (read as ${f.format})`).join(', ')} could be parsed; check --log-format and the log_line_prefix`;

const emptyEvidence: LogEvidence = {
  files: [],
  events: [],
  connectionLines: 0,
  unknownOrigin: 0,
  zoneKnown: true,
  oldestAt: undefined,
  newestAt: undefined,
  entries: 0,
};

type LogRuleId = 'auth-failures' | 'unencrypted-connections';

/** The start of a log rule: either a skipped result, or the evidence and window to count in. */
export function startLogRule(
  id: LogRuleId,
  config: AlertsConfig,
  evidence: LogEvidence | { skip: string },
  now: number,
):
  | { skip: RuleResult }
  | {
      skip?: undefined;
      evidence: LogEvidence;
      window: ReturnType<typeof logWindow>;
      base: { severity: RuleResult['severity']; threshold: number; unit: 'count'; source: string };
    } {
  const rule = config.rules[id];
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
  const skip = (reason: string) => ({ skip: skipped(id, { ...base, window: window.label }, reason) });
  if (!rule.enabled) return skip(DISABLED);
  if ('skip' in evidence) return skip(evidence.skip);
  if (evidence.entries === 0) return skip(NOTHING_PARSED(evidence));
  return { evidence, window, base };
}

/**
 * What neither log rule counts, said once: TCP connections that ended before
 * any login (a TLS probe such as pgwarden audit's, a health check, a port
 * scan). They tried no password and sent no query, so they are neither
 * failed logins nor unencrypted sessions.
 */
export function preStartupNote(evidence: LogEvidence, window: LogWindow): string | undefined {
  const early = inWindow(evidence.events, window).filter((e) => e.kind === 'pre-startup');
  if (early.length === 0) return undefined;
  const refused = early.filter((e) => e.kind === 'pre-startup' && e.tlsRefused !== undefined).length;
  return `${early.length} TCP connection(s) ended before any login (${refused} with a TLS handshake the server refused): TLS probes such as pgwarden audit's, health checks or port scans; not counted.`;
}
