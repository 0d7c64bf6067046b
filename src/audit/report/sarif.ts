/**
 * `--format sarif`: SARIF 2.1.0, one rule per check id, one result per
 * failing finding (suppressed ones carry a SARIF suppression), so code
 * scanning UIs can show, track and dismiss them. Skips and errors become
 * tool notifications. Database findings have no source file: hba findings
 * point at pg_hba.conf lines, settings at postgresql.conf, the rest at the
 * audited database as a logical location.
 */
import { redact } from '../../redact/redactor.js';
import { CHECK_CATALOG } from '../catalog.js';
import { CIS_EDITIONS, cisEditionFor } from '../cis-sections.js';
import { checkReferences } from '../references.js';
import type { Finding } from '../finding.js';
import type { AuditReport } from '../report-model.js';
import type { Severity } from '../severity.js';

const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = {
  critical: 'error',
  high: 'error',
  medium: 'warning',
  low: 'note',
  info: 'note',
};
/** GitHub code scanning reads this property to rank security results (0.0–10.0). */
const SECURITY_SEVERITY: Record<Severity, string> = {
  critical: '9.5',
  high: '8.0',
  medium: '5.5',
  low: '3.0',
  info: '0.0',
};

function location(finding: Finding, target: string): Record<string, unknown> {
  const first = finding.objects[0] ?? finding.suppressedObjects?.[0];
  const hba = first?.type === 'hba-rule' ? /:(\d+)$/.exec(first.name) : null;
  const physical = hba
    ? { artifactLocation: { uri: 'pg_hba.conf', uriBaseId: 'PGDATA' }, region: { startLine: Number(hba[1]) } }
    : first?.type === 'setting'
      ? { artifactLocation: { uri: 'postgresql.conf', uriBaseId: 'PGDATA' } }
      : { artifactLocation: { uri: target } };
  return {
    physicalLocation: physical,
    logicalLocations: finding.objects.map((o) => ({ name: o.name, kind: o.type })),
  };
}

export function formatSarif(report: AuditReport): string {
  const t = report.target;
  const target = `postgresql://${encodeURIComponent(t.host)}:${t.port}/${encodeURIComponent(t.database)}`;
  const edition =
    CIS_EDITIONS.find((e) => e.name === report.cis?.edition) ?? cisEditionFor(undefined).edition;
  const rules = CHECK_CATALOG.map((check) => ({
    id: check.id,
    name: check.id.replace(/[.-](\w)/g, (_m, c: string) => c.toUpperCase()),
    shortDescription: { text: check.title },
    fullDescription: { text: check.rationale },
    help: {
      text: `${check.rationale}\n\nFix: ${check.remediation}`,
      markdown: `${check.rationale}\n\n**Fix:**\n\n\`\`\`\n${check.remediation}\n\`\`\``,
    },
    ...(check.references.find((r) => r.startsWith('https://'))
      ? { helpUri: check.references.find((r) => r.startsWith('https://')) }
      : {}),
    defaultConfiguration: { level: LEVEL[check.severity] },
    properties: {
      tags: ['security', 'postgresql', check.area],
      'security-severity': SECURITY_SEVERITY[check.severity],
      references: checkReferences(check, edition),
    },
  }));
  const index = new Map(rules.map((r, i) => [r.id, i]));
  const results = report.findings
    .filter((f) => f.status === 'fail')
    .map((f) => ({
      ruleId: f.id,
      ruleIndex: index.get(f.id) ?? -1,
      level: LEVEL[f.severity],
      message: { text: `${f.detail}\nFix: ${f.remediation}` },
      locations: [location(f, target)],
      partialFingerprints: {
        'pgwardenFinding/v1': `${f.id}|${t.host}:${t.port}/${t.database}|${[
          ...f.objects,
          ...(f.suppressedObjects ?? []),
        ]
          .map((o) => o.name)
          .sort()
          .join(',')}`,
      },
      ...(f.suppressed
        ? { suppressions: [{ kind: 'external', status: 'accepted', justification: f.suppressed.reason }] }
        : {}),
      ...(f.inBaseline
        ? { baselineState: 'unchanged' }
        : report.baseline.used
          ? { baselineState: 'new' }
          : {}),
      properties: { severity: f.severity, area: f.area, objects: f.objects },
    }));
  const notifications = report.findings
    .filter((f) => f.status === 'skip' || f.status === 'error')
    .map((f) => ({
      level: f.status === 'error' ? 'error' : 'note',
      message: {
        text: `${f.id} ${f.status === 'skip' ? 'skipped' : 'errored'}: ${f.detail}${f.enable ? ` Enable: ${f.enable}` : ''}`,
      },
      descriptor: { id: f.id, index: index.get(f.id) ?? -1 },
    }));
  for (const s of report.suppressions.expired) {
    notifications.push({
      level: 'warning',
      message: {
        text: `Expired suppression ${s.id}${s.object ? `:${s.object}` : ''} (expired ${s.expires}): ${s.reason}`,
      },
      descriptor: { id: s.id, index: index.get(s.id) ?? -1 },
    });
  }
  const sarif = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'pgwarden',
            version: report.tool.version,
            informationUri: 'https://www.npmjs.com/package/pgwarden',
            rules,
          },
        },
        automationDetails: { id: `pgwarden-audit/${t.host}:${t.port}/${t.database}/` },
        originalUriBaseIds: { PGDATA: { description: { text: 'The data directory of the audited server' } } },
        invocations: [
          {
            executionSuccessful: report.connection.ok,
            startTimeUtc: report.generatedAt,
            toolExecutionNotifications: [
              ...(report.connection.error
                ? [
                    {
                      level: 'error',
                      message: {
                        text: `Could not connect: [${report.connection.error.code}] ${report.connection.error.message}`,
                      },
                    },
                  ]
                : []),
              ...notifications,
            ],
          },
        ],
        results,
        properties: { summary: report.summary, target: report.target },
      },
    ],
  };
  return `${redact(JSON.stringify(sarif, null, 2))}\n`;
}
