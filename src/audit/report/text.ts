/**
 * `--format text`: grouped by area (areas with failures first, failures
 * first within each), a summary line last. ANSI colour only when asked
 * (the CLI asks when stdout is a TTY and NO_COLOR is unset).
 */
import { areaCoverage, skippedGrantsHeading, type AreaCoverage } from '../coverage.js';
import { AREA_TITLES, isActiveFailure, type Finding } from '../finding.js';
import { blockingFindings, type AuditReport } from '../report-model.js';
import { SEVERITIES } from '../severity.js';
import { groupByArea } from './order.js';
import { terminalSafe, terminalText } from '../../text/terminal-text.js';

export interface TextOptions {
  /** ANSI colours. Default false. */
  readonly color?: boolean;
  /** List passing checks one per line. Default true. */
  readonly showPasses?: boolean;
}

const CODES = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, gray: 90, bold: 1 } as const;

function painter(enabled: boolean) {
  return (color: keyof typeof CODES, text: string): string =>
    enabled ? `\u001b[${CODES[color]}m${text}\u001b[0m` : text;
}

const indent = (text: string, prefix: string): string => text.replace(/^/gm, prefix);

export function formatText(raw: AuditReport, options: TextOptions = {}): string {
  // Role, database and object names come from the server: control characters escaped, newlines kept.
  const report = terminalSafe(raw, terminalText);
  const paint = painter(options.color ?? false);
  const showPasses = options.showPasses ?? true;
  const t = report.target;
  const lines: string[] = [
    paint(
      'bold',
      `pgwarden audit — ${t.user}@${t.host}:${t.port}/${t.database}${t.serverVersion ? ` (PostgreSQL ${t.serverVersion})` : ''}, environment ${t.environment}`,
    ),
  ];
  const c = report.connection;
  if (c.ok) {
    const p = report.privileges!;
    const caps = (
      ['superuser', 'readAllSettings', 'readAllStats', 'hbaRules', 'authid', 'fileSettings'] as const
    ).map((k) => `${k} ${p[k] ? 'yes' : 'no'}`);
    lines.push(
      `connected over ${c.tls ? `${c.tls.protocol} (${c.tls.cipher})` : 'an unencrypted session'}; role ${p.role}: ${caps.join(', ')}`,
    );
    if (report.cis && !report.cis.forServer && t.serverVersion) {
      lines.push(
        paint(
          'gray',
          `CIS references follow ${report.cis.edition} (pgwarden knows no edition for PostgreSQL ${t.serverVersion.split(/[ .]/)[0]})`,
        ),
      );
    }
  } else if (c.skipped) lines.push(paint('yellow', `not connected: ${c.skipped}`));
  else if (c.error) lines.push(paint('red', `✗ could not connect: [${c.error.code}] ${c.error.message}`));

  const marks = {
    fail: paint('red', '✗'),
    error: paint('magenta', '!'),
    skip: paint('yellow', '-'),
    pass: paint('green', '✓'),
  };
  const coverage = new Map(areaCoverage(report.findings).map((a) => [a.area, a]));
  const areaMarks: Record<AreaCoverage['status'], string> = {
    fail: marks.fail,
    error: marks.error,
    'not-verified': marks.skip,
    pass: marks.pass,
  };
  for (const group of groupByArea(report.findings)) {
    const area = coverage.get(group.area)!;
    lines.push(
      '',
      `${paint('bold', `${areaMarks[area.status]} ${AREA_TITLES[group.area]}`)}${areaNote(area, paint)}`,
    );
    for (const f of group.findings) {
      if (f.status === 'pass') {
        if (showPasses) lines.push(`  ${marks.pass} ${f.id} ${paint('gray', f.detail)}`);
        continue;
      }
      lines.push(...describe(f, marks, paint));
    }
  }

  const grants = report.skippedGrants;
  if (grants) {
    lines.push(
      '',
      paint('bold', skippedGrantsHeading(grants)),
      ...grants.grants.map((g) => `  ${paint('blue', g)}`),
    );
  }

  const expired = report.suppressions.expired;
  if (expired.length > 0) {
    lines.push('', paint('yellow', `Expired suppressions (no longer applied):`));
    for (const s of expired)
      lines.push(`  - ${s.id}${s.object ? `:${s.object}` : ''} expired ${s.expires} (${s.reason})`);
  }
  if (report.suppressions.unused.length > 0) {
    lines.push(
      '',
      paint(
        'gray',
        `Unused suppressions: ${report.suppressions.unused.map((s) => `${s.id}${s.object ? `:${s.object}` : ''}`).join(', ')}`,
      ),
    );
  }

  const s = report.summary;
  const bySeverity = SEVERITIES.filter((sev) => s.failing[sev] > 0).map((sev) => `${s.failing[sev]} ${sev}`);
  const blocking = blockingFindings(report).length;
  const unverified = [...coverage.values()].filter((a) => a.status === 'not-verified').map((a) => a.title);
  const extras = [
    s.suppressed ? `${s.suppressed} suppressed` : '',
    s.baseline ? `${s.baseline} known from the baseline` : '',
    unverified.length ? `not verified: ${unverified.join(', ')}` : '',
  ].filter(Boolean);
  lines.push(
    '',
    paint(
      'bold',
      `Summary: ${s.pass} passed, ${s.fail} failed${bySeverity.length ? ` (${bySeverity.join(', ')})` : ''}, ${s.skip} skipped, ${s.error} errors${extras.length ? `; ${extras.join(', ')}` : ''} — ${
        blocking > 0
          ? paint('red', `${blocking} at or above ${report.failOn}`)
          : paint('green', `none at or above ${report.failOn}`)
      }${c.ok ? '' : paint('red', '; the audit did not connect')}`,
    ),
  );
  return `${lines.join('\n')}\n`;
}

/** After an area's title: why it is not verified, or how many of its checks were skipped. */
function areaNote(area: AreaCoverage, paint: ReturnType<typeof painter>): string {
  if (area.skip === 0) return '';
  const skipped = `${area.skip} of ${area.checks} checks skipped`;
  return area.status === 'not-verified'
    ? ` — ${paint('yellow', `not verified: ${skipped}`)}`
    : paint('gray', ` (${skipped})`);
}

function describe(
  f: Finding,
  marks: Record<Finding['status'], string>,
  paint: ReturnType<typeof painter>,
): string[] {
  const quiet = f.status === 'fail' && !isActiveFailure(f);
  const mark = quiet ? paint('gray', '~') : marks[f.status];
  const tag = f.status === 'fail' ? `[${f.severity}] ` : '';
  const head = `  ${mark} ${tag}${paint('bold', f.id)} ${f.title}`;
  const out = [head, indent(f.detail, '      ')];
  if (f.status === 'fail') {
    if (f.suppressed)
      out.push(
        paint(
          'gray',
          `      suppressed: ${f.suppressed.reason}${f.suppressed.expires ? ` (until ${f.suppressed.expires})` : ''}`,
        ),
      );
    else if (f.inBaseline) out.push(paint('gray', '      known from the baseline'));
    else out.push(paint('blue', indent(`fix: ${f.remediation}`, '      ')));
    if (f.suppressedObjects?.length && !f.suppressed)
      out.push(paint('gray', `      ${f.suppressedObjects.length} object(s) suppressed`));
  }
  // The grants that would run skipped checks are listed once, after the areas.
  return out;
}
