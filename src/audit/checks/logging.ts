/**
 * Logging: what the server records about connections, statements and
 * replication, and whether the log is captured and private.
 */
import { cis, defineArea, fail, pass, pgDocs, type CisCitation } from '../check.js';
import { isOn, settingValue } from '../session.js';
import { preloaded } from './passwords.js';

const NAMES = [
  'log_connections',
  'log_disconnections',
  'log_statement',
  'log_min_duration_statement',
  'log_line_prefix',
  'logging_collector',
  'log_destination',
  'log_file_mode',
  'shared_preload_libraries',
  'log_replication_commands',
] as const;

export type LoggingFacts = Readonly<Partial<Record<(typeof NAMES)[number], string>>>;

const setting = (name: string, value: string | undefined) => [{ type: 'setting', name, value: value ?? '' }];

/** The log_line_prefix escapes that must be present, each with alternatives. */
const PREFIX_PARTS: readonly { what: string; escapes: readonly string[] }[] = [
  { what: 'time', escapes: ['%m', '%t', '%n'] },
  { what: 'user', escapes: ['%u'] },
  { what: 'database', escapes: ['%d'] },
  { what: 'client', escapes: ['%h', '%r'] },
  { what: 'process', escapes: ['%p', '%c'] },
];

export function missingPrefixParts(prefix: string): string[] {
  return PREFIX_PARTS.filter((part) => !part.escapes.some((e) => prefix.includes(e))).map(
    (p) => `${p.what} (${p.escapes.join(' or ')})`,
  );
}

function onOff(
  id: string,
  name: (typeof NAMES)[number],
  severity: 'medium' | 'low',
  title: string,
  rationale: string,
  citation: CisCitation,
) {
  return {
    id,
    severity,
    title,
    rationale,
    remediation: `${name} = on`,
    cis: [citation],
    references: [pgDocs('runtime-config-logging.html')],
    evaluate(facts: LoggingFacts) {
      const value = facts[name];
      return isOn(value) ? pass(`${name} = on.`) : fail(`${name} = ${value ?? '?'}.`, setting(name, value));
    },
  };
}

export const loggingArea = defineArea<LoggingFacts>({
  area: 'logging',
  needsConnection: true,
  async gather({ session }) {
    return Object.fromEntries(NAMES.map((n) => [n, settingValue(session, n)]));
  },
  checks: [
    onOff(
      'log.connections',
      'log_connections',
      'medium',
      'Connections are logged',
      'Without connection records, who logged in from where cannot be reconstructed after an incident.',
      cis('3.1.20', "'log_connections' is enabled"),
    ),
    onOff(
      'log.disconnections',
      'log_disconnections',
      'low',
      'Disconnections are logged',
      'Session end and duration complete the connection record.',
      cis('3.1.21', "'log_disconnections' is enabled"),
    ),
    {
      id: 'log.statement',
      severity: 'low',
      title: 'DDL statements are logged',
      rationale:
        'log_statement = none leaves schema and privilege changes (GRANT, ALTER ROLE, DROP) without a trace.',
      remediation: "log_statement = 'ddl'",
      cis: [cis('3.1.25', "'log_statement' is set correctly")],
      references: [pgDocs('runtime-config-logging.html#GUC-LOG-STATEMENT')],
      evaluate(facts) {
        const value = facts.log_statement ?? '?';
        return ['ddl', 'mod', 'all'].includes(value)
          ? pass(`log_statement = ${value}.`)
          : fail(`log_statement = ${value}.`, setting('log_statement', value));
      },
    },
    {
      id: 'log.min-duration',
      severity: 'low',
      title: 'Slow statements are logged',
      rationale:
        'Slow-query logging (log_min_duration_statement) shows denial-of-service attempts and runaway queries.',
      remediation: "log_min_duration_statement = '1s'",
      references: [pgDocs('runtime-config-logging.html#GUC-LOG-MIN-DURATION-STATEMENT')],
      evaluate(facts) {
        const value = Number(facts.log_min_duration_statement);
        if (Number.isFinite(value) && value >= 0) return pass(`log_min_duration_statement = ${value} ms.`);
        return fail(
          `log_min_duration_statement = ${facts.log_min_duration_statement ?? '?'} (off).`,
          setting('log_min_duration_statement', facts.log_min_duration_statement),
        );
      },
    },
    {
      id: 'log.line-prefix',
      severity: 'low',
      title: 'Log lines carry time, user, database, client and process',
      rationale: 'A log line that does not say who did what from where, and when, is not evidence.',
      remediation: "log_line_prefix = '%m [%p] %q%u@%d %r '",
      cis: [cis('3.1.24', "'log_line_prefix' is set correctly")],
      references: [pgDocs('runtime-config-logging.html#GUC-LOG-LINE-PREFIX')],
      evaluate(facts) {
        const prefix = facts.log_line_prefix ?? '';
        const missing = missingPrefixParts(prefix);
        if (missing.length === 0) return pass(`log_line_prefix = '${prefix}'.`);
        return fail(
          `log_line_prefix = '${prefix}' lacks ${missing.join(', ')}.`,
          setting('log_line_prefix', prefix),
        );
      },
    },
    {
      id: 'log.collector',
      severity: 'low',
      title: 'Server logs are captured (logging collector or syslog)',
      rationale:
        'Without the collector, stderr output may be lost or mixed with other output, and csvlog/jsonlog are unavailable.',
      remediation: 'logging_collector = on  # needs a restart; or log_destination = syslog',
      cis: [cis('3.1.3', 'logging collector is enabled')],
      references: [pgDocs('runtime-config-logging.html#GUC-LOGGING-COLLECTOR')],
      evaluate(facts) {
        if (isOn(facts.logging_collector))
          return pass(`logging_collector = on (log_destination = ${facts.log_destination ?? '?'}).`);
        if ((facts.log_destination ?? '').split(',').some((d) => d.trim() === 'syslog'))
          return pass(`log_destination = ${facts.log_destination}.`);
        return fail(
          `logging_collector = ${facts.logging_collector ?? '?'} and log_destination = ${facts.log_destination ?? '?'}.`,
          setting('logging_collector', facts.logging_collector),
        );
      },
    },
    {
      id: 'log.file-mode',
      severity: 'medium',
      title: 'Log files are readable only by the server account',
      rationale:
        'Logs contain statements, sometimes with data or passwords sent in the clear; other OS users must not read them.',
      remediation: 'log_file_mode = 0600',
      cis: [cis('3.1.6', 'log file permissions')],
      references: [pgDocs('runtime-config-logging.html#GUC-LOG-FILE-MODE')],
      evaluate(facts) {
        const mode = parseInt(facts.log_file_mode ?? '', 8);
        if (Number.isFinite(mode) && (mode & 0o077) === 0)
          return pass(`log_file_mode = ${facts.log_file_mode}.`);
        return fail(
          `log_file_mode = ${facts.log_file_mode ?? '?'} lets other OS users read the logs.`,
          setting('log_file_mode', facts.log_file_mode),
        );
      },
    },
    {
      id: 'log.pgaudit',
      severity: 'low',
      title: 'pgAudit is loaded',
      rationale:
        'Statement logging records text, not what was touched; pgAudit records object-level reads and writes for audits.',
      remediation:
        "shared_preload_libraries = 'pgaudit'  # needs a restart; then CREATE EXTENSION pgaudit; pgaudit.log = 'ddl, role'",
      cis: [cis('3.2', 'PostgreSQL Audit Extension (pgAudit) is enabled')],
      references: ['https://github.com/pgaudit/pgaudit'],
      requires: ['readAllSettings'],
      evaluate(facts) {
        const value = facts.shared_preload_libraries ?? '';
        if (preloaded(value, 'pgaudit')) return pass(`shared_preload_libraries = '${value}' loads pgaudit.`);
        return fail(
          `shared_preload_libraries = '${value}' does not load pgaudit.`,
          setting('shared_preload_libraries', value),
        );
      },
    },
    onOff(
      'log.replication-commands',
      'log_replication_commands',
      'low',
      'Replication commands are logged',
      'Base backups and replication connections read everything; they belong in the log.',
      cis('7.2', 'logging of replication commands'),
    ),
  ],
});
