/**
 * `--format junit`: one testsuite per area, one testcase per check, so CI
 * systems show the audit like a test run. Failing findings are <failure>
 * (type = severity), errors <error>, skips and accepted findings <skipped>.
 */
import { redact } from '../../redact/redactor.js';
import { AREAS, AREA_TITLES } from '../finding.js';
import type { AuditReport } from '../report-model.js';

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};

// Control characters XML 1.0 cannot carry (tab, newline and carriage return can).
// eslint-disable-next-line no-control-regex
const XML_INVALID = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g;

/** XML-escapes text, dropping characters XML 1.0 cannot carry. */
export function xml(text: string): string {
  return redact(text)
    .replace(XML_INVALID, '')
    .replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

export function formatJunit(report: AuditReport): string {
  const suites: string[] = [];
  let tests = 0,
    failures = 0,
    errors = 0,
    skipped = 0;
  for (const area of AREAS) {
    const findings = report.findings.filter((f) => f.area === area);
    if (findings.length === 0) continue;
    const cases: string[] = [];
    let f = 0,
      e = 0,
      s = 0;
    for (const finding of findings) {
      const attrs = `classname="pgwarden.audit.${area}" name="${xml(`${finding.id}: ${finding.title}`)}" time="0"`;
      let body = '';
      if (finding.status === 'fail' && (finding.suppressed || finding.inBaseline)) {
        s++;
        body = `<skipped message="${xml(finding.suppressed ? `suppressed: ${finding.suppressed.reason}` : 'known from the baseline')}"/>`;
      } else if (finding.status === 'fail') {
        f++;
        const text = `${finding.detail}\n\nObjects:\n${finding.objects.map((o) => `  ${o.name}${o.value ? `: ${o.value}` : ''}`).join('\n')}\n\nFix:\n${finding.remediation}\n\nWhy: ${finding.rationale}`;
        body = `<failure type="${finding.severity}" message="${xml(`[${finding.severity}] ${finding.detail}`)}">${xml(text)}</failure>`;
      } else if (finding.status === 'error') {
        e++;
        body = `<error message="${xml(finding.detail)}"/>`;
      } else if (finding.status === 'skip') {
        s++;
        body = `<skipped message="${xml(finding.detail + (finding.enable ? ` Enable: ${finding.enable}` : ''))}"/>`;
      } else {
        body = `<system-out>${xml(finding.detail)}</system-out>`;
      }
      cases.push(
        `    <testcase ${attrs}>\n      ${body}\n      <properties><property name="severity" value="${finding.severity}"/></properties>\n    </testcase>`,
      );
    }
    tests += findings.length;
    failures += f;
    errors += e;
    skipped += s;
    suites.push(
      `  <testsuite name="${xml(AREA_TITLES[area])}" tests="${findings.length}" failures="${f}" errors="${e}" skipped="${s}" time="0" timestamp="${report.generatedAt.replace(/\.\d+Z$/, '')}">\n${cases.join('\n')}\n  </testsuite>`,
    );
  }
  const t = report.target;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="${xml(`pgwarden audit ${t.user}@${t.host}:${t.port}/${t.database}`)}" tests="${tests}" failures="${failures}" errors="${errors}" skipped="${skipped}" time="${(report.durationMs / 1000).toFixed(3)}">\n${suites.join('\n')}\n</testsuites>\n`;
}
