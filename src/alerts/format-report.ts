/**
 * The text form of an alerts report, for people and cron mails. Rule
 * summaries quote the server (role names, query text, log lines): control
 * characters are escaped first.
 */
import { terminalLine, terminalSafe } from '../text/terminal-text.js';
import type { AlertsReport } from './check.js';
import { formatDuration } from '../monitor/duration.js';
import type { RuleResult, RuleStatus } from './rule-result.js';
import type { WebhookResult } from './webhook.js';

const MARK: Record<RuleStatus, string> = { fired: '✗ FIRED  ', ok: '✓ ok     ', skipped: '- skipped' };

/** Sessions listed under slow-queries; the JSON report has them all. */
const MAX_SESSIONS = 10;

interface SlowQuery {
  pid: number;
  user: string | null;
  database: string | null;
  seconds: number;
  waitEvent: string | null;
  query: string | null;
}

/** The offending sessions of a fired slow-queries rule, one line each (docs/alerts.md promises them). */
function sessionLines(rule: RuleResult): string[] {
  if (rule.rule !== 'slow-queries' || rule.status !== 'fired') return [];
  const queries = (rule.details?.queries ?? []) as readonly SlowQuery[];
  const lines = queries
    .slice(0, MAX_SESSIONS)
    .map((q) =>
      [
        `pid ${q.pid}`,
        terminalLine(`${q.user ?? '?'}@${q.database ?? '?'}`),
        formatDuration(Math.round(q.seconds * 1000)),
        ...(q.waitEvent ? [terminalLine(`waiting on ${q.waitEvent}`)] : []),
        terminalLine(q.query ?? '(query text not visible)'),
      ].join('  '),
    );
  if (queries.length > MAX_SESSIONS)
    lines.push(`… and ${queries.length - MAX_SESSIONS} more (--json lists all)`);
  return lines;
}

export function formatAlertsReport(rawReport: AlertsReport, rawWebhook?: WebhookResult): string {
  const report = terminalSafe(rawReport);
  const webhook = terminalSafe(rawWebhook);
  const lines = [
    `pgwarden alerts check — ${report.label} — ${report.checkedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}`,
    '',
  ];
  const width = Math.max(...report.rules.map((r) => r.rule.length));
  for (const rule of report.rules) {
    const severity = rule.status === 'fired' ? `${rule.severity.toUpperCase()} ` : '';
    const text = rule.status === 'skipped' ? `skipped: ${rule.reason}` : rule.summary;
    lines.push(
      `${MARK[rule.status]}  ${rule.rule.padEnd(width)}  ${severity}${text.replace(/^skipped: /, '')}`,
    );
    for (const session of sessionLines(rule)) lines.push(`${' '.repeat(width + 13)}${session}`);
    for (const note of rule.notes ?? []) lines.push(`${' '.repeat(width + 13)}note: ${note}`);
  }
  const facts: string[] = [];
  const c = report.connection;
  if (c.error) facts.push(`✗ database: [${c.error.code}] ${c.error.message}`);
  else if (c.attempted)
    facts.push(`✓ database: connected${c.serverVersion ? ` (PostgreSQL ${c.serverVersion})` : ''}`);
  for (const log of report.logs) {
    facts.push(
      `  log: ${log.path} (${log.format}, ${log.entries} entries${log.unparsed ? `, ${log.unparsed} unparsed` : ''}${log.truncated ? ', tail only' : ''})`,
    );
  }
  if (webhook) {
    facts.push(`  webhook ${webhook.target}: ${webhook.sent} sent, ${webhook.failed} failed`);
    for (const d of webhook.deliveries) if (d.error) facts.push(`  ! [${d.error.code}] ${d.error.message}`);
  }
  if (facts.length) lines.push('', ...facts);
  lines.push(
    '',
    `${report.fired} alert(s) fired, ${report.rules.length - report.fired - report.skipped} ok, ${report.skipped} skipped.`,
  );
  return `${lines.join('\n')}\n`;
}
