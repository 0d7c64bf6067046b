/**
 * The text form of an alerts report, for people and cron mails. Rule
 * summaries quote the server (role names, query text, log lines): control
 * characters are escaped first.
 */
import { terminalSafe } from '../text/terminal-text.js';
import type { AlertsReport } from './check.js';
import type { RuleStatus } from './rule-result.js';
import type { WebhookResult } from './webhook.js';

const MARK: Record<RuleStatus, string> = { fired: '✗ FIRED  ', ok: '✓ ok     ', skipped: '- skipped' };

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
